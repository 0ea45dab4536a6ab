"""The public side of the share links: `/_s3dav/s/<token>...` for anyone (sharelinks.py).

A file link downloads its file (Range works); a folder link lists its folder
read-only and serves what is below it, nothing else; a drop box takes
`PUT /_s3dav/s/<token>/<name>` or the page's upload form, never overwrites, and
shows nothing. A password-protected link wants its password once (form, then a
cookie for this link only) or as the Basic password (`curl -u :secret`); wrong
guesses count in the login throttle. What follows the token gets the path
checks of store/keys.py, and everything is served by the share's own provider
through `inner` (sharelinks.py: the safety, error and S3-failure layers).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, quote

from s3dav.dav.browser import Row
from s3dav.passwords import verify_password
from s3dav.server import linkpages
from s3dav.server.clientaddr import request_client
from s3dav.server.formupload import ChunkReader, FormError, FormFile, boundary_of
from s3dav.server.linkcommon import (
    PUBLIC_PREFIX,
    Answer,
    LinkSettings,
    html,
    plain,
    resource,
    see_other,
    sub_environ,
)
from s3dav.server.linkhelpers import basic_pair, cookie_value, join_below, read_form
from s3dav.server.linkstore import Link
from s3dav.server.linktokens import (
    BadToken,
    Expired,
    parse_token,
    password_proof,
    proof_ok,
    verify_token,
)
from s3dav.server.throttle import Ticket
from s3dav.store.keys import BadPath, validate_segments

# WebDAV request headers a link's PUT must not carry: a drop box never overwrites.
CONDITIONS = ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_MODIFIED_SINCE")
ALLOW_READ = [("Allow", "GET, HEAD")]
CLOSE = [("Connection", "close")]
NO_OVERWRITE = "a file of that name is there already (a drop box never overwrites)"


class PublicLinks:
    """`/_s3dav/s/<token>...`: what one link serves, through the share's provider."""

    def __init__(self, settings: LinkSettings | None, throttle, inner) -> None:
        self.settings = settings
        self.throttle = throttle
        self.inner = inner

    def __call__(self, environ, start_response, full: str):
        rest = full[len(PUBLIC_PREFIX) :]
        token, slash, sub = rest.partition("/")
        sub = "/" + sub
        try:
            validate_segments(sub)
        except BadPath as exc:
            raise Answer("400 Bad Request", f"bad path below the link: {exc}") from None
        link = self._link_of(token)
        method = environ["REQUEST_METHOD"]
        if link.password_hash and not self._has_password(environ, link):
            if method == "POST" and "urlencoded" in environ.get("CONTENT_TYPE", ""):
                return self._password_post(environ, start_response, link, full)
            if method in ("GET", "HEAD"):
                page = linkpages.password_page(full, wrong=False)
                return html(environ, start_response, "403 Forbidden", page, links_page=False)
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
            return self._folder(environ, start_response, link, sub, full)
        return self._dropbox(environ, start_response, link, sub, full)

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

    # -- the password ----------------------------------------------------------------

    def _has_password(self, environ, link: Link) -> bool:
        st = self.settings
        if proof_ok(st.key, link.spec.id, link.password_hash, cookie_value(environ, "s3dav_link")):
            return True
        # Only `-u :password` (an empty user name) is a link password: a browser that
        # logged in to the gateway sends that login here too, and it must not count as
        # wrong guesses at the link's password (nor block the address's logins).
        pair = basic_pair(environ.get("HTTP_AUTHORIZATION"))
        return pair is not None and pair[0] == "" and self._check_password(environ, link, pair[1])

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
            return html(environ, start_response, "403 Forbidden", page, links_page=False)
        proof = password_proof(self.settings.key, link.spec.id, link.password_hash)
        token_path = PUBLIC_PREFIX + full[len(PUBLIC_PREFIX) :].split("/", 1)[0]
        secure = "; Secure" if environ.get("wsgi.url_scheme") == "https" else ""
        cookie = f"s3dav_link={proof}; Path={token_path}; HttpOnly; SameSite=Lax{secure}"
        return see_other(start_response, quote(full), [("Set-Cookie", cookie)])

    # -- serving -------------------------------------------------------------------

    def _serve(self, environ, start_response, share: str, path: str, **headers):
        """One GET/HEAD/PUT through the share's provider, its errors named by the link."""
        sub = sub_environ(self.settings, environ, share, path)
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
                    reason = NO_OVERWRITE
                environ["wsgidav.all_input_read"] = sub.get("wsgidav.all_input_read")
                yield from plain(environ, start_response, Answer(status, reason), "link")
                return
            environ["wsgidav.all_input_read"] = sub.get("wsgidav.all_input_read")
            yield first
            yield from chunks
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()

    def _folder(self, environ, start_response, link: Link, sub: str, full: str):
        spec = link.spec
        target = join_below(spec.path, sub)
        res = resource(self.settings, environ, spec.share, target)
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
        return html(environ, start_response, "200 OK", page, links_page=False)

    # -- the drop box ----------------------------------------------------------------

    def _dropbox(self, environ, start_response, link: Link, sub: str, full: str):
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
            return html(environ, start_response, "200 OK", page, links_page=False)
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
        sub = sub_environ(self.settings, environ, spec.share, join_below(spec.path, name))
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
                reason = NO_OVERWRITE
            raise Answer(status, reason, CLOSE)
        return see_other(start_response, quote(full) + "?uploaded=" + quote(name), CLOSE)
