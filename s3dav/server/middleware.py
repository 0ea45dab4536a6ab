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

Each concern is one step below: the refusals (`_refuse_*`, answered by
`_refused`), the own endpoints (`_own_endpoint`), the header adjustments of
WsgiDAV's answers (`adjusted_answer`) and the accounting (`_account`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from s3dav.dav.conventions import checksum_header
from s3dav.dav.provider import RESERVED_PATHS
from s3dav.dav.request import CREATED, MTIME_ACCEPTED
from s3dav.server.auth import basic_credentials_problem
from s3dav.server.bodyio import CountingInput
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


def _decoded_path(path_info: str) -> str:
    """PATH_INFO as text: WSGI hands it over as latin-1 decoded UTF-8 bytes."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path_info


def plain_headers(body: bytes, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """Headers of a short plain-text answer of the gateway's own."""
    return [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        *extra,
    ]


def adjusted_answer(
    method: str, environ, status: str, headers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """WsgiDAV's status and headers, with what it does not say itself (see the top)."""
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
    return status, headers


@dataclass
class Refusal:
    """An answer the gateway gives itself instead of passing the request on."""

    status: str
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Exchange:
    """One request as the access log and the metrics see it."""

    method: str
    path: str  # PATH_INFO before WsgiDAV moves a share's path into SCRIPT_NAME
    asked: str  # the path as the client sent it (SCRIPT_NAME + PATH_INFO)
    started: float = field(default_factory=time.monotonic)
    status: str = ""  # "207", once the answer has started
    bytes: int = 0  # response body bytes
    body_in: CountingInput | None = None  # a PUT's counted body


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
        """Own endpoints; else refusals, or WsgiDAV with its answer adjusted; then the log."""
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path in RESERVED_PATHS:
            yield from self._own_endpoint(path, method, environ, start_response)
            return
        # As the client asked: WsgiDAV moves a share's path into SCRIPT_NAME later.
        exchange = Exchange(method, path, environ.get("SCRIPT_NAME", "") + path)
        environ[CLIENT_ADDR] = client_address(
            environ.get("REMOTE_ADDR", "-"),
            environ.get("HTTP_X_FORWARDED_FOR"),
            self.trusted_proxies,
        )
        reason = self._refuse_unsafe(environ)
        refusal = None if reason is None else Refusal("400 Bad Request", reason)
        if method == "PUT" and "wsgi.input" in environ:
            exchange.body_in = environ["wsgi.input"] = CountingInput(environ["wsgi.input"])
            self.metrics.uploads_pending.inc()
        if refusal is None:
            refusal = self._refuse_hostile(environ)

        def start(status, headers, exc_info=None):
            status, headers = adjusted_answer(method, environ, status, headers)
            exchange.status = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            if refusal is not None:
                yield self._refused(refusal, environ, exchange, start)
            else:
                yield from self._passed_on(environ, exchange, start)
        finally:
            self._account(environ, exchange)

    @staticmethod
    def _refused(refusal: Refusal, environ, exchange: Exchange, start) -> bytes:
        """Start the one-line answer to a refused request; its body."""
        raw = (environ.get("REQUEST_URI") or exchange.asked).split("?", 1)[0]  # as it was sent
        where = one_line(raw) or "/"
        body = f"{refusal.status}: {exchange.method} {where}: {refusal.reason}\n".encode()
        start(refusal.status, plain_headers(body, *refusal.headers))
        exchange.bytes = len(body)
        return body

    def _passed_on(self, environ, exchange: Exchange, start):
        """WsgiDAV's answer, counted; a short 500 should it fail before answering."""
        try:
            for chunk in self.next_app(environ, start):
                exchange.bytes += len(chunk)
                yield chunk
        except Exception:
            # Last line of defence: a short 500, the traceback only in our log.
            _log.exception("unhandled error in %s %s", exchange.method, log_path(exchange.path))
            if exchange.status:
                raise  # headers are out: all we can do is drop the connection
            body = b"500 Internal Server Error: the gateway failed; see its log\n"
            start("500 Internal Server Error", plain_headers(body))
            exchange.bytes = len(body)
            yield body

    def _account(self, environ, exchange: Exchange) -> None:
        """Count the request in the metrics and write its access-log line."""
        elapsed = time.monotonic() - exchange.started
        m = self.metrics
        label = method_label(exchange.method)
        status = status_label(exchange.status or "000")
        m.http_requests.labels(method=label, status=status).inc()
        m.http_duration.labels(method=label).observe(elapsed)
        m.bytes_down.inc(exchange.bytes)
        body_in = exchange.body_in
        if body_in is not None:
            m.bytes_up.inc(body_in.count)
            m.uploads_pending.dec()
        fields = {
            "method": exchange.method,
            "path": log_path(exchange.asked),
            "status": exchange.status or "-",
            "bytes": exchange.bytes,
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

    def _refuse_hostile(self, environ) -> Refusal | None:
        """A body where none belongs, a share root deleted or moved, a bad Destination,
        a blocked login or bad credentials, a bad XML body: the first that applies."""
        for step in (
            self._refuse_method,
            self._refuse_destination,
            self._refuse_login,
            self._refuse_xml,
        ):
            refusal = step(environ)
            if refusal is not None:
                return refusal
        return None

    def _refuse_method(self, environ) -> Refusal | None:
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and (environ.get("CONTENT_LENGTH") or "0").strip() != "0":
            # WsgiDAV means to answer 415 here but fails with a 500 (wsgidav 4.4 dir browser).
            return Refusal("415 Unsupported Media Type", f"{method} takes no request body")
        if method in ("DELETE", "MOVE"):
            here = "/" + environ.get("PATH_INFO", "/").strip("/")
            if here.lower() in {p.lower() for p in self.share_paths}:  # WsgiDAV ignores case
                return Refusal("403 Forbidden", f"{method} of a share's root is not allowed")
        return None

    def _refuse_destination(self, environ) -> Refusal | None:
        """A COPY/MOVE Destination elsewhere or unusable is refused; a good one made canonical."""
        dest = environ.get("HTTP_DESTINATION")
        if not dest or environ.get("REQUEST_METHOD") not in ("COPY", "MOVE"):
            return None
        hosts = {
            h.lower() for h in (environ.get("HTTP_HOST"), environ.get("HTTP_X_FORWARDED_HOST")) if h
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
            return Refusal(*refusal)
        canonical = canonical_destination(dest, self.share_paths)
        if canonical is not None:
            environ["HTTP_DESTINATION"] = canonical
        return None

    def _refuse_login(self, environ) -> Refusal | None:
        auth = environ.get("HTTP_AUTHORIZATION")
        if auth is None:
            return None
        if self.throttle is not None:
            wait = self.throttle.blocked_for(request_client(environ))
            if wait > 0:
                return Refusal(
                    "429 Too Many Requests",
                    "too many failed logins from this address; try again later",
                    [("Retry-After", str(int(wait) + 1)), ("Connection", "close")],
                )
        problem = basic_credentials_problem(auth)
        return None if problem is None else Refusal("400 Bad Request", problem)

    def _refuse_xml(self, environ) -> Refusal | None:
        try:
            guard_xml_body(environ, self.max_xml_body)
        except XmlRefused as exc:
            # The rest of a refused body is not read: close rather than parse it as a request.
            return Refusal(exc.status, str(exc), [("Connection", "close")])
        return None

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
