"""What the gateway does when S3 or the network fails (DESIGN.md section 4).

- `S3ErrorMapper`: a WsgiDAV middleware, just inside ErrorPrinter, that turns any
  S3 or network failure escaping a handler into the right DAVError (503 when S3
  is unavailable or unreachable) instead of WsgiDAV's generic 500;
- `abort_stale_uploads`: on start, abort multipart uploads under a share that
  are older than a configured age (left by a gateway that was killed mid-PUT).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from wsgidav.dav_error import (
    ERROR_DESCRIPTIONS,
    HTTP_BAD_REQUEST,
    HTTP_INTERNAL_ERROR,
    HTTP_SERVICE_UNAVAILABLE,
    DAVError,
)
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.provider import as_s3_error
from s3dav.upload import IncompleteBody

_log = logging.getLogger(__name__)

# WsgiDAV's table lacks it and would say "503 Status".
ERROR_DESCRIPTIONS.setdefault(HTTP_SERVICE_UNAVAILABLE, "503 Service Unavailable")


def is_s3_failure(exc: BaseException | None) -> bool:
    """Is this an error raised by botocore (an S3 answer or a network failure)?"""
    if exc is None:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


def s3_cause(exc: BaseException) -> BaseException | None:
    """The botocore error behind `exc`, following DAVError.src_exception and __cause__."""
    seen = 0
    while exc is not None and seen < 8:
        if is_s3_failure(exc):
            return exc
        nxt = getattr(exc, "src_exception", None)
        if not isinstance(nxt, BaseException):
            nxt = exc.__cause__ or exc.__context__
        exc, seen = nxt, seen + 1
    return None


def map_s3_error(exc: BaseException, doing: str) -> BaseException:
    """A DAVError for an S3 failure hidden in `exc`; `exc` itself otherwise."""
    if isinstance(exc, DAVError) and exc.value != HTTP_INTERNAL_ERROR:
        return exc
    short = getattr(exc, "src_exception", exc)
    if isinstance(short, IncompleteBody):
        return DAVError(HTTP_BAD_REQUEST, f"{doing}: {short}; nothing was stored")
    if isinstance(short, ValueError) and str(short).startswith("Bad chunked transfer"):
        # cheroot's word for a chunked body that was cut off or malformed
        return DAVError(HTTP_BAD_REQUEST, f"{doing}: bad chunked body; nothing was stored")
    cause = s3_cause(exc)
    if cause is None:
        return exc
    return as_s3_error(cause, doing)


class S3ErrorMapper(BaseMiddleware):
    """WsgiDAV middleware: S3 failures become 503/412/403, not a 500 with a traceback."""

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        # ErrorPrinter (outside) records start_response and sends nothing until
        # the first chunk: until then an error can still become a clean answer.
        started = False
        try:
            app_iter = self.next_app(environ, start_response)
            try:
                for chunk in app_iter:
                    started = True
                    yield chunk
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
        except Exception as exc:
            if started:
                raise
            doing = f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"
            mapped = map_s3_error(exc, doing)
            if mapped is exc:
                raise
            _log.warning("%s failed: %s (%s)", doing, mapped, type(s3_cause(exc)).__name__)
            raise mapped from None


def abort_stale_uploads(client, bucket: str, prefix: str, older_than: float) -> int:
    """Abort multipart uploads under `prefix` started more than `older_than` seconds ago.

    A gateway killed mid-PUT leaves its multipart upload open (invisible, but
    billed); the next start cleans up. Returns how many were aborted. Failures
    are logged, never raised: cleaning up must not stop the gateway starting.
    """
    aborted = 0
    limit = time.time() - older_than
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    try:
        while True:
            page = client.list_multipart_uploads(**kwargs)
            for up in page.get("Uploads", []) or []:
                initiated = up.get("Initiated")
                at = initiated.timestamp() if isinstance(initiated, datetime) else 0.0
                if at > limit:
                    continue
                try:
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
                    aborted += 1
                except Exception as exc:  # noqa: BLE001 - next start tries again
                    _log.warning("could not abort stale upload of %s: %s", up["Key"], exc)
            if not page.get("IsTruncated"):
                break
            kwargs["KeyMarker"] = page.get("NextKeyMarker", "")
            kwargs["UploadIdMarker"] = page.get("NextUploadIdMarker", "")
    except Exception as exc:  # noqa: BLE001
        _log.warning("could not list multipart uploads in s3://%s/%s: %s", bucket, prefix, exc)
    if aborted:
        _log.info("aborted %d stale multipart upload(s) in s3://%s/%s", aborted, bucket, prefix)
    return aborted
