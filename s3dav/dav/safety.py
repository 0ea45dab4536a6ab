"""Serving user content so that it cannot script the gateway's origin (issue 18).

Every share lives on the same origin, and a browser that logged in sends the
same Basic credentials to all of them. A user's HTML, SVG or XML file that ran
its script there could read and write every share its viewer may use. So:

- every answer of the WebDAV stack says `X-Content-Type-Options: nosniff` (no guessing a type);
- every file (GET/HEAD) carries `Content-Security-Policy: sandbox; default-src 'none'...`:
  even a page a browser renders runs no script and gets an opaque origin;
- a file that a browser would render actively (by the Content-Type served OR by
  its name's extension) is sent as `Content-Disposition: attachment`, unless its
  share sets `inline_active_content: true` (the sandbox stays even then);
- the gateway's own pages (folder listing, share list) get their own strict CSP
  (the one inline style by hash; no inline script, no eval: the listing page may run
  only the gateway's own `/_s3dav/app.js`, matched by its hash, and talk only to its
  own origin), `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`;
- the gateway's own static files under `/_s3dav/` (webui.py) keep only `nosniff`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from urllib.parse import quote

from wsgidav.mw.base_mw import BaseMiddleware

# Set in environ by the gateway's own HTML pages (browser.py); they get PAGE headers.
OWN_PAGE = "s3dav.own_page"
# Set beside OWN_PAGE by a page that loads the gateway's script: its CSP hash source.
OWN_SCRIPT = "s3dav.own_script"
# Set by the gateway's own static files (webui.py): not user content, no file headers.
OWN_ASSET = "s3dav.own_asset"

NOSNIFF = ("X-Content-Type-Options", "nosniff")

# No script, no plugins, no forms, an opaque origin; images, media and styles of the
# page itself still load so that a (sandboxed) inline view looks right.
FILE_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self';"
    " style-src 'self' 'unsafe-inline'; font-src 'self'; frame-ancestors 'none'"
)

# Types a browser renders as a document that can run script (or a plugin that can).
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "application/pdf",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
        "text/x-javascript",
        "text/jscript",
        "application/x-shockwave-flash",
        "multipart/x-mixed-replace",
        "message/rfc822",
        "multipart/related",
        "application/x-mimearchive",
        "text/vtt",
    }
)

# Names that mean an active document whatever type the object was stored with.
ACTIVE_EXTENSIONS = frozenset(
    {
        ".html",
        ".htm",
        ".shtml",
        ".xhtml",
        ".xht",
        ".svg",
        ".svgz",
        ".xml",
        ".xsl",
        ".xslt",
        ".js",
        ".mjs",
        ".pdf",
        ".swf",
        ".mht",
        ".mhtml",
        ".rdf",
        ".rss",
        ".atom",
    }
)


def media_type(content_type: str | None) -> str:
    """`text/html; charset=utf-8` -> `text/html` (lower case, no parameters)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_active_type(content_type: str | None) -> bool:
    """Would a browser render this type as a document that may run script?

    A missing or unparseable type counts as active: a browser would guess it.
    """
    mtype = media_type(content_type)
    if "/" not in mtype:
        return True
    return (
        mtype in ACTIVE_TYPES
        or mtype.endswith("+xml")
        or mtype.endswith("/xml")
        or "javascript" in mtype
        or "ecmascript" in mtype
        or "html" in mtype
    )


def is_active_name(name: str) -> bool:
    """Does the file's name say it is an active document (`evil.html`, `x.svg`)?"""
    lower = name.lower()
    dot = lower.rfind(".")
    if dot >= 0 and lower[dot:] in ACTIVE_EXTENSIONS:
        return True
    guessed = mimetypes.guess_type(lower, strict=False)[0]
    return guessed is not None and is_active_type(guessed)


def content_disposition(name: str) -> str:
    """`attachment` with the file's name, ASCII fallback plus RFC 5987 UTF-8 form."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name)}"


def style_hash(style: str) -> str:
    """The CSP source that allows exactly this inline <style> text."""
    digest = hashlib.sha256(style.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_headers(style: str, script: str | None = None) -> list[tuple[str, str]]:
    """Headers for the gateway's own HTML pages: this one style, no framing.

    `script` (a hash source) lets the page run that one external script (the
    `<script integrity=...>` must carry the same hash) and fetch from its own
    origin only; without it the page runs no script at all.
    """
    scripting = f"script-src {script}; connect-src 'self'; " if script else ""
    csp = (
        f"default-src 'none'; {scripting}style-src {style_hash(style)}; img-src 'self' data:;"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    ]


def file_headers(
    headers: list[tuple[str, str]], name: str, *, inline_active: bool
) -> list[tuple[str, str]]:
    """The headers of a file answer (GET/HEAD 200/206) made safe to open in a browser."""
    served = next((v for k, v in headers if k.lower() == "content-type"), None)
    out = [(k, v) for k, v in headers if k.lower() not in ("content-security-policy",)]
    out.append(("Content-Security-Policy", FILE_CSP))
    if not inline_active and (is_active_type(served) or is_active_name(name)):
        out = [(k, v) for k, v in out if k.lower() != "content-disposition"]
        out.append(("Content-Disposition", content_disposition(name)))
    return out


def with_header(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """`headers` with `name` set to `value` once (any earlier value dropped)."""
    return [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]


class SafeContent(BaseMiddleware):
    """WsgiDAV middleware (outermost): the headers above on every answer."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.inline_shares: set[str] = set(config["s3dav"].get("inline_active_shares", []))

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "")

        def safe_start(status, headers, exc_info=None):
            headers = with_header(list(headers), *NOSNIFF)
            if environ.get(OWN_PAGE):
                for key, value in page_headers(environ[OWN_PAGE], environ.get(OWN_SCRIPT)):
                    headers = with_header(headers, key, value)
            elif environ.get(OWN_ASSET):
                pass
            elif method in ("GET", "HEAD"):
                if status[:3] in ("200", "206"):
                    headers = file_headers(
                        headers,
                        environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1],
                        inline_active=self._inline(environ),
                    )
                else:
                    headers = with_header(headers, "Content-Security-Policy", FILE_CSP)
            return start_response(status, headers, exc_info)

        return self.next_app(environ, safe_start)

    def _inline(self, environ) -> bool:
        provider = environ.get("wsgidav.provider")
        share = "/" + (getattr(provider, "share_path", "") or "").strip("/")
        return share in self.inline_shares
