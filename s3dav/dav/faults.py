"""What the gateway does when S3 or the network fails (docs/SEMANTICS.md, *Under faults*).

- `S3ErrorMapper`: a WsgiDAV middleware, just inside ErrorPrinter, that turns any
  S3 or network failure escaping a handler into the right DAVError (503 when S3
  is unavailable or unreachable) instead of WsgiDAV's generic 500.

Stale multipart uploads (a gateway killed mid-PUT) are aborted by staleuploads.py.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_INTERNAL_ERROR,
    HTTP_REQUEST_TIMEOUT,
    DAVError,
)
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.wsgidav_compat import PUT_FAILED_LOGGER, PUT_FAILED_MESSAGE, name_statuses
from s3dav.errors import WriteBackTimeout, classify
from s3dav.transfer.uploads import IncompleteBody

_log = logging.getLogger(__name__)

name_statuses()  # the 503, 507 and 408 answered here get their names in the status line

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def as_s3_error(exc: Exception, doing: str) -> DAVError:
    """Turn an S3/network failure into a clear DAVError (never a bare 500 traceback).

    The status and words come from the one table in s3dav/errors.py.
    """
    if isinstance(exc, DAVError):
        return exc
    failure = classify(exc)
    return DAVError(failure.status, f"{doing}: {failure.reason}")


def is_s3_failure(exc: BaseException | None) -> bool:
    """Is this a failure of S3 or of the way to it (a botocore error, or journalled
    uploads that did not reach S3 in time)?"""
    if exc is None:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError | WriteBackTimeout)


def is_disk_full(exc: BaseException | None) -> bool:
    """Is this the gateway's own disk refusing a write (full, or over quota)?"""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def s3_cause(exc: BaseException) -> BaseException | None:
    """The botocore error behind `exc`, following DAVError.src_exception and __cause__."""
    return find_cause(exc, is_s3_failure)


def find_cause(exc: BaseException, wanted: Callable[[BaseException], bool]) -> BaseException | None:
    """The first error in `exc`'s chain (DAVError.src_exception, __cause__) that is `wanted`."""
    seen = 0
    while exc is not None and seen < 8:
        if wanted(exc):
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
    if cause is None and isinstance(short, TimeoutError):
        # the client's socket: S3 timeouts are botocore errors (server.body_timeout)
        return DAVError(
            HTTP_REQUEST_TIMEOUT, f"{doing}: the body stopped arriving; nothing was stored"
        )
    if cause is None:
        if find_cause(exc, is_disk_full) is not None:
            # A write-back PUT journals its body on the gateway's disk before answering.
            reason = f"{doing}: the gateway's disk is full; nothing was stored"
            return DAVError(HTTP_INSUFFICIENT_STORAGE, reason)
        return exc
    return as_s3_error(cause, doing)


class QuietMappedPutFailures(logging.Filter):
    """For WsgiDAV's logger: drop its traceback for a PUT that failed in a way s3dav
    answers cleanly (client gone 400, S3 failing 503, disk full 507), which
    S3ErrorMapper logs as one warning line. Anything else keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.msg != PUT_FAILED_MESSAGE:
            return True
        exc = record.exc_info[1]
        return exc is None or map_s3_error(exc, "PUT") is exc


def quiet_mapped_put_failures() -> None:
    """Install QuietMappedPutFailures on WsgiDAV's request logger (once)."""
    logger = logging.getLogger(PUT_FAILED_LOGGER)
    if not any(isinstance(f, QuietMappedPutFailures) for f in logger.filters):
        logger.addFilter(QuietMappedPutFailures())


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
            cause = s3_cause(exc) or find_cause(exc, is_disk_full) or exc
            _log.warning("%s failed: %s (%s)", doing, mapped, type(cause).__name__)
            raise mapped from None
