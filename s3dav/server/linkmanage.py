"""The logged-in user's side of the share links: `GET/POST /_s3dav/links` (sharelinks.py).

`GET /_s3dav/links[?path=/share/dir/x]` lists the user's links, and a form to
make one for `path`; `POST` creates (`action=create`) or revokes
(`action=revoke`) one. A POST needs the user's CSRF token (linktokens.py) and
an Origin (or Referer) of this server: a browser sends Basic credentials with
any site's form, the token it cannot read. Login is the shares' own (same
users, passwords and throttle).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from s3dav.passwords import hash_password
from s3dav.server import linkpages
from s3dav.server.auth import LOGIN_REFUSED, ShareDomainController
from s3dav.server.linkcommon import (
    LINKS_PATH,
    PUBLIC_PREFIX,
    Answer,
    LinkSettings,
    html,
    resource,
    see_other,
)
from s3dav.server.linkhelpers import basic_pair, own_origins, read_form, share_of
from s3dav.server.linkstore import Link, TooManyLinks
from s3dav.server.linktokens import (
    LinkSpec,
    csrf_ok,
    csrf_token,
    link_expiry,
    make_token,
    new_id,
    parse_expiry,
    same_origin,
)
from s3dav.store.keys import BadPath, validate_segments

_log = logging.getLogger("s3dav.server.sharelinks")  # one logger for all of the share links


def shown(spec: LinkSpec) -> str:
    """The WebDAV path a link opens, as its maker sees it."""
    return spec.share.rstrip("/") + spec.path if spec.path != "/" else spec.share


def base_url(environ) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or ""
    return f"{scheme}://{host}"


class LinksPage:
    """`/_s3dav/links`: list, create and revoke the logged-in user's links."""

    def __init__(self, settings: LinkSettings | None, domain: ShareDomainController) -> None:
        self.settings = settings
        self.domain = domain

    def __call__(self, environ, start_response, _full):
        st = self.settings
        user = self._login(environ)
        password_hash = st.users[user]["password_hash"]
        csrf = csrf_token(st.key, user, password_hash)
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            return self._post(environ, start_response, user, password_hash)
        if method not in ("GET", "HEAD"):
            raise Answer(
                "405 Method Not Allowed", "use GET or POST", [("Allow", "GET, HEAD, POST")]
            )
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        form_html = ""
        if "path" in query:
            share, below, res = self._target(environ, user, query["path"])
            writable = not st.shares[share].read_only
            form_html = linkpages.create_form(
                csrf, query["path"], res.is_collection, writable, st.max_seconds / 86400
            )
        base = base_url(environ)
        rows = [
            (
                link.spec.id,
                shown(link.spec),
                link.spec.kind,
                link.spec.expires,
                bool(link.password_hash),
                self._url(base, link.spec),
            )
            for link in st.store.of_user(user, st.clock())
        ]
        created = next((r[5] for r in rows if r[0] == query.get("created")), "")
        message = "The link was revoked." if query.get("revoked") else ""
        page = linkpages.links_page(
            user, rows, csrf, form=form_html, created_url=created, message=message
        )
        return html(environ, start_response, "200 OK", page, links_page=True)

    def _post(self, environ, start_response, user: str, password_hash: str):
        """Create or revoke: only from this server's own page, with the user's CSRF token."""
        st = self.settings
        if not same_origin(
            environ.get("HTTP_ORIGIN"), environ.get("HTTP_REFERER"), own_origins(environ)
        ):
            raise Answer("403 Forbidden", "the form must be sent from this server's own page")
        try:
            form = read_form(environ)
        except ValueError as exc:
            raise Answer("413 Content Too Large", str(exc)) from None
        if not csrf_ok(st.key, user, password_hash, form.get("csrf")):
            raise Answer("403 Forbidden", "the form is stale or forged (bad CSRF token)")
        if form.get("action") == "create":
            link = self._create(environ, user, form)
            return see_other(start_response, f"{LINKS_PATH}?created={link.spec.id}")
        if form.get("action") == "revoke":
            if not st.store.revoke(form.get("id", ""), user):
                raise Answer("404 Not Found", "you have no such link")
            return see_other(start_response, f"{LINKS_PATH}?revoked=1")
        raise Answer("400 Bad Request", "action must be create or revoke")

    def _login(self, environ) -> str:
        """The logged-in user (same users, passwords and throttle as the shares)."""
        pair = basic_pair(environ.get("HTTP_AUTHORIZATION"))
        # an unknown name is checked (and counted as a failure) like any other
        if pair is not None and self.domain.basic_auth_user(None, *pair, environ):
            if pair[0] in self.settings.users:
                return pair[0]
        if environ.get(LOGIN_REFUSED) is not None:
            wait = int(environ[LOGIN_REFUSED]) + 1
            raise Answer(
                "429 Too Many Requests",
                "too many failed logins; try again later",
                [("Retry-After", str(wait))],
            )
        raise Answer(
            "401 Unauthorized",
            "log in (realm s3dav)",
            [("WWW-Authenticate", 'Basic realm="s3dav"')],
        )

    def _url(self, base: str, spec: LinkSpec) -> str:
        tail = "/" if spec.kind != "file" else ""
        return f"{base}{PUBLIC_PREFIX}{make_token(self.settings.key, spec)}{tail}"

    def _target(self, environ, user: str, path: str):
        """(share, path below it, resource) of a WebDAV path the user may share."""
        st = self.settings
        found = share_of(path, list(st.shares))
        if found is None:
            raise Answer("404 Not Found", f"no share holds {path}")
        share, below = found
        if not st.shares[share].lets_in(user):
            raise Answer("403 Forbidden", f"you may not use the share {share}")
        try:
            validate_segments(below)
        except BadPath as exc:
            raise Answer("400 Bad Request", f"{path}: {exc}") from None
        res = resource(st, environ, share, below)
        if res is None:
            raise Answer("404 Not Found", f"{path} does not exist")
        return share, below, res

    def _create(self, environ, user: str, form: dict) -> Link:
        st = self.settings
        path = form.get("path", "")
        share, below, res = self._target(environ, user, path)
        kind = form.get("kind", "")
        allowed = ("folder", "dropbox") if res.is_collection else ("file",)
        if kind not in allowed:
            raise Answer("400 Bad Request", f"{path}: kind must be one of {', '.join(allowed)}")
        if kind == "dropbox" and st.shares[share].read_only:
            raise Answer("403 Forbidden", f"{share} is read-only: no drop box there")
        now = st.clock()
        try:
            seconds = parse_expiry(form["expires"]) if form.get("expires") else None
            expires = link_expiry(now, seconds, st.max_seconds)
        except ValueError as exc:
            raise Answer("400 Bad Request", str(exc)) from None
        password = form.get("password", "")
        spec = LinkSpec(
            new_id(), st.shares[share].identity, share, "/" + below.strip("/"), kind, expires
        )
        link = Link(spec, user, int(now), hash_password(password) if password else "")
        try:
            st.store.add(link, now)
        except TooManyLinks as exc:
            raise Answer("409 Conflict", str(exc)) from None
        _log.info("share link %s made by %s: %s %s", spec.id, user, kind, shown(spec))
        return link
