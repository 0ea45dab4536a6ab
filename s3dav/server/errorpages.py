"""Error answers: one line of text naming the WebDAV path and the reason (issues 18, 19).

WsgiDAV answers every error (and even `201 Created`) with an HTML page that
carries its version and, for a 500, the repr of the exception behind it.
rclone prints that whole page in every error line, and the page names S3 keys
and software versions to anyone. Here every such answer becomes one line:

    404 Not Found: GET /ann/nope.txt
    403 Forbidden: PUT /pub/x.txt: this share is read-only

An error with an RFC 4918 pre/postcondition keeps its `DAV:error` XML body.

This module is the one place that reaches into WsgiDAV for it (`install()`):
`ErrorPrinter` is replaced by `PlainErrorPrinter`; `util.send_status_response`
and `DAVError.get_response_page` are replaced by functions that render the
line; the 401 of `HTTPAuthenticator` names the realm `s3dav` in one line.
"""

from __future__ import annotations

import errno
import logging
import re
import traceback

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_CREATED,
    HTTP_FORBIDDEN,
    HTTP_INTERNAL_ERROR,
    HTTP_NO_CONTENT,
    HTTP_NOT_MODIFIED,
    HTTP_OK,
    DAVError,
    as_DAVError,
    get_http_status_string,
)
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.wsgidav_compat import replace_error_rendering
from s3dav.server.auth import LOGIN_REFUSED, ThrottledAuthenticator

_log = logging.getLogger(__name__)

REALM = "s3dav"  # the one protection space: a login holds for every share
MAX_DETAIL = 300
TEXT = "text/plain; charset=utf-8"
INTERNAL = "the gateway failed; see its log"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Control characters (newlines above all) become one space; long text is cut."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def webdav_path(environ: dict | None) -> str:
    """The path the client asked for, share included (`/ann/a.txt`)."""
    if not environ:
        return ""
    return one_line(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


def scrub_keys(text: str, environ: dict | None) -> str:
    """`text` with the share's S3 prefix (and bucket) replaced by the share's path.

    A reason built from a key (`users/ann/x: AccessDenied`) then names `/ann/x`.
    """
    provider = (environ or {}).get("wsgidav.provider")
    tree = getattr(provider, "tree", None)
    prefix = getattr(tree, "prefix", "") or ""
    bucket = getattr(tree, "bucket", "") or ""
    share = (getattr(provider, "share_path", "") or "").rstrip("/") + "/"
    if bucket:
        text = text.replace(f"s3://{bucket}/{prefix}", share)
    if prefix:
        # only where a key starts (`users/ann/` must not match inside `bigusers/ann/`)
        text = re.sub(r"(?<![\w./-])" + re.escape(prefix), share, text)
    return text


def request_line(environ: dict | None) -> str:
    """`GET /ann/a.txt`: the method and the WebDAV path, as s3dav's reasons name them."""
    if not environ:
        return ""
    method = one_line(environ.get("REQUEST_METHOD", ""))
    return f"{method} {webdav_path(environ)}".strip()


def repeats(environ: dict | None) -> list[str]:
    """The ways a reason may already name this request (dropped from it, not shown twice)."""
    if not environ:
        return []
    method = environ.get("REQUEST_METHOD", "")
    paths = {webdav_path(environ), one_line(environ.get("PATH_INFO", "")) or "/"}
    return sorted({f"{method} {p}" for p in paths} | paths, key=len, reverse=True)


def error_detail(e: DAVError, environ: dict | None) -> str:
    """The reason to show: the error's own words, without what only repeats the request."""
    info = e.context_info
    if info is None or str(info).strip() == "":
        return INTERNAL if e.value == HTTP_INTERNAL_ERROR else ""
    text = one_line(scrub_keys(str(info), environ))
    for seen in repeats(environ):
        if text.rstrip("/") == seen.rstrip("/"):
            return ""
        if text.startswith(seen + ": "):
            return text[len(seen) + 2 :]
    return text


def error_line(e: DAVError | int, environ: dict | None) -> str:
    """`<status>: <METHOD> <WebDAV path>[: <reason>]` and a newline.

    Never an S3 key, a software version or an exception's text.
    """
    e = as_DAVError(e) if isinstance(e, DAVError | Exception) else DAVError(e)
    parts = [get_http_status_string(e)]
    where = request_line(environ)
    if where:
        parts.append(where)
    detail = error_detail(e, environ)
    if detail:
        parts.append(detail)
    return ": ".join(parts) + "\n"


def response_page(e: DAVError, environ: dict | None) -> tuple[str, bytes]:
    """(Content-Type, body): the DAV:error XML of a condition, else the one line."""
    if e.err_condition:
        return "application/xml; charset=utf-8", e.err_condition.as_string().encode()
    return TEXT, error_line(e, environ).encode()


def send_status_response(environ, start_response, e, *, add_headers=None, is_head=False):
    """util.send_status_response, with the one-line body (WsgiDAV's own is an HTML page)."""
    status = get_http_status_string(e)
    headers = list(add_headers or [])
    if isinstance(e, DAVError) and e.add_headers:
        headers.extend(e.add_headers)
    if e in (HTTP_NOT_MODIFIED, HTTP_NO_CONTENT):
        start_response(
            status, [("Content-Length", "0"), ("Date", util.get_rfc1123_time())] + headers
        )
        return [b""]
    if e in (HTTP_OK, HTTP_CREATED) or not isinstance(e, DAVError):
        e = DAVError(e)
    content_type, body = response_page(e, environ)
    if is_head:
        body = b""
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Date", util.get_rfc1123_time()),
            ("Content-Length", str(len(body))),
        ]
        + headers,
    )
    return [body]


