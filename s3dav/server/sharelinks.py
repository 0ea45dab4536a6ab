"""Share links (issue 17): `/_s3dav/links` for logged-in users, `/_s3dav/s/<token>` for anyone.

- `GET /_s3dav/links[?path=/share/dir/x]`: the user's links, and a form to make
  one for `path`; `POST /_s3dav/links` creates (`action=create`) or revokes
  (`action=revoke`) one. A POST needs the user's CSRF token (linktokens.py) and
  an Origin (or Referer) of this server: a browser sends Basic credentials
  with any site's form, the token it cannot read.
- `/_s3dav/s/<token>`: a file link downloads its file (Range works); a folder
  link lists its folder read-only and serves what is below it, nothing else;
  a drop box takes `PUT /_s3dav/s/<token>/<name>` or the page's upload form,
  never overwrites, and shows nothing. A password-protected link wants its
  password once (form, then a cookie for this link only) or as the Basic
  password (`curl -u :secret`); wrong guesses count in the login throttle.

Everything a link serves goes through the share's own provider and WsgiDAV's
request server, behind the same safety, error and S3-failure layers as any
GET or PUT (and the direct-download redirect), with the path checks of
store/keys.py on whatever follows the token. This middleware sits first in
WsgiDAV's stack, before authentication: it authenticates `/_s3dav/links`
itself (same users, same throttle) and needs no login for `/_s3dav/s/`.

Here: the dispatch and the settings from the Config (share_links_config); the
links page is linkmanage.py, the public side linkpublic.py, what both use
linkcommon.py and linkhelpers.py.
"""

from __future__ import annotations

from pathlib import Path

from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.request_server import RequestServer

from s3dav.config import Config
from s3dav.dav.directget import DirectDownloads, DirectRule
from s3dav.dav.faults import S3ErrorMapper
from s3dav.dav.safety import SafeContent
from s3dav.server.auth import ShareDomainController
from s3dav.server.errorpages import PlainErrorPrinter
from s3dav.server.linkcommon import (
    LINKS_PATH,
    PUBLIC_PREFIX,
    Answer,
    LinkSettings,
    ShareInfo,
    link_settings,
    plain,
)
from s3dav.server.linkhelpers import join_below, share_of
from s3dav.server.linkmanage import LinksPage
from s3dav.server.linkpublic import PublicLinks
from s3dav.server.linkstore import LinkStore
from s3dav.storedirs import share_identity

__all__ = [
    "LinkSettings",
    "ShareInfo",
    "ShareLinks",
    "join_below",
    "link_settings",
    "share_links_config",
    "share_of",
]


class _Serve:
    """The innermost app of a link's sub-request: WsgiDAV's request server on its share."""

    def __call__(self, environ, start_response):
        return RequestServer(environ["wsgidav.provider"])(environ, start_response)


class ShareLinks(BaseMiddleware):
    """WsgiDAV middleware, first in the stack: the two endpoints above."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        s3dav = config["s3dav"]
        self.settings: LinkSettings | None = s3dav.get("share_links")
        inner = _Serve()
        # the layers every GET/PUT has (app.py's stack), without authentication
        for layer in (DirectDownloads, S3ErrorMapper, PlainErrorPrinter, SafeContent):
            inner = layer(wsgidav_app, inner, config)
        self.links_page = LinksPage(self.settings, ShareDomainController(wsgidav_app, config))
        self.public = PublicLinks(self.settings, s3dav.get("throttle"), inner)

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        full = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if full == LINKS_PATH:
            handler, shown = self.links_page, LINKS_PATH
        elif full.startswith(PUBLIC_PREFIX):
            handler, shown = self.public, PUBLIC_PREFIX + "..."
        else:
            return self.next_app(environ, start_response)
        try:
            if self.settings is None or self.settings.key is None or self.settings.store is None:
                raise Answer("404 Not Found", "share links are off (share_links.key is not set)")
            return handler(environ, start_response, full)
        except DAVError as exc:  # from the provider: S3 unavailable, bad path
            status = get_http_status_string(exc)
            # never the reason's words: they name the path inside the share behind the link
            answer = Answer(status, status.split(" ", 1)[-1])
            return plain(environ, start_response, answer, shown)
        except Answer as answer:
            return plain(environ, start_response, answer, shown)


def share_links_config(cfg: Config, providers: dict[str, object], closers: list) -> dict:
    """config["s3dav"] entries of issue 17: the share links and the direct-download rules.

    The link store (when links are on) is opened here; its close goes into `closers`.
    """
    key = cfg.share_links.get("key")
    store = None
    if key:
        cache_dir = Path(cfg.cache["dir"]).expanduser()
        store = LinkStore(
            cache_dir / "sharelinks.sqlite3", max_per_user=cfg.share_links["max_per_user"]
        )
        closers.append(store.close)
    shares = {
        s.path: ShareInfo(s.path, share_identity(cfg, s).text, tuple(s.users), s.read_only)
        for s in cfg.shares
    }
    settings = link_settings(
        key=key,
        max_seconds=cfg.share_links.get("max_expiry", 30 * 86400),
        store=store,
        shares=shares,
        providers=providers,
        users=cfg.users,
    )
    direct = {
        s.path: DirectRule(s.redirect_threshold, int(s.redirect_expiry), s.inline_active_content)
        for s in cfg.shares
        if s.downloads == "redirect"
    }
    return {"share_links": settings, "direct_downloads": direct}
