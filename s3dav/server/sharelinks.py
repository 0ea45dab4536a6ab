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
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, quote

from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.request_server import RequestServer

from s3dav.dav.browser import Row
from s3dav.dav.directget import DirectDownloads
from s3dav.dav.faults import S3ErrorMapper
from s3dav.dav.provider import RESOLVED
from s3dav.dav.safety import SafeContent
from s3dav.server import linkpages
from s3dav.server.auth import LOGIN_REFUSED, ShareDomainController, hash_password, verify_password
from s3dav.server.clientaddr import request_client
from s3dav.server.errorpages import PlainErrorPrinter, one_line
from s3dav.server.formupload import ChunkReader, FormError, FormFile, boundary_of
from s3dav.server.linkstore import Link, LinkStore, TooManyLinks
from s3dav.server.linktokens import (
    BadToken,
    Expired,
    LinkSpec,
    csrf_ok,
    csrf_token,
    link_expiry,
    make_token,
    new_id,
    parse_expiry,
    parse_token,
    password_proof,
    proof_ok,
    same_origin,
    verify_token,
)
from s3dav.server.throttle import Ticket
from s3dav.store.keys import BadPath, validate_segments

_log = logging.getLogger(__name__)

LINKS_PATH = "/_s3dav/links"
PUBLIC_PREFIX = "/_s3dav/s/"
MAX_FORM = 64 * 1024  # the links page's urlencoded forms
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
# WebDAV request headers a link's PUT must not carry: a drop box never overwrites.
CONDITIONS = ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_MODIFIED_SINCE")


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
    """config["s3dav"]["share_links"]: built by app.py's share_links_settings()."""

    key: bytes | None  # None: links are off
    max_seconds: float
    store: LinkStore | None
    shares: dict[str, ShareInfo]
    providers: dict[str, object]  # share path -> S3Provider
    users: dict[str, dict]  # name -> {"password_hash": ...}
    clock: Callable[[], float] = time.time


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


class _Serve:
    """The innermost app of a link's sub-request: WsgiDAV's request server on its share."""

    def __call__(self, environ, start_response):
        return RequestServer(environ["wsgidav.provider"])(environ, start_response)


