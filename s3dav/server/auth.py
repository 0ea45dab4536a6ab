"""Users, Basic auth and who may use which share (hashes: s3dav/passwords.py).

Passwords are stored only as salted scrypt hashes (standard library), made by
`s3dav hash-password`. Basic auth only: Digest would need plaintext passwords.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time

from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dc.base_dc import BaseDomainController
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.passwords import verify_password
from s3dav.server.clientaddr import request_client
from s3dav.server.throttle import Ticket

_log = logging.getLogger(__name__)

VERIFIED_CACHE_SIZE = 1024
# environ key: seconds a refused login must wait (set by the domain controller, read by
# ThrottledAuthenticator to answer 429 instead of 401).
LOGIN_REFUSED = "s3dav.login_refused"


def logged_user_name(user_name: str, known: bool) -> str:
    """A user name fit for the log: known names as they are, others as a short hash.

    An unknown name is often a password typed into the user field; its hash still
    lets the admin see the same name tried again (`printf %s NAME | sha256sum`).
    """
    if known:
        return repr(user_name)
    return "?sha256:" + hashlib.sha256(user_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def basic_credentials_problem(header: str) -> str | None:
    """Why a `Basic` Authorization header cannot be read (None when it can, or is not Basic).

    WsgiDAV assumes a well-formed header and fails with a 500 otherwise.
    """
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "Basic credentials are not valid base64 of UTF-8 text"
    if ":" not in decoded:
        return "Basic credentials have no ':' between user name and password"
    return None


class ShareDomainController(BaseDomainController):
    """Realm = share path (None outside every share); a share lets in the users it lists
    (or anyone, with `anonymous`). The 401 names one realm, `s3dav` (errorpages.py)."""

    def __init__(self, wsgidav_app, config):
        super().__init__(wsgidav_app, config)
        s3dav = config["s3dav"]
        self.users: dict[str, dict] = s3dav["users"]
        self.share_users: dict[str, list[str]] = s3dav["share_users"]
        self.throttle = s3dav.get("throttle")  # LoginThrottle or None
        # scrypt is slow by design; clients send credentials with every request. Remember
        # passwords already verified, as keyed digests (never the password) in memory only.
        self._verified: dict[bytes, None] = {}
        self._cache_key = secrets.token_bytes(32)
        self._cache_lock = threading.Lock()
        self._flights: dict[bytes, threading.Event] = {}  # credentials being checked now

    def get_domain_realm(self, path_info, environ):
        if environ is not None and environ.get("wsgidav.provider") is None:
            return None  # no share here (WsgiDAV would log a warning for every request)
        return self._calc_realm_from_path_provider(path_info, environ)

    def _allowed(self, realm: str | None) -> list[str]:
        if realm is None:
            # No share at this path (the share list at `/`): every user may log in there.
            return ["anonymous", *self.users] if self._any_anonymous() else list(self.users)
        return self.share_users.get(realm, [])

    def _any_anonymous(self) -> bool:
        return any("anonymous" in users for users in self.share_users.values())

    def require_authentication(self, realm, environ):
        if realm is None and environ is not None:
            # Outside every share: ask for a login only when one was sent or asked for
            # (`/?login`), or when nothing here is open to anonymous users.
            wants_login = "HTTP_AUTHORIZATION" in environ or "login" in environ.get(
                "QUERY_STRING", ""
            ).split("&")
            return wants_login or not self._any_anonymous()
        return "anonymous" not in self._allowed(realm)

    def basic_auth_user(self, realm, user_name, password, environ):
        """Is this the user's password, and may the user use this share?

        A login the throttle refuses sets LOGIN_REFUSED (answered 429); a wrong
        guess is counted, logged and answered after the throttle's delay.
        """
        spec = self.users.get(user_name)
        stored = spec["password_hash"] if spec else ""
        addr = request_client(environ)
        throttle = self.throttle
        if throttle is not None:
            wait = throttle.blocked_for(addr, user_name)
            if wait > 0:
                environ[LOGIN_REFUSED] = wait
                return False
        token = hmac.digest(
            self._cache_key, f"{user_name}\0{password}\0{stored}".encode(), "sha256"
        )
        if spec and token in self._verified:
            # proven before: not a guess, nothing to reserve
            return self._granted(realm, user_name, addr, None, True)
        with self._cache_lock:
            flight = self._flights.get(token)
            leader = flight is None
            if leader:
                flight = self._flights[token] = threading.Event()
        if not leader:
            # The same credentials are being checked right now: share that check,
            # so parallel requests of one client cost one scrypt and one reservation.
            flight.wait(timeout=60)
            return self._granted(realm, user_name, addr, None, token in self._verified)
        try:
            ticket = None
            if throttle is not None:
                got = throttle.reserve(addr, user_name)
                if not isinstance(got, Ticket):
                    environ[LOGIN_REFUSED] = got
                    return False
                ticket = got
            ok = bool(spec) and self._check(token, password, stored)
        finally:
            with self._cache_lock:
                self._flights.pop(token, None)
            flight.set()
        if ok:
            return self._granted(realm, user_name, addr, ticket, True)
        if ticket is not None:
            self._failed(ticket, realm, logged_user_name(user_name, spec is not None), addr)
        return False

    def _failed(self, ticket: Ticket, realm: str | None, who: str, addr: str) -> None:
        """Count a wrong guess, log it (and any block it causes), then wait the delay."""
        throttle = self.throttle
        failure = throttle.failed(ticket)
        # The user name is logged to help the admin; the password never is.
        _log.warning(
            "login failed for user %s on %s from %s (%d failures from this address, %d for"
            " this user name)",
            who,
            realm,
            addr,
            failure.address_failures,
            failure.user_failures,
        )
        if failure.address_blocked:
            _log.warning(
                "blocking logins from %s for %.0fs after %d failures",
                addr,
                throttle.block_seconds,
                failure.address_failures,
            )
        if failure.user_blocked:
            _log.warning(
                "blocking logins as user %s for %.0fs after %d failures (except from"
                " addresses it logged in from)",
                who,
                throttle.block_seconds,
                failure.user_failures,
            )
        time.sleep(failure.delay)

    def _granted(
        self, realm: str, user_name: str, addr: str, ticket: Ticket | None, ok: bool
    ) -> bool:
        """Settle a right password; refuse it still where the user may not go."""
        if not ok:
            return False  # a repeat of a wrong guess that was in flight: counted once
        if self.throttle is not None:
            self.throttle.succeeded(addr, user_name, ticket)
        if user_name not in self._allowed(realm):
            # A right password for a share the user may not use: refused, but not a guess.
            _log.warning("user %r may not use share %s", user_name, realm)
            return False
        return True

    def _check(self, token: bytes, password: str, stored: str) -> bool:
        if not verify_password(password, stored):
            return False
        with self._cache_lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = None
        return True

    def supports_http_digest_auth(self):
        return False


class ThrottledAuthenticator(HTTPAuthenticator):
    """WsgiDAV's authenticator, answering 429 (not 401) to a login the throttle refused."""

    def send_basic_auth_response(self, environ, start_response):
        wait = environ.get(LOGIN_REFUSED)
        if wait is None:
            return super().send_basic_auth_response(environ, start_response)
        body = b"429 Too Many Requests: too many failed logins; try again later\n"
        start_response(
            "429 Too Many Requests",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(int(wait) + 1)),
                ("Connection", "close"),
            ],
        )
        return [body]


WRITE_METHODS = frozenset(
    {"PUT", "DELETE", "COPY", "MOVE", "MKCOL", "PROPPATCH", "POST", "LOCK", "UNLOCK"}
)


class ReadOnlyShareGuard(BaseMiddleware):
    """Answer every write to a read-only share 403, after authentication.

    WsgiDAV alone answers 405 for a read-only provider, which clients read as
    "this server cannot do that"; 403 says "not here".
    """

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.read_only: set[str] = set(config["s3dav"].get("read_only_shares", []))

    def is_disabled(self):
        return not self.read_only

    def __call__(self, environ, start_response):
        realm = environ.get("wsgidav.auth.realm")
        if realm in self.read_only and environ.get("REQUEST_METHOD") in WRITE_METHODS:
            raise DAVError(HTTP_FORBIDDEN, "this share is read-only")
        return self.next_app(environ, start_response)
