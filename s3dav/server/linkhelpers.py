"""Pure helpers of the share links (sharelinks.py): paths, Basic pairs, cookies, origins, forms.

No state and no WsgiDAV: each reads a string or an environ and answers, so the
links page (linkmanage.py) and the public side (linkpublic.py) share them and
tests call them directly.
"""

from __future__ import annotations

import base64
import binascii
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

MAX_FORM = 64 * 1024  # the links page's urlencoded forms


def share_of(path: str, shares: list[str]) -> tuple[str, str] | None:
    """(share, path below it) of a WebDAV path, by the longest share path (case-insensitive,
    as WsgiDAV matches shares); None when no share holds it."""
    lower = path.lower()
    best = None
    for share in shares:
        base = share.rstrip("/").lower()
        if (lower == base or lower.startswith(base + "/")) and (
            best is None or len(share) > len(best)
        ):
            best = share
    if best is None:
        return None
    below = path[len(best.rstrip("/")) :]
    return best, below if below.startswith("/") else "/" + below


def join_below(base: str, sub: str) -> str:
    """`sub` (already validated) below the link's own path `base`."""
    return "/" + "/".join(s for s in (base.strip("/"), sub.strip("/")) if s)


def basic_pair(header: str | None) -> tuple[str, str] | None:
    """(user, password) of a Basic Authorization header, else None."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


def cookie_value(environ: dict, name: str) -> str | None:
    try:
        morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(name)
    except CookieError:
        return None
    return morsel.value if morsel is not None else None


def own_origins(environ: dict) -> set[str]:
    hosts = {h for h in (environ.get("HTTP_HOST"), environ.get("HTTP_X_FORWARDED_HOST")) if h}
    schemes = {
        s for s in (environ.get("wsgi.url_scheme"), environ.get("HTTP_X_FORWARDED_PROTO")) if s
    }
    return {f"{s}://{h}".lower() for s in schemes for h in hosts}


def read_form(environ: dict) -> dict[str, str]:
    """An urlencoded POST body (at most MAX_FORM bytes), first value of each field."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_FORM:
        raise ValueError(f"the form must be 0 to {MAX_FORM} bytes")
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgidav.all_input_read"] = 1
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}
