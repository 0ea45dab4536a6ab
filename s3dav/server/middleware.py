"""The outermost WSGI layer, wrapped around WsgiDAVApp: what WsgiDAV does not do.

It sits outside WsgiDAV because WsgiDAV re-decodes the path before any of its
own middleware runs, and must not see an unsafe or undecodable one.

- refuses unsafe raw paths and Destination headers with 400;
- refuses unreadable Basic credentials with 400, and logins from a blocked address with 429;
- reads and checks PROPFIND/PROPPATCH/LOCK bodies (xmlguard.py): too big 413, DTDs/entities 400;

- answers /healthz, /readyz and /metrics itself;
- answers 201 rather than 204 when a natively handled COPY/MOVE created the target;
- adds `X-OC-Mtime: accepted` when a client-sent modification time was stored;
- adds `OC-Checksum: MD5:...` to GET/HEAD of a file whose MD5 is known;
- adds `Retry-After` to every 503 (S3 unavailable), so clients back off and retry;
- counts requests and writes one access-log line per request.
"""

from __future__ import annotations

import logging
import threading
import time

from s3dav.dav.conventions import checksum_header
from s3dav.dav.provider import RESERVED_PATHS
from s3dav.dav.request import CREATED, MTIME_ACCEPTED
from s3dav.server.auth import basic_credentials_problem
from s3dav.server.clientaddr import (
    CLIENT_ADDR,
    Network,
    client_address,
    local_caller,
    request_client,
)
from s3dav.server.errorpages import one_line
from s3dav.server.logs import log_path
from s3dav.server.metrics import Metrics, method_label, status_label
from s3dav.server.pathguard import (
    UnsafePath,
    canonical_destination,
    check_destination,
    check_raw_path,
    destination_refusal,
)
from s3dav.server.throttle import LoginThrottle
from s3dav.server.xmlguard import XmlRefused, guard_xml_body

_access = logging.getLogger("s3dav.access")
_log = logging.getLogger(__name__)

READY_CACHE_SECONDS = 5.0
RETRY_AFTER_SECONDS = 5  # what a 503 (S3 unavailable, shutting down) tells clients


def _direct(body):
    """(rfile, raw socket) of a known-length cheroot body, or None for any other."""
    rfile = getattr(body, "rfile", None)
    raw = getattr(rfile, "raw", None)
    if not isinstance(getattr(body, "remaining", None), int) or raw is None:
        return None
    if not hasattr(rfile, "has_data") or not hasattr(rfile, "read1"):
        return None
    return rfile, raw


def direct_readinto(body, view: memoryview) -> int | None:
    """Read the next bytes of a known-length cheroot body into `view`.

    The bytes read (0 at the end of the body or with an empty `view`), or
    None for a body that cannot be read so (chunked, another server).

    cheroot's reader is the pure-Python `_pyio.BufferedReader`: a 256 KiB read
    costs three copies, and a read bigger than what has arrived allocates a
    buffer of the full size for every piece it gets (an 8 MiB part: hundreds
    of fresh 8 MiB allocations). Here the bytes cheroot buffered with the
    headers are taken alone (`read1`), and everything after comes from the
    socket with `readinto`: one copy, no allocation. A large upload reads into
    its part buffers this way.
    """
    direct = _direct(body)
    if direct is None:
        return None
    rfile, raw = direct
    want = min(len(view), body.remaining)
    if not want:
        return 0
    if rfile.has_data():
        data = rfile.read1(want)  # only what is buffered: no read from the socket
        n = len(data)
        view[:n] = data
    else:
        n = raw.readinto(view[:want]) or 0
    body.remaining -= n
    rfile.bytes_read = getattr(rfile, "bytes_read", 0) + n
    return n


def direct_read(body, size: int | None = None) -> bytearray | None:
    """`size` bytes (all that remain when None) of a known-length cheroot body,
    fewer only at its end, read with `direct_readinto`; None for another body."""
    if _direct(body) is None:
        return None
    size = body.remaining if size is None or size < 0 else min(size, body.remaining)
    buf = bytearray(size)
    got = 0
    with memoryview(buf) as view:
        while got < size:
            with view[got:] as rest:
                n = direct_readinto(body, rest)
            if not n:
                break
            got += n
    del buf[got:]
    return buf


