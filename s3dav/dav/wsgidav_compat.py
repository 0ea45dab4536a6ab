"""Every WsgiDAV internal s3dav relies on (and two of ElementTree's), in one place.

wsgidav is pinned to its minor version in pyproject.toml, and
tests/unit/test_wsgidav_compat.py checks each name here against the installed
WsgiDAV: an upgrade that moves one fails that test by name, not as a wrong
answer somewhere later. What is used, and by whom:

- PROPFIND (dav/propfind.py) replaces `RequestServer.do_PROPFIND`; it reaches
  the server through the bound `default_handler` WsgiDAV hands
  `custom_request_handler`, and runs its `_evaluate_if_headers`.
- PUT (dav/files.py, PutBody): `do_PUT` hands the body's chunk generator to a
  file object's `writelines`; a body read some other way is marked read with
  the `wsgidav.some_input_read` / `wsgidav.all_input_read` environ keys.
- Status names (dav/faults.py): `ERROR_DESCRIPTIONS` lacks 503, 507 and 408.
- The log record of a failed PUT body (dav/faults.py, QuietMappedPutFailures).
- Ref URLs (dav/common.py): what `DAVResource.get_ref_url` gives a path, for a
  COPY/MOVE destination that has no resource yet.
- ElementTree's `_escape_cdata` / `_escape_attrib` (dav/multistatus.py), so that
  the 207 text is byte for byte what WsgiDAV's serialiser writes.
- Error answers (server/errorpages.py): `util.send_status_response` and
  `DAVError.get_response_page` are replaced.
- A streamed 207 (dav/propfind.py) has no Content-Length: `WsgiDAVApp` logs an
  error and a warning for it (and adds `Connection: close`); the two log
  records are dropped by their text (`StreamedAnswerFilter`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from xml.etree import ElementTree as ET

from wsgidav import util
from wsgidav.dav_error import (
    ERROR_DESCRIPTIONS,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_REQUEST_TIMEOUT,
    HTTP_SERVICE_UNAVAILABLE,
    DAVError,
)
from wsgidav.request_server import RequestServer

escape_cdata: Callable[[str], str] = ET._escape_cdata
escape_attrib: Callable[[str], str] = ET._escape_attrib

# What WsgiDAV logs (with the traceback) when a PUT body could not be written.
PUT_FAILED_LOGGER = "wsgidav.request_server"
PUT_FAILED_MESSAGE = "PUT: byte copy failed"

# What WsgiDAVApp logs for an answer without a Content-Length, and right after it.
APP_LOGGER = "wsgidav.wsgidav_app"
NO_LENGTH_207 = "Missing required Content-Length header in 207-response"
ADDING_CLOSE = "Adding 'Connection: close' header."


class StreamedAnswerFilter(logging.Filter):
    """Drops WsgiDAV's complaint about a 207 without a length (a streamed PROPFIND:
    sent chunked, as HTTP/1.1 allows) and the `Connection: close` note that follows
    it in the same thread."""

    def __init__(self) -> None:
        super().__init__()
        self._after = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if text.startswith(NO_LENGTH_207):
            self._after.flag = True
            return False
        if text == ADDING_CLOSE and getattr(self._after, "flag", False):
            self._after.flag = False
            return False
        self._after.flag = False
        return True


def quiet_streamed_answers() -> None:
    """Install StreamedAnswerFilter on WsgiDAVApp's logger (once)."""
    logger = logging.getLogger(APP_LOGGER)
    if not any(isinstance(f, StreamedAnswerFilter) for f in logger.filters):
        logger.addFilter(StreamedAnswerFilter())


STATUS_NAMES = {
    HTTP_SERVICE_UNAVAILABLE: "503 Service Unavailable",
    HTTP_INSUFFICIENT_STORAGE: "507 Insufficient Storage",
    HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
}


def name_statuses() -> None:
    """Give WsgiDAV's status table the statuses s3dav answers with that it lacks
    (it would say "503 Status"). Idempotent."""
    for status, text in STATUS_NAMES.items():
        ERROR_DESCRIPTIONS.setdefault(status, text)


def request_server(default_handler) -> RequestServer | None:
    """The RequestServer whose `do_<METHOD>` is `custom_request_handler`'s default."""
    server = getattr(default_handler, "__self__", None)
    return server if isinstance(server, RequestServer) else None


def evaluate_if_headers(server: RequestServer, res, environ: dict) -> None:
    """WsgiDAV's If / If-Match / If-None-Match / If-Modified-Since checks (raise DAVError)."""
    server._evaluate_if_headers(res, environ)


def mark_body_read(environ: dict) -> None:
    """Tell WsgiDAV the request body was read in full, as its own reader would:
    the connection may then be kept alive."""
    environ["wsgidav.some_input_read"] = 1
    environ["wsgidav.all_input_read"] = 1


def ref_url(share_path: str, path: str, *, collection: bool) -> str:
    """`DAVResource.get_ref_url` of a resource at `path`: quoted, share included,
    a trailing slash for a collection."""
    if path in ("", "/"):
        preferred = "/"
    elif collection and not path.endswith("/"):
        preferred = path + "/"
    else:
        preferred = path
    return util.quote(share_path + preferred)


def replace_error_rendering(
    send_status_response: Callable, get_response_page: Callable[[DAVError], tuple[str, bytes]]
) -> None:
    """Put s3dav's error answers in place of WsgiDAV's HTML pages (idempotent).

    Fails loudly at start when a WsgiDAV upgrade moved what is replaced here.
    """
    if not callable(getattr(util, "send_status_response", None)) or not hasattr(
        DAVError, "get_response_page"
    ):
        raise RuntimeError("wsgidav changed: util.send_status_response / get_response_page gone")
    util.send_status_response = send_status_response
    DAVError.get_response_page = get_response_page
