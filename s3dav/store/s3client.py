"""Building the boto3 S3 client, and counting every request it sends.

The count is our main cost figure (docs/SEMANTICS.md, *Caching*): each HTTP request that
leaves for S3, retries included, is counted by kind.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import boto3
import botocore.session
from botocore import handlers, utils
from botocore.config import Config

# Operation name -> the kind we report.
OPERATION_KINDS = {
    "ListObjectsV2": "LIST",
    "ListObjectVersions": "LIST",
    "ListObjects": "LIST",
    "ListMultipartUploads": "LIST",
    "ListParts": "LIST",
    "HeadObject": "HEAD",
    "HeadBucket": "HEAD",
    "GetObject": "GET",
    "PutObject": "PUT",
    "CopyObject": "COPY",
    "UploadPartCopy": "COPY",
    "DeleteObject": "DELETE",
    "DeleteObjects": "DELETE",
    "CreateMultipartUpload": "MULTIPART",
    "UploadPart": "PART",
    "CompleteMultipartUpload": "MULTIPART",
    "AbortMultipartUpload": "MULTIPART",
}


class RequestCounter:
    """Thread-safe counts of S3 requests by kind and by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.listeners: list = []
        self.duration_listeners: list = []  # (kind, seconds) per S3 operation

    def record(self, operation: str) -> None:
        kind = OPERATION_KINDS.get(operation, "OTHER")
        with self._lock:
            self.by_kind[kind] += 1
            self.by_operation[operation] += 1
        for listener in self.listeners:
            listener(kind, operation)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "by_kind": dict(self.by_kind),
                "by_operation": dict(self.by_operation),
                "total": sum(self.by_kind.values()),
            }

    def _on_before_call(self, context=None, **_kw) -> None:
        if context is not None:
            context["s3dav_started"] = time.monotonic()

    def _on_after_call(self, event_name: str = "", context=None, **_kw) -> None:
        """Time of one S3 operation, retries included, for the duration histogram."""
        started = (context or {}).get("s3dav_started")
        if started is not None:
            self.record_duration(event_name.rsplit(".", 1)[-1], time.monotonic() - started)

    def record_duration(self, operation: str, seconds: float) -> None:
        kind = OPERATION_KINDS.get(operation, "OTHER")
        for listener in self.duration_listeners:
            listener(kind, seconds)

    def _on_before_send(self, event_name: str = "", **_kw) -> None:
        # event_name is "before-send.s3.PutObject"
        self.record(event_name.rsplit(".", 1)[-1])


class UnsignedChecksummedParts:
    """`before-sign` hook: an UploadPart that carries a CRC32 is not also SHA-256 signed.

    Over plain HTTP botocore hashes every body with SHA-256 for the signature,
    which costs a quarter of a large upload's CPU. A part with
    x-amz-checksum-crc32 is already checked by S3 against that checksum, so it is
    sent as UNSIGNED-PAYLOAD, as botocore itself does over HTTPS. Other
    requests keep their signed payload.
    """

    def __init__(self, config: Config) -> None:
        s3 = dict(config.s3 or {})
        self._unsigned = config.merge(Config(s3={**s3, "payload_signing_enabled": False}))

    def __call__(self, request=None, **_kw) -> None:
        if request is not None and "x-amz-checksum-crc32" in request.headers:
            request.context["client_config"] = self._unsigned


# Bodies below this go without `Expect: 100-continue` (as the AWS SDK for Go does).
EXPECT_CONTINUE_MIN = 2 * 1024 * 1024


def expect_continue_for_large_bodies(model=None, params=None, **_kw) -> None:
    """`before-call` hook in place of botocore's, which asks every PUT body to wait for
    "100 Continue": one more round trip to S3 before the body leaves. For a small
    file that doubles the PUT's latency (150 ms more from Sydney to Singapore) to
    save sending a few kilobytes that S3 might refuse. Above EXPECT_CONTINUE_MIN
    the wait still pays: megabytes that S3 refuses are not sent for nothing."""
    if model is None or params is None or model.http.get("method") not in ("PUT", "POST"):
        return
    body = params.get("body")
    if body is None or not hasattr(body, "read"):
        return
    size = utils.determine_content_length(body)
    if size is None or size >= EXPECT_CONTINUE_MIN:
        params["headers"]["Expect"] = "100-continue"


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None
    region: str = "us-east-1"
    addressing_style: str = "auto"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5


def fast_timestamp(value):
    """S3's ISO 8601 times (one per LIST entry) read by the standard library.

    botocore's own parser (dateutil) was three quarters of a LIST page's CPU:
    64 ms of 1000 entries on the benchmark machine, 20 ms this way. Anything
    else (HTTP dates, epoch numbers, times without a zone) goes to botocore's.
    """
    if isinstance(value, str) and value[:1].isdigit() and "T" in value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    return utils.parse_timestamp(value)


def make_client(settings: S3Settings, counter: RequestCounter, *, pool_size: int = 64):
    """An S3 client whose every request is counted.

    An endpoint on an IP address or a custom host works without flags: path-style
    addressing is what `auto` picks for such endpoints.
    """
    config = Config(
        region_name=settings.region,
        s3={"addressing_style": settings.addressing_style},
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=pool_size,
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    core = botocore.session.Session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=fast_timestamp
    )
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id or None,
        aws_secret_access_key=settings.secret_access_key or None,
        region_name=settings.region,
        botocore_session=core,
    )
    client = session.client("s3", endpoint_url=settings.endpoint_url or None, config=config)
    client.meta.events.register("before-sign.s3.UploadPart", UnsignedChecksummedParts(config))
    client.meta.events.unregister("before-call.s3", handlers.add_expect_header)
    client.meta.events.register("before-call.s3", expect_continue_for_large_bodies)
    client.meta.events.register("before-send.s3", counter._on_before_send)
    client.meta.events.register("before-call.s3", counter._on_before_call)
    client.meta.events.register("after-call.s3", counter._on_after_call)
    client.meta.events.register("after-call-error.s3", counter._on_after_call)
    return client
