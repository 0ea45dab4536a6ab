"""Password hashes: salted scrypt (standard library), made by `s3dav hash-password`.

Top level, not in server/: the configuration checks a user's hash when it is
loaded (config.py), the server verifies passwords, the CLI makes hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# OpenSSL's scrypt refuses more memory than this (hashlib's default maxmem).
SCRYPT_MAX_MEMORY = 32 * 1024**2


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


def password_hash_problem(stored: str) -> str | None:
    """Why `stored` is not a `s3dav hash-password` string (None when it is).

    A plain-text password or a truncated hash would never match any password:
    the user could not log in and nothing would say why.
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return "not a hash made by `s3dav hash-password` (expected scrypt$N$r$p$salt$digest)"
    _, n_text, r_text, p_text, salt, digest = parts
    if not all(t.isdigit() for t in (n_text, r_text, p_text)):
        return "N, r and p of the scrypt hash must be whole numbers"
    n, r, p = int(n_text), int(r_text), int(p_text)
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        return "scrypt N must be a power of 2 above 1, r and p at least 1"
    if 128 * r * (n + p + 2) > SCRYPT_MAX_MEMORY:
        return f"scrypt N={n}, r={r} needs more memory than OpenSSL allows (32 MiB)"
    try:
        salt_bytes = base64.b64decode(salt, validate=True)
        digest_bytes = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        return "the salt or digest of the scrypt hash is not valid base64"
    if len(salt_bytes) < 8 or len(digest_bytes) < 16:
        return "the salt or digest of the scrypt hash is too short"
    return None