class Answer(Exception):
    """Stop here with this answer (status, reason, extra headers)."""

    def __init__(self, status: str, reason: str, headers: list | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


class ShareLinks(BaseMiddleware):
    """WsgiDAV middleware, first in the stack: the two endpoints above."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        s3dav = config["s3dav"]
        self.settings: LinkSettings | None = s3dav.get("share_links")
        self.throttle = s3dav.get("throttle")
        self.domain = ShareDomainController(wsgidav_app, config)
        inner = _Serve()
        # the layers every GET/PUT has (app.py's stack), without authentication
        for layer in (DirectDownloads, S3ErrorMapper, PlainErrorPrinter, SafeContent):
            inner = layer(wsgidav_app, inner, config)
        self.inner = inner

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        full = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if full == LINKS_PATH:
            handler, shown = self._links, LINKS_PATH
        elif full.startswith(PUBLIC_PREFIX):
            handler, shown = self._public, PUBLIC_PREFIX + "..."
        else:
            return self.next_app(environ, start_response)
        try:
            if self.settings is None or self.settings.key is None or self.settings.store is None:
                raise Answer("404 Not Found", "share links are off (share_links.key is not set)")
            return handler(environ, start_response, full)
        except DAVError as exc:  # from the provider: S3 unavailable, bad path
            status = get_http_status_string(exc)
            answer = Answer(status, exc.context_info or status.split(" ", 1)[-1])
            return self._plain(environ, start_response, answer, shown)
        except Answer as answer:
            return self._plain(environ, start_response, answer, shown)

    # -- answers -------------------------------------------------------------------

    @staticmethod
    def _plain(environ, start_response, answer: Answer, shown: str):
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

    @staticmethod
    def _html(environ, start_response, status: str, page: str, *, links_page: bool, extra=()):
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

    @staticmethod
    def _see_other(start_response, location: str, extra=()):
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

    # -- /_s3dav/links -------------------------------------------------------------

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

    def _links(self, environ, start_response, _full):
        st = self.settings
        user = self._login(environ)
        password_hash = st.users[user]["password_hash"]
        csrf = csrf_token(st.key, user, password_hash)
        method = environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if method == "POST":
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
                return self._see_other(start_response, f"{LINKS_PATH}?created={link.spec.id}")
            if form.get("action") == "revoke":
                if not st.store.revoke(form.get("id", ""), user):
                    raise Answer("404 Not Found", "you have no such link")
                return self._see_other(start_response, f"{LINKS_PATH}?revoked=1")
            raise Answer("400 Bad Request", "action must be create or revoke")
        if method not in ("GET", "HEAD"):
            raise Answer(
                "405 Method Not Allowed", "use GET or POST", [("Allow", "GET, HEAD, POST")]
            )
        form_html = ""
        if "path" in query:
            share, below, res = self._target(environ, user, query["path"])
            writable = not st.shares[share].read_only
            form_html = linkpages.create_form(
                csrf, query["path"], res.is_collection, writable, st.max_seconds / 86400
            )
        base = self._base_url(environ)
        links = st.store.of_user(user, st.clock())
        rows = [
            (
                link.spec.id,
                self._shown(link.spec),
                link.spec.kind,
                link.spec.expires,
                bool(link.password_hash),
                self._url(base, link.spec),
            )
            for link in links
        ]
        created = next((r[5] for r in rows if r[0] == query.get("created")), "")
        message = "The link was revoked." if query.get("revoked") else ""
        page = linkpages.links_page(
            user, rows, csrf, form=form_html, created_url=created, message=message
        )
        return self._html(environ, start_response, "200 OK", page, links_page=True)

    @staticmethod
    def _shown(spec: LinkSpec) -> str:
        return spec.share.rstrip("/") + spec.path if spec.path != "/" else spec.share

    def _url(self, base: str, spec: LinkSpec) -> str:
        tail = "/" if spec.kind != "file" else ""
        return f"{base}{PUBLIC_PREFIX}{make_token(self.settings.key, spec)}{tail}"

    @staticmethod
    def _base_url(environ) -> str:
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or ""
        return f"{scheme}://{host}"

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
        res = self._resource(environ, share, below)
        if res is None:
            raise Answer("404 Not Found", f"{path} does not exist")
        return share, below, res

    def _sub_environ(self, environ, share: str, path: str) -> dict:
        """`environ` as WsgiDAV would have made it for `path` in `share`, with no login."""
        sub = dict(environ)
        sub.pop(RESOLVED, None)
        sub.pop("HTTP_AUTHORIZATION", None)
        sub.pop("HTTP_COOKIE", None)
        sub["wsgidav.provider"] = self.settings.providers[share]
        sub["SCRIPT_NAME"] = "" if share == "/" else share
        sub["PATH_INFO"] = path
        sub["wsgidav.auth.user_name"] = ""
        sub["wsgidav.auth.realm"] = share
        return sub

    def _resource(self, environ, share: str, path: str):
        sub = self._sub_environ(environ, share, path)
        return sub["wsgidav.provider"].get_resource_inst(path, sub)

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
        _log.info("share link %s made by %s: %s %s", spec.id, user, kind, self._shown(spec))
        return link

    # -- /_s3dav/s/<token>... --------------------------------------------------------

    def _link_of(self, token: str) -> Link:
        st = self.settings
        try:
            link_id = parse_token(token)[0]
            link = st.store.get(link_id)
            verify_token(st.key, token, link.spec if link else None, st.clock())
        except Expired as exc:
            raise Answer("410 Gone", str(exc)) from None
        except BadToken as exc:
            raise Answer("404 Not Found", str(exc)) from None
        info = st.shares.get(link.spec.share)
        maker = st.users.get(link.user)
        if info is None or info.identity != link.spec.store or maker is None:
            raise Answer("404 Not Found", "no such share link (its share or maker is gone)")
        if not info.lets_in(link.user):
            raise Answer("404 Not Found", "no such share link (its maker may no longer share it)")
        return link

    def _public(self, environ, start_response, full: str):
        rest = full[len(PUBLIC_PREFIX) :]
        token, slash, sub = rest.partition("/")
        sub = "/" + sub
        try:
            validate_segments(sub)
        except BadPath as exc:
            raise Answer("400 Bad Request", f"bad path below the link: {exc}") from None
        link = self._link_of(token)
        link_url = PUBLIC_PREFIX + token
        method = environ["REQUEST_METHOD"]
        if link.password_hash and not self._has_password(environ, link):
            if method == "POST" and "urlencoded" in environ.get("CONTENT_TYPE", ""):
                return self._password_post(environ, start_response, link, full)
            if method in ("GET", "HEAD"):
                page = linkpages.password_page(full, wrong=False)
                return self._html(environ, start_response, "403 Forbidden", page, links_page=False)
            raise Answer("403 Forbidden", "this link needs its password (as the Basic password)")
        spec = link.spec
        if spec.kind == "file":
            if sub != "/" or slash:
                raise Answer("404 Not Found", "a file link opens its one file only")
            if method not in ("GET", "HEAD"):
                raise Answer("405 Method Not Allowed", "a share link is read-only", ALLOW_READ)
            return self._serve(environ, start_response, spec.share, spec.path)
        if spec.kind == "folder":
            if method not in ("GET", "HEAD"):
                raise Answer("405 Method Not Allowed", "a share link is read-only", ALLOW_READ)
            return self._folder(environ, start_response, link, sub, full, link_url)
        return self._dropbox(environ, start_response, link, sub, full, link_url)

    def _has_password(self, environ, link: Link) -> bool:
        st = self.settings
        if proof_ok(st.key, link.spec.id, link.password_hash, cookie_value(environ, "s3dav_link")):
            return True
        pair = basic_pair(environ.get("HTTP_AUTHORIZATION"))
        return pair is not None and self._check_password(environ, link, pair[1])

    def _check_password(self, environ, link: Link, password: str) -> bool:
        """The link's password, checked under the login throttle (per address and link)."""
        addr, who = request_client(environ), f"link:{link.spec.id}"
        ticket = None
        if self.throttle is not None:
            ticket = self.throttle.reserve(addr, who)
            if not isinstance(ticket, Ticket):
                raise Answer(
                    "429 Too Many Requests",
                    "too many wrong passwords; try again later",
                    [("Retry-After", str(int(ticket) + 1))],
                )
        if verify_password(password, link.password_hash):
            if ticket is not None:
                self.throttle.succeeded(addr, who, ticket)
            return True
        if ticket is not None:
            time.sleep(self.throttle.failed(ticket).delay)
        return False

    def _password_post(self, environ, start_response, link: Link, full: str):
        try:
            form = read_form(environ)
        except ValueError as exc:
            raise Answer("413 Content Too Large", str(exc)) from None
        if not self._check_password(environ, link, form.get("password", "")):
            page = linkpages.password_page(full, wrong=True)
            return self._html(environ, start_response, "403 Forbidden", page, links_page=False)
        proof = password_proof(self.settings.key, link.spec.id, link.password_hash)
        token_path = PUBLIC_PREFIX + full[len(PUBLIC_PREFIX) :].split("/", 1)[0]
        secure = "; Secure" if environ.get("wsgi.url_scheme") == "https" else ""
        cookie = f"s3dav_link={proof}; Path={token_path}; HttpOnly; SameSite=Lax{secure}"
        return self._see_other(start_response, quote(full), [("Set-Cookie", cookie)])

    def _serve(self, environ, start_response, share: str, path: str, **headers):
        """One GET/HEAD/PUT through the share's provider, its errors named by the link."""
        sub = self._sub_environ(environ, share, path)
        for key in CONDITIONS if sub["REQUEST_METHOD"] == "PUT" else ():
            sub.pop(key, None)
        sub.update(headers)
        return self._inner(environ, sub, start_response)

    def _inner(self, environ, sub, start_response):
        """Run the sub-request; an error answer is re-said without naming the share's path."""
        held: dict = {}

        def hold(status, headers, exc_info=None):
            held["status"], held["headers"] = status, headers
            if int(status[:3]) < 400:
                return start_response(status, headers, exc_info)
            return lambda _data: None

        app_iter = self.inner(sub, hold)
        try:
            chunks = iter(app_iter)
            first = next(chunks, b"")
            if int(held.get("status", "500")[:3]) >= 400:
                status = held["status"]
                reason = status.split(" ", 1)[-1].lower()
                if status.startswith("412") and sub["REQUEST_METHOD"] == "PUT":
                    reason = "a file of that name is there already (a drop box never overwrites)"
                environ["wsgidav.all_input_read"] = sub.get("wsgidav.all_input_read")
                yield from self._plain(environ, start_response, Answer(status, reason), "link")
                return
            environ["wsgidav.all_input_read"] = sub.get("wsgidav.all_input_read")
            yield first
            yield from chunks
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()

    def _folder(self, environ, start_response, link: Link, sub: str, full: str, link_url: str):
        spec = link.spec
        target = join_below(spec.path, sub)
        res = self._resource(environ, spec.share, target)
        if res is None:
            raise Answer("404 Not Found", "nothing of that name in the shared folder")
        if not res.is_collection:
            if full.endswith("/"):
                raise Answer("404 Not Found", "that is a file, not a folder")
            return self._serve(environ, start_response, spec.share, target)
        if not full.endswith("/"):
            start_response(
                "301 Moved Permanently", [("Location", quote(full) + "/"), ("Content-Length", "0")]
            )
            return [b""]
        rows = [
            Row(
                m.name,
                "",
                m.is_collection,
                None if m.is_collection else m.get_content_length(),
                m.get_last_modified(),
            )
            for m in res.get_member_list()
            if m is not None
        ]
        name = spec.path.strip("/").rsplit("/", 1)[-1] or spec.share.strip("/") or "files"
        title = f"Shared folder {name}" + ("/" + sub.strip("/") if sub.strip("/") else "")
        page = linkpages.folder_page(title, quote(full), rows, is_root=sub == "/")
        return self._html(environ, start_response, "200 OK", page, links_page=False)

    def _dropbox(self, environ, start_response, link: Link, sub: str, full: str, link_url: str):
        spec = link.spec
        method = environ["REQUEST_METHOD"]
        segments = [s for s in sub.split("/") if s]
        if method == "PUT" and len(segments) == 1:
            return self._serve(
                environ,
                start_response,
                spec.share,
                join_below(spec.path, sub),
                HTTP_IF_NONE_MATCH="*",
            )
        if sub != "/":
            raise Answer("403 Forbidden", "a drop box takes uploads only (PUT of one file name)")
        if method in ("GET", "HEAD"):
            uploaded = parse_qs(environ.get("QUERY_STRING", "")).get("uploaded", [""])[0]
            page = linkpages.dropbox_page(quote(full), uploaded)
            return self._html(environ, start_response, "200 OK", page, links_page=False)
        if method != "POST":
            raise Answer("405 Method Not Allowed", "a drop box takes PUT or the upload form")
        return self._form_upload(environ, start_response, link, full)

    def _form_upload(self, environ, start_response, link: Link, full: str):
        try:
            form = FormFile(environ["wsgi.input"].read, boundary_of(environ.get("CONTENT_TYPE")))
            name = form.open()
        except FormError as exc:
            raise Answer("400 Bad Request", str(exc), [("Connection", "close")]) from None
        try:
            validate_segments("/" + name)
            if not name:
                raise BadPath("no file chosen")
        except BadPath as exc:
            raise Answer("400 Bad Request", f"bad file name: {exc}", CLOSE) from None
        spec = link.spec
        sub = self._sub_environ(environ, spec.share, join_below(spec.path, name))
        for key in CONDITIONS:
            sub.pop(key, None)
        sub.pop("CONTENT_LENGTH", None)
        sub.update(REQUEST_METHOD="PUT", HTTP_IF_NONE_MATCH="*", CONTENT_TYPE="")
        sub["wsgi.input"] = ChunkReader(form.chunks())
        held: dict = {}

        def hold(status, headers, exc_info=None):
            held["status"] = status
            return lambda _data: None

        try:
            for _ in self.inner(sub, hold):
                pass
        except FormError as exc:
            raise Answer("400 Bad Request", str(exc), CLOSE) from None
        status = held.get("status", "500 Internal Server Error")
        environ["wsgidav.all_input_read"] = None  # the rest of the form: not read
        if status[:3] not in ("201", "204"):
            reason = status.split(" ", 1)[-1].lower()
            if status.startswith("412"):
                reason = "a file of that name is there already (a drop box never overwrites)"
            raise Answer(status, reason, CLOSE)
        return self._see_other(start_response, quote(full) + "?uploaded=" + quote(name), CLOSE)


ALLOW_READ = [("Allow", "GET, HEAD")]
CLOSE = [("Connection", "close")]


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
