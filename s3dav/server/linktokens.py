"""Share-link tokens, CSRF tokens and password proofs: pure HMAC arithmetic (issue 17).

A link is a record in the link store (linkstore.py) and a token in its URL:

    /_s3dav/s/<id>.<expiry>.<signature>

`id` is 128 random bits; `expiry` is whole Unix seconds; `signature` is
HMAC-SHA256, under `share_links.key`, over the id, the expiry and everything
the record says the link opens (store identity, share, path, kind). So a token
is only as good as the record it was made for: a forged, edited or truncated
token, a record edited on disk, a key changed in the config, or a share that
now points at another bucket/prefix all fail `verify_token`. Nothing here
touches the disk or the clock: callers pass `now`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

VERSION = b"s3dav-link-v1"
KINDS = ("file", "folder", "dropbox")
_TOKEN = re.compile(r"([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class BadToken(ValueError):
    """A token that opens nothing (malformed, forged, expired, revoked)."""


class Expired(BadToken):
    """A genuine link past its expiry (answered 410 Gone)."""


@dataclass(frozen=True)
class LinkSpec:
    """What one link opens: the fields its signature covers."""

    id: str
    store: str  # StoreIdentity.text of the share when the link was made
    share: str  # share path, "/ann"
    path: str  # below the share, "/dir/a.txt" ("/" for the share root)
    kind: str  # file | folder | dropbox
    expires: int  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_id() -> str:
    """128 random bits, 22 URL-safe characters."""
    return _b64(secrets.token_bytes(16))


def _mac(key: bytes, *parts: str) -> bytes:
    message = b"\0".join([VERSION, *(p.encode("utf-8", "surrogatepass") for p in parts)])
    return hmac.digest(key, message, hashlib.sha256)


def signature(key: bytes, spec: LinkSpec) -> str:
    return _b64(
        _mac(key, "link", spec.id, spec.store, spec.share, spec.path, spec.kind, str(spec.expires))
    )


def make_token(key: bytes, spec: LinkSpec) -> str:
    if spec.kind not in KINDS:
        raise ValueError(f"unknown link kind {spec.kind!r}")
    return f"{spec.id}.{spec.expires}.{signature(key, spec)}"


def parse_token(token: str) -> tuple[str, int, str]:
    """(id, expiry, signature) of a well-formed token, else BadToken."""
    m = _TOKEN.fullmatch(token)
    if not m:
        raise BadToken("not a share link")
    return m.group(1), int(m.group(2)), m.group(3)


def verify_token(key: bytes, token: str, spec: LinkSpec | None, now: float) -> LinkSpec:
    """The spec `token` was made for, checked in constant time; BadToken otherwise.

    `spec` is what the store holds under the token's id (None: no such link,
    or revoked and gone). The expiry is checked last, so an expired link says
    so (410) only when it was once genuine.
    """
    link_id, expires, sig = parse_token(token)
    if spec is None or spec.id != link_id:
        raise BadToken("no such share link (revoked, or never made)")
    if not hmac.compare_digest(sig, signature(key, spec)) or expires != spec.expires:
        raise BadToken("no such share link (revoked, or never made)")
    if now >= spec.expires:
        raise Expired("this share link has expired")
    return spec


def csrf_token(key: bytes, user: str, password_hash: str) -> str:
    """The form token of `user`'s link pages: fixed per user and password, unguessable
    without the key. A changed password (or key) makes old forms fail."""
    return _b64(_mac(key, "csrf", user, password_hash))[:32]


def csrf_ok(key: bytes, user: str, password_hash: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(
        (given or "").encode(), csrf_token(key, user, password_hash).encode()
    )


def password_proof(key: bytes, link_id: str, password_hash: str) -> str:
    """The cookie value that says "this browser gave the link's password"."""
    return _b64(_mac(key, "password", link_id, password_hash))


def proof_ok(key: bytes, link_id: str, password_hash: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(
        (given or "").encode(), password_proof(key, link_id, password_hash).encode()
    )


def same_origin(origin: str | None, referer: str | None, own: set[str]) -> bool:
    """Does a POST come from one of our own pages? `own`: "http://host:port" forms.

    Origin when the browser sent one (never "null"), else the Referer's origin;
    neither (or a foreign one) is refused.
    """
    if origin:
        return origin.lower() in own
    if referer:
        m = re.match(r"(https?://[^/?#]+)", referer, re.I)
        return bool(m) and m.group(1).lower() in own
    return False


def link_expiry(now: float, seconds: float | None, max_seconds: float) -> int:
    """Unix seconds a new link expires at: `seconds` from now (default and most: `max_seconds`)."""
    if seconds is None:
        seconds = max_seconds
    if not 0 < seconds <= max_seconds:
        raise ValueError(
            f"the expiry must be more than 0s and at most {max_seconds / 86400:g} days"
        )
    return int(now + seconds)


_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(text: str) -> float:
    """`30s`, `5m`, `12h`, `7d`, `2w` (a bare number: days) as seconds; ValueError otherwise."""
    m = re.fullmatch(r"\s*([0-9]{1,6}(?:\.[0-9]{1,3})?)\s*([a-z]*)\s*", text.lower())
    if not m or m.group(2) not in (*_UNITS, ""):
        raise ValueError(f"expiry {text[:20]!r}: expected a duration like 7d, 12h or 30m")
    return float(m.group(1)) * _UNITS.get(m.group(2), 86400)
