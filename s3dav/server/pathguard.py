"""Refusing unsafe request paths before anything else sees them.

cheroot decodes the path and WsgiDAV normalises it; by then `/a/%2e%2e/b` has
become `/b`. So the raw request target is checked here, in every spelling
(docs/SEMANTICS.md, *Refused names*), and so is the `Destination` header of COPY and MOVE.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote, unquote_to_bytes, urlparse, urlsplit

from wsgidav.dav_error import DAVError
from wsgidav.util import normalize_path

from s3dav.store.keys import MAX_KEY_BYTES, BadPath, validate_segments


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


def wsgidav_destination_path(value: str) -> str:
    """The URL path WsgiDAV's COPY/MOVE takes from a Destination header.

    As `request_server._copy_or_move` does: percent-decoded once, *then* parsed
    without splitting a fragment (so `%3F` and `;` cut the name short, and a
    `#` stays in it), then `util.normalize_path`.
    """
    path = urlparse(unquote(value), allow_fragments=False).path
    try:
        return normalize_path(path)
    except DAVError:
        raise UnsafePath("Destination escapes the server root") from None


def parse_destination(value: str, share_paths: list[str]) -> tuple[str | None, str]:
    """(share, share-relative path) a Destination names, exactly as WsgiDAV will use them.

    The share is found case-blind, longest first (`WsgiDAVApp.resolve_provider`)
    and returned as configured; None when no share holds the path (the path is
    then the whole URL path). The share itself is "/" relative to it, with or
    without its trailing slash. Raises UnsafePath where WsgiDAV would act on
    another name than the one the URL spells (RFC 3986): a `#` fragment (which
    RFC 4918 10.3 does not allow in a Destination), or a decoded `?` or `;`
    in the last name.
    """
    if "#" in value:
        raise UnsafePath("Destination must not hold a '#' fragment (write '#' in a name as %23)")
    used = wsgidav_destination_path(value)
    meant = unquote(urlsplit(value).path) or "/"
    try:
        meant = normalize_path(meant)
    except DAVError:
        raise UnsafePath("Destination escapes the server root") from None
    if used != meant:
        raise UnsafePath(
            f"Destination {meant}: a '?' or ';' in a name cannot be a COPY/MOVE target here"
        )
    return split_share(used, share_paths)


def split_share(path: str, share_paths: list[str]) -> tuple[str | None, str]:
    """(share, share-relative path) of a decoded URL path: the longest share, case-blind."""
    lower = path.lower()
    for share in sorted(share_paths, key=len, reverse=True):
        low = "/" + share.strip("/").lower()
        if low == "/":
            return share, path
        if lower == low or lower.startswith(low + "/"):
            return share, path[len(low) :] or "/"
    return None, path


def _nfc_parts(path: str) -> list[str]:
    return [unicodedata.normalize("NFC", s) for s in path.split("/") if s]


def same_or_below(source: str, dest: str) -> bool:
    """Whether `dest` is `source` or below it, comparing NFC forms (keys are NFC)."""
    src, dst = _nfc_parts(source), _nfc_parts(dest)
    return dst[: len(src)] == src


def destination_refusal(
    dest: str, *, path: str, hosts: set[str], schemes: set[str], share_paths: list[str]
) -> tuple[str, str] | None:
    """(status, reason) for a COPY/MOVE Destination to refuse, None to let WsgiDAV go on.

    `path` is the decoded request path (with its share). Where WsgiDAV would
    answer 502 (another server or share, the share's root without its slash,
    another case of the share's name) or fail on the NFD spelling of the
    source, this answers a 4xx naming the WebDAV path:

    - 400: a Destination WsgiDAV would read as another name (`#`, `?`, `;`);
    - 403: another scheme, server or share (RFC 4918 says 502 "may occur"; a
      client can act on 403, and 5xx stays for the gateway's own failures),
      the share's root (never replaced, as it is never deleted), and the
      source itself or a path below it in any Unicode spelling.
    """
    problem = foreign_destination(
        dest, path=path, hosts=hosts, schemes=schemes, share_paths=share_paths
    )
    if problem:
        return "403 Forbidden", problem
    try:
        share, rel = parse_destination(dest, share_paths)
        src_share, src_rel = split_share(path, share_paths)
    except UnsafePath as exc:
        return "400 Bad Request", str(exc)
    if share is None or src_share is None or share != src_share:
        return "403 Forbidden", "Destination is in another share"
    shown = (share.rstrip("/") + rel) if share != "/" else rel
    if rel.strip("/") == "":
        return "403 Forbidden", f"Destination {shown} is the share's root, which cannot be replaced"
    if same_or_below(src_rel, rel):
        what = "the source itself" if _nfc_parts(src_rel) == _nfc_parts(rel) else "below the source"
        return "403 Forbidden", f"Destination {shown} is {what} (compared in NFC)"
    return None


def canonical_destination(dest: str, share_paths: list[str]) -> str | None:
    """A Destination in the share's configured spelling, or None when it is already so.

    WsgiDAV finds the share of a Destination case-blind but then strips it
    case-sensitively (502 for `/ANN/x`); request paths are case-blind
    throughout, so `/ANN/x` is rewritten to `/ann/x`, as a path-only
    Destination (scheme and host were checked before).
    """
    share, rel = parse_destination(dest, share_paths)
    if share is None or share == "/":
        return None
    used = wsgidav_destination_path(dest)
    if used.startswith(share + "/") or used == share:
        return None
    return quote(share + rel)
