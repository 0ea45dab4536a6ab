"""Refusing unsafe request paths before anything else sees them.

cheroot decodes the path and WsgiDAV normalises it; by then `/a/%2e%2e/b` has
become `/b`. So the raw request target is checked here, in every spelling
(docs/SEMANTICS.md, *Refused names*), and so is the `Destination` header of COPY and MOVE.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes, urlsplit

from s3dav.keys import MAX_KEY_BYTES, BadPath, validate_segments


class UnsafePath(ValueError):
    """Answered with 400 and the reason."""


def check_raw_path(raw: str) -> None:
    """Validate a raw (still percent-encoded) URL path."""
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafePath("path is not valid UTF-8 after percent-decoding") from None
    if "%" in raw and _bad_escape(raw):
        raise UnsafePath("invalid percent-encoding in path")
    if len(decoded.encode("utf-8")) > MAX_KEY_BYTES + 256:
        raise UnsafePath("path is too long")
    try:
        validate_segments(decoded)  # the same segment rules as every key
    except BadPath as exc:
        raise UnsafePath(str(exc)) from None


def _bad_escape(raw: str) -> bool:
    hexdigits = "0123456789abcdefABCDEF"
    i = raw.find("%")
    while i != -1:
        pair = raw[i + 1 : i + 3]
        if len(pair) != 2 or pair[0] not in hexdigits or pair[1] not in hexdigits:
            return True
        i = raw.find("%", i + 3)
    return False


def check_destination(value: str) -> None:
    """Validate the path of a Destination header (absolute URL or path)."""
    parts = urlsplit(value)
    check_raw_path(parts.path or "/")


def share_of(path: str, share_paths: list[str]) -> str | None:
    """The share path (longest match) that a decoded URL path falls in.

    Case-insensitive, as WsgiDAV resolves share paths.
    """
    best = None
    path = path.lower()
    for share in share_paths:
        share = share.lower()
        if share == "/" or path == share or path.startswith(share + "/"):
            if best is None or len(share) > len(best):
                best = share
    return best


def foreign_destination(
    dest: str, *, path: str, hosts: set[str], schemes: set[str], share_paths: list[str]
) -> str | None:
    """Why a Destination points outside this server or this request's share (None if it doesn't).

    WsgiDAV answers such requests 502; we answer 403, which is what a client can act on,
    and keep 5xx for our own failures.
    """
    parts = urlsplit(dest)
    if parts.scheme and parts.scheme.lower() not in schemes:
        return "Destination uses another scheme"
    if parts.netloc and parts.netloc.lower() not in hosts:
        return "Destination is on another server"
    dest_path = unquote_to_bytes(parts.path or "/").decode("utf-8", "replace")
    if share_of(dest_path, share_paths) != share_of(path, share_paths):
        return "Destination is in another share"
    return None