def _decoded_path(path_info: str) -> str:
    """PATH_INFO as text: WSGI hands it over as latin-1 decoded UTF-8 bytes."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path_info


class CountingInput:
    """wsgi.input that counts the bytes a handler reads (chunked bodies have no length)."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.count = 0

    def read(self, *args):
        data = direct_read(self._raw, *args)
        if data is None:
            data = self._raw.read(*args)
        self.count += len(data)
        return data

    def readinto_direct(self, view: memoryview) -> int | None:
        """`direct_readinto` on this body: bytes read, or None when it cannot."""
        n = direct_readinto(self._raw, view)
        if n:
            self.count += n
        return n

    def readline(self, *args):
        data = self._raw.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args):
        lines = self._raw.readlines(*args)
        self.count += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self._raw:
            self.count += len(line)
            yield line

    def __getattr__(self, name):  # cheroot's length / _consumed, used by WsgiDAV
        return getattr(self._raw, name)


class GatewayApp:
    def __init__(
        self,
        next_app,
        *,
        metrics: Metrics,
        metrics_enabled: bool,
        ready_probe,
        throttle: LoginThrottle | None = None,
        max_xml_body: int = 1024**2,
        share_paths: list[str] | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.share_paths = share_paths or ["/"]
        self.trusted_proxies = trusted_proxies
        self.throttle = throttle
        self.max_xml_body = max_xml_body
        self.next_app = next_app
        self.metrics = metrics
        self.metrics_enabled = metrics_enabled
        self.ready_probe = ready_probe  # () -> (bool, reason)
        self._ready = (0.0, False, "not checked")
        self._ready_lock = threading.Lock()

    def __call__(self, environ, start_response):
        started = time.monotonic()
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path in RESERVED_PATHS:
            yield from self._own_endpoint(path, method, environ, start_response)
            return
        # As the client asked: WsgiDAV moves a share's path into SCRIPT_NAME later.
        asked = environ.get("SCRIPT_NAME", "") + path
        state = {"status": "", "bytes": 0}
        environ[CLIENT_ADDR] = client_address(
            environ.get("REMOTE_ADDR", "-"),
            environ.get("HTTP_X_FORWARDED_FOR"),
            self.trusted_proxies,
        )
        refusal = self._refuse_unsafe(environ)
        body_in = None
        if method == "PUT" and "wsgi.input" in environ:
            body_in = environ["wsgi.input"] = CountingInput(environ["wsgi.input"])
            self.metrics.uploads_pending.inc()
        refused_status = "400 Bad Request"
        extra_headers: list[tuple[str, str]] = []
        if refusal is None:
            refused_status, refusal, extra_headers = self._refuse_hostile(environ)

        def wrapped_start(status, headers, exc_info=None):
            if method in ("COPY", "MOVE") and environ.get(CREATED) and status.startswith("204"):
                status = "201 Created"
            if environ.get(MTIME_ACCEPTED):
                headers = [*headers, ("X-OC-Mtime", "accepted")]
            if method in ("GET", "HEAD") and status[:3] in ("200", "206"):
                checksum = checksum_header(environ)
                if checksum:
                    headers = [*headers, ("OC-Checksum", checksum)]
            if status.startswith("503") and not any(k.lower() == "retry-after" for k, _ in headers):
                headers = [*headers, ("Retry-After", str(RETRY_AFTER_SECONDS))]
            state["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            if refusal is not None:
                raw = (environ.get("REQUEST_URI") or asked).split("?", 1)[0]  # as it was sent
                body = f"{refused_status}: {method} {one_line(raw) or '/'}: {refusal}\n".encode()
                wrapped_start(
                    refused_status,
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                        ("X-Content-Type-Options", "nosniff"),
                        *extra_headers,
                    ],
                )
                state["bytes"] = len(body)
                yield body
                return
            try:
                for chunk in self.next_app(environ, wrapped_start):
                    state["bytes"] += len(chunk)
                    yield chunk
            except Exception:
                # Last line of defence: a short 500, the traceback only in our log.
                _log.exception("unhandled error in %s %s", method, log_path(path))
                if state["status"]:
                    raise  # headers are out: all we can do is drop the connection
                body = b"500 Internal Server Error: the gateway failed; see its log\n"
                wrapped_start(
                    "500 Internal Server Error",
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                        ("X-Content-Type-Options", "nosniff"),
                    ],
                )
                state["bytes"] = len(body)
                yield body
        finally:
            elapsed = time.monotonic() - started
            m = self.metrics
            label = method_label(method)
            status = status_label(state["status"] or "000")
            m.http_requests.labels(method=label, status=status).inc()
            m.http_duration.labels(method=label).observe(elapsed)
            m.bytes_down.inc(state["bytes"])
            if body_in is not None:
                m.bytes_up.inc(body_in.count)
                m.uploads_pending.dec()
            fields = {
                "method": method,
                "path": log_path(asked),
                "status": state["status"] or "-",
                "bytes": state["bytes"],
                "bytes_in": body_in.count if body_in is not None else 0,
                "duration_ms": round(elapsed * 1000, 1),
                "user": environ.get("wsgidav.auth.user_name") or "-",
                "client": environ[CLIENT_ADDR],
            }
            _access.info(
                "%(method)s %(path)s %(status)s %(bytes)d %(duration_ms).1fms user=%(user)s"
                " client=%(client)s",
                fields,
                extra={"access": fields},
            )

    @staticmethod
    def _refuse_unsafe(environ) -> str | None:
        """The reason to refuse the request's raw path or Destination, if any."""
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
        raw = raw.split("?", 1)[0].split("#", 1)[0]
        if not raw.startswith("/") and "://" in raw:
            # absolute-form target (http://host/path); a "://" inside a path is checked as is
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        try:
            check_raw_path(raw or "/")
            if environ.get("REQUEST_METHOD") in ("COPY", "MOVE") and environ.get(
                "HTTP_DESTINATION"
            ):
                check_destination(environ["HTTP_DESTINATION"])
        except UnsafePath as exc:
            return str(exc)
        return None

    def _refuse_hostile(self, environ) -> tuple[str, str | None, list[tuple[str, str]]]:
        """(status, reason, headers) for a blocked login, bad credentials or a bad XML body."""
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and (environ.get("CONTENT_LENGTH") or "0").strip() != "0":
            # WsgiDAV means to answer 415 here but fails with a 500 (wsgidav 4.4 dir browser).
            return "415 Unsupported Media Type", f"{method} takes no request body", []
        if method in ("DELETE", "MOVE"):
            here = "/" + environ.get("PATH_INFO", "/").strip("/")
            if here.lower() in {p.lower() for p in self.share_paths}:  # WsgiDAV ignores case
                return "403 Forbidden", f"{method} of a share's root is not allowed", []
        dest = environ.get("HTTP_DESTINATION")
        if dest and environ.get("REQUEST_METHOD") in ("COPY", "MOVE"):
            hosts = {
                h.lower()
                for h in (environ.get("HTTP_HOST"), environ.get("HTTP_X_FORWARDED_HOST"))
                if h
            }
            schemes = {
                s.lower()
                for s in (environ.get("wsgi.url_scheme"), environ.get("HTTP_X_FORWARDED_PROTO"))
                if s
            }
            refusal = destination_refusal(
                dest,
                path=_decoded_path(environ.get("PATH_INFO", "/")),
                hosts=hosts,
                schemes=schemes,
                share_paths=self.share_paths,
            )
            if refusal:
                return *refusal, []
            canonical = canonical_destination(dest, self.share_paths)
            if canonical is not None:
                environ["HTTP_DESTINATION"] = canonical
        auth = environ.get("HTTP_AUTHORIZATION")
        if auth is not None:
            if self.throttle is not None:
                wait = self.throttle.blocked_for(request_client(environ))
                if wait > 0:
                    return (
                        "429 Too Many Requests",
                        "too many failed logins from this address; try again later",
                        [("Retry-After", str(int(wait) + 1)), ("Connection", "close")],
                    )
            problem = basic_credentials_problem(auth)
            if problem:
                return "400 Bad Request", problem, []
        try:
            guard_xml_body(environ, self.max_xml_body)
        except XmlRefused as exc:
            # The rest of a refused body is not read: close rather than parse it as a request.
            return exc.status, str(exc), [("Connection", "close")]
        return "400 Bad Request", None, []

    def _own_endpoint(self, path, method, environ, start_response):
        if path == "/healthz":
            status, body, ctype = "200 OK", b"ok\n", "text/plain; charset=utf-8"
        elif path == "/readyz":
            ok, reason = self._check_ready()
            status = "200 OK" if ok else "503 Service Unavailable"
            if not local_caller(environ, self.trusted_proxies):
                reason = "ready" if ok else "not ready"  # the detail names buckets: local only
            body, ctype = (reason + "\n").encode(), "text/plain; charset=utf-8"
        elif not self.metrics_enabled:
            status, body, ctype = "404 Not Found", b"metrics are disabled\n", "text/plain"
        else:
            body, ctype = self.metrics.render()
            status = "200 OK"
        headers = [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if status.startswith("503"):
            headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
        start_response(status, headers)
        yield b"" if method == "HEAD" else body

    def _check_ready(self) -> tuple[bool, str]:
        with self._ready_lock:
            at, ok, reason = self._ready
            if time.monotonic() - at < READY_CACHE_SECONDS:
                return ok, reason
            ok, reason = self.ready_probe()
            self._ready = (time.monotonic(), ok, reason)
            return ok, reason
