"""The gateway's own static files under `/_s3dav/`: the listing page's script.

The listing page (browser.py) works without script; `app.js` adds upload (files
and folders, by picker or drop, with progress), new folder, rename, delete and
column sorting, all through the same WebDAV methods any client uses. The page's
CSP allows exactly this script, by its SHA-256 (the `<script>` tag carries the same
hash as `integrity`), and nothing inline; its URL carries the hash too, so a
browser may cache it for long and never runs an old copy with a new page.

`UiAssets` sits outside the authenticator: the script is the same for everyone
and holds no data. It also refuses every WebDAV write into `/_s3dav` (403, the
same answer whether or not a share at `/` has such a folder); any other
`/_s3dav/...` request is left to the rest of the stack (share-link pages live there).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources
from urllib.parse import unquote, urlsplit

from wsgidav import util
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.provider import RESERVED_PREFIX
from s3dav.dav.safety import OWN_ASSET

# WebDAV methods that would write at their URL (or Destination, see provider.check_writable).
WRITE_METHODS = frozenset({"PUT", "MKCOL", "DELETE", "MOVE", "COPY", "PROPPATCH", "LOCK"})
MOVE_COPY = ("MOVE", "COPY")

ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, type and the hash that the page's CSP names."""

    name: str
    body: bytes
    content_type: str

    @property
    def sri(self) -> str:
        """`sha256-<base64>`: the `integrity` attribute and, quoted, the CSP source."""
        return "sha256-" + base64.b64encode(hashlib.sha256(self.body).digest()).decode()

    @property
    def csp_source(self) -> str:
        return f"'{self.sri}'"

    @property
    def url(self) -> str:
        """Where the page loads it from; the version makes a stale cached copy impossible."""
        version = hashlib.sha256(self.body).hexdigest()[:12]
        return f"{RESERVED_PREFIX}/{self.name}?v={version}"


def load_asset(name: str) -> Asset:
    """Read `s3dav/dav/assets/<name>` (package data; see pyproject.toml)."""
    body = resources.files("s3dav.dav").joinpath("assets", name).read_bytes()
    suffix = name[name.rfind(".") :]
    return Asset(name, body, ASSET_TYPES[suffix])


APP_JS = load_asset("app.js")
ASSETS = {f"{RESERVED_PREFIX}/{a.name}": a for a in (APP_JS,)}


def in_reserved(path: str) -> bool:
    """Is `path` (as asked, share included) `/_s3dav` or below it?"""
    return ("/" + path.strip("/") + "/").startswith(RESERVED_PREFIX + "/")


def script_tag(asset: Asset = APP_JS) -> str:
    """The one `<script>` of the listing page (deferred, hash-checked)."""
    return f'<script src="{asset.url}" integrity="{asset.sri}" defer></script>'


class UiAssets(BaseMiddleware):
    """GET/HEAD of `/_s3dav/app.js`: the script, cacheable, with no user data in it."""

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if method in WRITE_METHODS and in_reserved(path):
            return refuse(start_response, method, path, path)
        dest = destination_path(environ.get("HTTP_DESTINATION")) if method in MOVE_COPY else ""
        if dest and in_reserved(dest):
            return refuse(start_response, method, path, dest)
        asset = ASSETS.get(path)
        if asset is None or method not in ("GET", "HEAD"):
            return self.next_app(environ, start_response)
        environ[OWN_ASSET] = True
        start_response(
            "200 OK",
            [
                ("Content-Type", asset.content_type),
                ("Content-Length", str(len(asset.body))),
                ("Cache-Control", "public, max-age=86400"),
                ("ETag", f'"{asset.sri}"'),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [asset.body]


def destination_path(dest: str | None) -> str:
    """The path of a Destination header (absolute URL or path), decoded; "" if none."""
    return unquote(urlsplit(dest).path) if dest else ""


def refuse(start_response, method: str, path: str, reserved: str):
    """403 in the gateway's one-line error form, naming the path asked for."""
    body = f"403 Forbidden: {method} {path}: {reserved} is reserved for the gateway itself\n"
    data = body.encode()
    start_response(
        "403 Forbidden",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Date", util.get_rfc1123_time()),
        ],
    )
    return [data]