def _page_without_request(self: DAVError) -> tuple[str, bytes]:
    """DAVError.get_response_page for callers that have no request at hand."""
    return response_page(self, None)


class PlainErrorPrinter(BaseMiddleware):
    """WsgiDAV's ErrorPrinter, answering with `response_page` (same place in the stack).

    As ErrorPrinter it holds back start_response until the first chunk, so an
    error raised before any byte was sent still becomes a clean answer; one
    raised later is passed on (the connection can only be dropped then).
    """

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        sub = util.SubAppStartResponse()
        started = False
        try:
            try:
                app_iter = self.next_app(environ, sub)
                try:
                    for chunk in app_iter:
                        if not started:
                            start_response(sub.status, sub.response_headers, sub.exc_info)
                            started = True
                        yield chunk
                finally:
                    if hasattr(app_iter, "close"):
                        app_iter.close()
                if not started:
                    start_response(sub.status, sub.response_headers, sub.exc_info)
                return
            except DAVError:
                raise
            except OSError as exc:
                if started:
                    raise
                if exc.errno == errno.EACCES:
                    raise DAVError(HTTP_FORBIDDEN, "permission denied") from None
                _log.error("%s", traceback.format_exc(10))
                raise as_DAVError(exc) from None
            except Exception as exc:
                if started:
                    raise
                _log.error("%s", traceback.format_exc(10))
                raise as_DAVError(exc) from None
        except DAVError as e:
            if started:
                raise
            status = get_http_status_string(e)
            if e.value == HTTP_INTERNAL_ERROR:
                _log.error("%s %s: %r", environ.get("REQUEST_METHOD"), webdav_path(environ), e)
            elif e.value in (HTTP_NOT_MODIFIED, HTTP_NO_CONTENT):
                start_response(status, [("Content-Length", "0"), ("Date", util.get_rfc1123_time())])
                yield b""
                return
            content_type, body = response_page(e, environ)
            start_response(
                status,
                [
                    ("Content-Type", content_type),
                    ("Content-Length", str(len(body))),
                    ("Date", util.get_rfc1123_time()),
                ]
                + (e.add_headers or []),
            )
            yield body if e.add_body else b""


class RealmAuthenticator(ThrottledAuthenticator):
    """The authenticator whose 401 names the realm `s3dav` (never "None") in one line.

    Internally a share's realm stays its path (who may use it); to a browser
    there is one protection space, so one login works for every share. A login
    the throttle refused stays a 429 (ThrottledAuthenticator).
    """

    def send_basic_auth_response(self, environ, start_response):
        if environ.get(LOGIN_REFUSED) is not None:
            return super().send_basic_auth_response(environ, start_response)
        body = f"401 Unauthorized: {request_line(environ)}: log in (realm {REALM})\n".encode()
        start_response(
            "401 Unauthorized",
            [
                ("WWW-Authenticate", f'Basic realm="{REALM}"'),
                ("Content-Type", TEXT),
                ("Content-Length", str(len(body))),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [body]


def install() -> None:
    """Replace WsgiDAV's HTML error pages with the one-line answers (idempotent).

    Fails loudly at start when a WsgiDAV upgrade moved what is replaced here.
    """
    replace_error_rendering(send_status_response, _page_without_request)
