"""`POST /_s3dav/events`: S3 event notifications pushed by the store (docs/DEPLOY.md).

A WsgiDAV middleware, first in the stack: it answers its one path itself and
needs no WebDAV login, only the shared secret `events.token`, sent as
`Authorization: Bearer <token>` (MinIO's webhook `auth_token`, a Ceph RGW
push-endpoint with headers) or as `?token=<token>` (an SNS subscription URL:
SNS sends no headers of its own). No token configured: 404, the endpoint is off.

The body (at most `events.max_body` bytes, `events.max_records` records) is
parsed by store/events.py; the changes go to `EventSettings.deliver`. An SNS
SubscriptionConfirmation is confirmed by fetching its SubscribeURL, only when
that is SNS's own (store.events.subscribe_url_problem); never any other URL.
"""

from __future__ import annotations

import hmac
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.server.clientaddr import request_client
from s3dav.server.errorpages import one_line
from s3dav.store.events import (
    CONFIRM,
    UNSUBSCRIBED,
    Change,
    EventError,
    TooManyRecords,
    deliver,
    parse_body,
    subscribe_url_problem,
)

_log = logging.getLogger(__name__)

EVENTS_PATH = "/_s3dav/events"
TEXT = "text/plain; charset=utf-8"
CONFIRM_TIMEOUT = 10.0  # seconds for SNS to answer the confirmation
THROTTLE_USER = "\0events-token"  # the name wrong tokens count under in the login throttle


