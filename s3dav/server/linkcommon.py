"""What both sides of the share links use: their settings, the Answer that stops a request,
the plain/HTML/303 answers, and the sub-request environ of a share's provider.

The links page (linkmanage.py) and the public side (linkpublic.py) both build on
these; sharelinks.py dispatches to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from s3dav.dav.provider import RESOLVED
from s3dav.server import linkpages
from s3dav.server.errorpages import one_line
from s3dav.server.linkstore import LinkStore

LINKS_PATH = "/_s3dav/links"
PUBLIC_PREFIX = "/_s3dav/s/"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class ShareInfo:
    """What the links need to know about one share."""

    path: str
    identity: str  # StoreIdentity.text: a link dies when its share points elsewhere
    users: tuple[str, ...]
    read_only: bool

    def lets_in(self, user: str) -> bool:
        return "anonymous" in self.users or user in self.users


@dataclass
class LinkSettings:
    """config["s3dav"]["share_links"]: built by sharelinks.share_links_config()."""

    key: bytes | None  # None: links are off
    max_seconds: float
    store: LinkStore | None
    shares: dict[str, ShareInfo]
    providers: dict[str, object]  # share path -> S3Provider
    users: dict[str, dict]  # name -> {"password_hash": ...}
    clock: Callable[[], float] = time.time


def link_settings(
    *,
    key: str | None,
    max_seconds: float,
    store: LinkStore | None,
    shares: dict[str, ShareInfo],
    providers: dict[str, object],
    users: dict[str, dict],
) -> LinkSettings:
    return LinkSettings(
        key=key.encode() if key else None,
        max_seconds=max_seconds,
        store=store,
        shares=shares,
        providers=providers,
        users=users,
    )


class Answer(Exception):
    """Stop here with this answer (status, reason, extra headers)."""

    def __init__(self, status: str, reason: str, headers: list | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


def plain(environ, start_response, answer: Answer, shown: str):
    """A one-line text answer naming the method and `shown` (never a share's path)."""
    method = environ.get("REQUEST_METHOD", "")
    body = f"{answer.status}: {method} {shown}: {one_line(answer.reason)}\n".encode()
    start_response(
        answer.status,
        [
            ("Content-Type", TEXT),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            *answer.headers,
        ],
    )
    return [b""] if method == "HEAD" else [body]


def html(environ, start_response, status: str, page: str, *, links_page: bool, extra=()):
    body = page.encode()
    start_response(
        status,
        [
            ("Content-Type", HTML),
            ("Content-Length", str(len(body))),
            *linkpages.page_headers(forms_to_self=True, same_origin_referrer=links_page),
            *extra,
        ],
    )
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def see_other(start_response, location: str, extra=()):
    start_response(
        "303 See Other",
        [
            ("Location", location),
            ("Content-Length", "0"),
            ("Cache-Control", "no-store"),
            *extra,
        ],
    )
    return [b""]


def sub_environ(settings: LinkSettings, environ, share: str, path: str) -> dict:
    """`environ` as WsgiDAV would have made it for `path` in `share`, with no login."""
    sub = dict(environ)
    sub.pop(RESOLVED, None)
    sub.pop("HTTP_AUTHORIZATION", None)
    sub.pop("HTTP_COOKIE", None)
    sub["wsgidav.provider"] = settings.providers[share]
    sub["SCRIPT_NAME"] = "" if share == "/" else share
    sub["PATH_INFO"] = path
    sub["wsgidav.auth.user_name"] = ""
    sub["wsgidav.auth.realm"] = share
    return sub


def resource(settings: LinkSettings, environ, share: str, path: str):
    """The share provider's resource at `path` (None: nothing there)."""
    sub = sub_environ(settings, environ, share, path)
    return sub["wsgidav.provider"].get_resource_inst(path, sub)
