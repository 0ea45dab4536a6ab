"""The gateway's own static files under `/_s3dav/`: the listing page's script.

The listing page (browser.py) works without script; `app.js` adds upload (files
and folders, by picker or drop, with progress), new folder, rename, delete and
column sorting, all through the same WebDAV methods any client uses. The page's
CSP allows exactly this script, by its SHA-256 (the `<script>` tag carries the same
hash as `integrity`), and nothing inline; its URL carries the hash too, so a
browser may cache it for long and never runs an old copy with a new page.

`UiAssets` sits outside the authenticator: the script is the same for everyone
and holds no data. Any other `/_s3dav/...` path is left to the rest of the stack
(share-link pages live there too).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources

from wsgidav import util
from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.dav.provider import RESERVED_PREFIX
from s3dav.dav.safety import OWN_ASSET

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


def script_tag(asset: Asset = APP_JS) -> str:
    """The one `<script>` of the listing page (deferred, hash-checked)."""
    return f'<script src="{asset.url}" integrity="{asset.sri}" defer></script>'


class UiAssets(BaseMiddleware):
    """GET/HEAD of `/_s3dav/app.js`: the script, cacheable, with no user data in it."""

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        asset = ASSETS.get(path)
        if asset is None or environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
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