class Refused(Exception):
    """Stop with this status and reason."""

    def __init__(self, status: str, reason: str, headers: list | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead anywhere: refuse it
        return None


def fetch_confirmation(url: str, timeout: float = CONFIRM_TIMEOUT) -> int:
    """GET an SNS SubscribeURL (already checked by subscribe_url_problem); its status."""
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
        resp.read(64 * 1024)
        return resp.status


def confirm_subscription(url: str, fetch: Callable[[str], int] = fetch_confirmation) -> str | None:
    """Confirm an SNS subscription; None when confirmed, else why not (nothing fetched
    unless the URL is SNS's own)."""
    problem = subscribe_url_problem(url)
    if problem:
        return problem
    try:
        status = fetch(url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"SNS did not confirm: {type(exc).__name__}"
    return None if status == 200 else f"SNS answered {status} to the confirmation"


@dataclass
class EventSettings:
    """config["s3dav"]["events"], built by app.py."""

    token: str | None
    max_body: int
    max_records: int
    deliver: Callable[[list[Change]], int]  # -> listings dropped
    confirm: Callable[[str], str | None] = confirm_subscription


def token_of(environ: dict) -> str | None:
    """The token a request presents: Bearer header, else `?token=`."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    given = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    return given[0] if given else None


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (the time must not tell how much of a guess was right)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, at most `limit` bytes (else 413, the rest left unread)."""
    length = environ.get("CONTENT_LENGTH", "").strip()
    if length:
        try:
            n = int(length)
        except ValueError:
            raise Refused("400 Bad Request", "Content-Length is not a number") from None
        if n > limit:
            raise Refused("413 Content Too Large", f"the body is {n} bytes; at most {limit}")
        body = environ["wsgi.input"].read(n) if n > 0 else b""
    else:  # chunked
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise Refused("413 Content Too Large", f"the body is over {limit} bytes")
    environ["wsgidav.all_input_read"] = 1
    return bytes(body)


def _has_body(environ: dict) -> bool:
    length = environ.get("CONTENT_LENGTH", "").strip()
    return length not in ("", "0") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "")


class EventsEndpoint(BaseMiddleware):
    """WsgiDAV middleware: `POST /_s3dav/events`; every other path passes on."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        s3dav = config.get("s3dav", {})
        self.settings: EventSettings | None = s3dav.get("events")
        self.throttle = s3dav.get("throttle")

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        full = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if full != EVENTS_PATH:
            return self.next_app(environ, start_response)
        try:
            status, reason = self._handle(environ)
        except Refused as refused:
            headers = refused.headers
            if not environ.get("wsgidav.all_input_read") and _has_body(environ):
                headers = [*headers, ("Connection", "close")]  # its body was not read
            return self._answer(environ, start_response, refused.status, refused.reason, headers)
        return self._answer(environ, start_response, status, reason, [])

    def _handle(self, environ) -> tuple[str, str]:
        settings = self.settings
        if settings is None or not settings.token:
            raise Refused("404 Not Found", "events are off (events.token is not set)")
        method = environ.get("REQUEST_METHOD")
        if method not in ("POST", "HEAD"):
            raise Refused("405 Method Not Allowed", "only POST", [("Allow", "POST, HEAD")])
        self._authenticate(environ, settings.token)
        if method == "HEAD":  # MinIO's webhook target probes its endpoint so
            return "200 OK", "ready"
        body = read_body(environ, settings.max_body)
        try:
            message = parse_body(body, settings.max_records)
        except TooManyRecords as exc:
            raise Refused("413 Content Too Large", str(exc)) from None
        except EventError as exc:
            raise Refused("400 Bad Request", str(exc)) from None
        if message.kind == CONFIRM:
            refused = subscribe_url_problem(message.subscribe_url)
            if refused:  # never fetched (checked again by confirm_subscription itself)
                _log.warning("events: SNS SubscriptionConfirmation refused: %s", refused)
                raise Refused("400 Bad Request", refused)
            problem = settings.confirm(message.subscribe_url)
            if problem:
                _log.warning(
                    "events: SNS subscription to %s not confirmed: %s", message.topic, problem
                )
                raise Refused("502 Bad Gateway", problem)
            _log.info("events: confirmed the SNS subscription to %s", message.topic)
            return "200 OK", "subscription confirmed"
        if message.kind == UNSUBSCRIBED:
            _log.info("events: SNS unsubscribed this endpoint from %s", message.topic)
            return "200 OK", "unsubscribed"
        dropped = settings.deliver(list(message.changes))
        _log.debug(
            "events: %d changes, %d ignored, %d listings dropped",
            len(message.changes),
            message.ignored,
            dropped,
        )
        return "200 OK", f"{len(message.changes)} changes, {dropped} listings dropped"

    def _authenticate(self, environ, token: str) -> None:
        addr = request_client(environ)
        if self.throttle is not None:
            wait = self.throttle.blocked_for(addr)
            if wait > 0:
                raise Refused(
                    "429 Too Many Requests",
                    "too many failed logins from this address; try again later",
                    [("Retry-After", str(int(wait) + 1))],
                )
        given = token_of(environ)
        if token_matches(given, token):
            return
        if given is None:
            raise Refused(
                "401 Unauthorized",
                "send the events token (Authorization: Bearer, or ?token=)",
                [("WWW-Authenticate", 'Bearer realm="s3dav events"')],
            )
        if self.throttle is not None:
            ticket = self.throttle.reserve(addr, THROTTLE_USER)
            if not isinstance(ticket, float):
                time.sleep(min(self.throttle.failed(ticket).delay, 1.0))
        raise Refused("403 Forbidden", "wrong events token")

    @staticmethod
    def _answer(environ, start_response, status: str, reason: str, headers: list):
        method = environ.get("REQUEST_METHOD", "")
        body = f"{status}: {method} {EVENTS_PATH}: {one_line(reason)}\n".encode()
        start_response(
            status,
            [
                ("Content-Type", TEXT),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )
        return [b""] if method == "HEAD" else [body]


def events_config(cfg, providers: dict, bus) -> EventSettings:
    """config["s3dav"]["events"] (issue 15): S3 event notifications drop the cached
    listings of every share they touch, and reach the other replicas through `bus`."""
    trees = [provider.tree for provider in providers.values()]
    publish = bus.publish if bus is not None else None
    events = cfg.events or {}
    return EventSettings(
        token=events.get("token"),
        max_body=events.get("max_body", 1024**2),
        max_records=events.get("max_records", 1000),
        deliver=lambda changes: deliver(changes, trees, publish),
    )
