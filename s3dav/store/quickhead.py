"""HeadObject for the bulk metadata HEADs of a cold listing, at a quarter of the CPU.

A folder of 2000 objects no s3dav has seen costs 2000 HEADs (docs/SEMANTICS.md, *Emulated,
and at what cost*). Through boto3 each HEAD costs about 4 ms of CPU here (event hooks, endpoint
rules, parsing, retry machinery), which made the cold PROPFIND CPU-bound on
the gateway. This path costs about 1.8 ms through botocore's HTTP session and
about 1.0 ms over plain HTTP (below), and still leaves to botocore everything
that must be right:

- the object URL comes from a presigned URL, so endpoint, addressing style
  and bucket naming rules are botocore's;
- the request is signed by botocore's SigV4 signer with the session's
  credentials (refreshed when they expire);
- over HTTPS or through a proxy it goes out on the client's own HTTP session
  (pool, TLS settings, proxies, timeouts). A plain-HTTP endpoint without a
  proxy (a LAN MinIO, moto) gets keep-alive `http.client` connections, one
  per thread: botocore's session and urllib3 were two thirds of a HEAD's CPU.

It never decides an error: any answer but 200 or 404, or any exception,
returns `FALLBACK`, and the caller asks boto3's head_object, which owns retries,
redirects and error mapping.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest

from s3dav.store.s3client import RequestCounter

_log = logging.getLogger(__name__)

FALLBACK: Final = object()  # "ask boto3": not an answer this path decides
META_PREFIX = "x-amz-meta-"
PROBE_KEY = "s3dav-probe"
GIVE_UP_AFTER = 20  # fallbacks in a row: this endpoint wants what only boto3 does ...
PAUSE = 300.0  # ... for this many seconds; then the quick path is tried again


def head_response(headers) -> dict:
    """A HeadObject answer shaped like boto3's from raw response headers."""
    metadata = {
        name[len(META_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(META_PREFIX)
    }
    return {
        "ETag": headers.get("ETag", ""),
        "ContentLength": int(headers.get("Content-Length") or 0),
        "LastModified": parsedate_to_datetime(headers["Last-Modified"]),
        "ContentType": headers.get("Content-Type"),
        "Metadata": metadata,
        "StorageClass": headers.get("x-amz-storage-class"),
        "Restore": headers.get("x-amz-restore"),
    }


class PlainHTTP:
    """Keep-alive HEADs to one plain-HTTP endpoint, one connection per thread."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._local = threading.local()

    def head(self, path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage]:
        """Status and headers; a kept-alive connection the server closed is retried once."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                return self._send(conn, path, headers)
            except (http.client.RemoteDisconnected, ConnectionError):
                pass  # closed while idle: one new connection below
        conn = self._local.conn = http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout
        )
        return self._send(conn, path, headers)

    def _send(self, conn, path: str, headers: dict[str, str]):
        try:
            conn.request("HEAD", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except BaseException:
            conn.close()
            self._local.conn = None
            raise
        if resp.will_close:
            conn.close()
            self._local.conn = None
        return resp.status, resp.headers


def plain_http_for(client, url: str) -> PlainHTTP | None:
    """A PlainHTTP for `url` when it is plain HTTP and no proxy is configured for it."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    proxies = getattr(client._endpoint.http_session, "_proxy_config", None)
    if proxies is None or proxies.proxy_url_for(url):
        return None
    return PlainHTTP(parts.hostname, parts.port or 80, client.meta.config.read_timeout)


class QuickHead:
    """Unretried, counted HEADs of one bucket's objects."""

    def __init__(self, client, bucket: str, counter: RequestCounter) -> None:
        url = client.generate_presigned_url(
            "head_object", Params={"Bucket": bucket, "Key": PROBE_KEY}, ExpiresIn=60
        )
        base = url.split("?", 1)[0]
        if not base.endswith("/" + PROBE_KEY):
            raise ValueError(f"unexpected object URL shape for bucket {bucket}: {base}")
        self.base = base[: -len(PROBE_KEY)]
        self.credentials = client._request_signer._credentials
        if self.credentials is None:
            raise ValueError("anonymous client: nothing to sign with")
        self.region = client.meta.region_name
        self.http = client._endpoint.http_session
        self.plain = plain_http_for(client, self.base)
        self.host = urlsplit(self.base).netloc  # signed as sent
        self.counter = counter
        self.fallbacks_in_a_row = 0
        self.paused_until = 0.0

    def __call__(self, key: str):
        """boto3-shaped HeadObject answer, None if the key is missing, or FALLBACK.

        After GIVE_UP_AFTER fallbacks in a row (a region redirect, a policy that
        wants headers only boto3 sends, an outage) it pauses for PAUSE seconds, so
        each HEAD is not paid twice meanwhile.
        """
        if time.monotonic() < self.paused_until:
            return FALLBACK
        answer = self._head(key)
        if answer is FALLBACK:
            self.fallbacks_in_a_row += 1
            if self.fallbacks_in_a_row >= GIVE_UP_AFTER:
                self.fallbacks_in_a_row = 0
                self.paused_until = time.monotonic() + PAUSE
                _log.warning(
                    "bulk HEADs go through boto3 for %.0f s: %d quick HEADs in a row were "
                    "not answered 200/404 by %s",
                    PAUSE,
                    GIVE_UP_AFTER,
                    self.base,
                )
        else:
            self.fallbacks_in_a_row = 0
        return answer

    def _head(self, key: str):
        url = self.base + quote(key, safe="/~")
        request = AWSRequest(method="HEAD", url=url, headers={"Host": self.host})
        started = time.monotonic()
        try:
            S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(
                request
            )
            self.counter.record("HeadObject")
            if self.plain is not None:
                status, headers = self.plain.head(urlsplit(url).path, dict(request.headers.items()))
            else:
                response = self.http.send(request.prepare())
                response.content  # noqa: B018 - read to the end: the connection goes back to the pool
                status, headers = response.status_code, response.headers
        except Exception as exc:  # noqa: BLE001 - boto3's own path decides what it means
            _log.debug("quick HEAD of %s failed, asking boto3: %s", key, exc)
            return FALLBACK
        self.counter.record_duration("HeadObject", time.monotonic() - started)
        if status == 404:
            return None
        if status != 200:
            return FALLBACK
        try:
            return head_response(headers)
        except (KeyError, ValueError, TypeError):
            return FALLBACK


def make_quick_head(client, bucket: str, counter: RequestCounter) -> QuickHead | None:
    """A QuickHead, or None when this botocore lacks what it relies on."""
    try:
        return QuickHead(client, bucket, counter)
    except (AttributeError, ValueError) as exc:
        _log.info("bulk HEADs go through boto3: %s", exc)
        return None
