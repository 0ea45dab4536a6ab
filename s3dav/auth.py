"""Users, password hashes and who may use which share.

Passwords are stored only as salted scrypt hashes (standard library), made by
`s3dav hash-password`. Basic auth only: Digest would need plaintext passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from wsgidav.dc.base_dc import BaseDomainController

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


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


class ShareDomainController(BaseDomainController):
    """Realm = share path; a share lets in the users it lists (or anyone, with `anonymous`)."""

    def __init__(self, wsgidav_app, config):
        super().__init__(wsgidav_app, config)
        s3dav = config["s3dav"]
        self.users: dict[str, dict] = s3dav["users"]
        self.share_users: dict[str, list[str]] = s3dav["share_users"]

    def get_domain_realm(self, path_info, environ):
        return self._calc_realm_from_path_provider(path_info, environ)

    def _allowed(self, realm: str) -> list[str]:
        return self.share_users.get(realm, [])

    def require_authentication(self, realm, environ):
        return "anonymous" not in self._allowed(realm)

    def basic_auth_user(self, realm, user_name, password, environ):
        if user_name not in self._allowed(realm):
            return False
        spec = self.users.get(user_name)
        return bool(spec) and verify_password(password, spec["password_hash"])

    def supports_http_digest_auth(self):
        return False
