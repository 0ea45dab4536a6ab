"""Users, password hashes and who may use which share.

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
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.clientaddr import request_client

_log = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
VERIFIED_CACHE_SIZE = 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a hash_password() string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


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
        spec = self.users.get(user_name)
        password_ok = bool(spec) and self._check(user_name, password, spec["password_hash"])
        if password_ok and user_name not in self._allowed(realm):
            # A right password for a share the user may not use: refused, but not a guess.
            _log.warning("user %r may not use share %s", user_name, realm)
            return False
        ok = password_ok
        addr = request_client(environ)
        if self.throttle is None:
            return ok
        if ok:
            self.throttle.succeeded(addr)
            return True
        failures, delay = self.throttle.failed(addr)
        # The user name is logged to help the admin; the password never is.
        _log.warning(
            "login failed for user %r on %s from %s (%d in a row)",
            user_name[:64],
            realm,
            addr,
            failures,
        )
        if failures >= self.throttle.max_failures:
            _log.warning(
                "blocking logins from %s for %.0fs after %d failures",
                addr,
                self.throttle.block_seconds,
                failures,
            )
        time.sleep(delay)
        return False

    def _check(self, user_name: str, password: str, stored: str) -> bool:
        token = hmac.digest(
            self._cache_key, f"{user_name}\0{password}\0{stored}".encode(), "sha256"
        )
        if token in self._verified:
            return True
        if not verify_password(password, stored):
            return False
        with self._cache_lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = None
        return True

    def supports_http_digest_auth(self):
        return False


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
