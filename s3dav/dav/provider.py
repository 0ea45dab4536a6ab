"""The WsgiDAV provider: one share's paths resolved to files and folders over one S3Tree.

Resources (dav/files.py, dav/folders.py, their shared base in dav/common.py)
are built from a listing entry or a HEAD that the tree already holds; their
getters never call S3. Writes go through the tree, which records them in the
read-your-writes overlay. Client conventions (X-OC-Mtime, checksums, Win32
times) are in dav/conventions.py.
"""

from __future__ import annotations

import logging
import unicodedata

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    DAVError,
)
from wsgidav.dav_provider import DAVProvider

from s3dav.dav.common import child_key
from s3dav.dav.faults import as_s3_error
from s3dav.dav.files import S3File
from s3dav.dav.folders import S3Collection
from s3dav.dav.propfind import do_propfind, finite_depth
from s3dav.dav.request import RESOLVED, forget_resolved, rechecks_misses
from s3dav.dav.wsgidav_compat import request_server
from s3dav.store.keys import BadPath, path_to_key
from s3dav.store.listing import DirInfo
from s3dav.store.objmeta import is_macos_metadata
from s3dav.store.tree import S3Tree

_log = logging.getLogger(__name__)

# The gateway's own endpoints (answered by server/middleware.py before WsgiDAV): no share
# at "/" may hold a file of these names.
RESERVED_PATHS = ("/healthz", "/readyz", "/metrics")
# The gateway's own web UI (dav/webui.py: script, share-link pages): no share at "/"
# may hold a file or folder of this name, nor write anything below it.
RESERVED_PREFIX = "/_s3dav"


def wants_collection(path: str, environ: dict) -> bool:
    """Whether the request asks for `path` as a collection: a trailing slash, or it is
    the target of a PROPFIND Depth 1 (then the folder's own LIST resolves it: Resolver.stat)."""
    if path.endswith("/"):
        return True
    return (
        environ.get("REQUEST_METHOD") == "PROPFIND"
        and environ.get("HTTP_DEPTH", "").strip() == "1"
        and path.strip("/") == environ.get("PATH_INFO", "").strip("/")
    )


class S3Provider(DAVProvider):
    """Maps one share (bucket + prefix) onto WebDAV."""

    def __init__(
        self,
        tree: S3Tree,
        *,
        read_only: bool = False,
        macos_metadata: str = "store",
        quota_bytes: int | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.readonly = read_only
        self.macos_metadata = macos_metadata
        self.quota_bytes = quota_bytes

    def __repr__(self) -> str:
        return f"S3Provider(s3://{self.tree.bucket}/{self.tree.prefix})"

    def is_readonly(self) -> bool:
        return self.readonly

    def key_for(self, path: str, *, collection: bool = False) -> str:
        try:
            return path_to_key(path, self.tree.prefix, collection=collection)
        except BadPath as exc:
            raise DAVError(HTTP_BAD_REQUEST, f"bad path: {exc}") from exc

    def write_key(self, path: str, environ: dict, *, collection: bool = False) -> str:
        """The key a write to `path` goes to: the key of what is shown there, else a new
        NFC name inside the parent folder's real key.

        Listed names need not be their keys (NFD keys, alternate names), so a new
        file in a folder whose key is NFD lands beside its siblings, and overwriting
        an entry shown by an alternate name overwrites that entry.
        """
        self.key_for(path, collection=collection)  # refuses what no key may be
        res = self.get_resource_inst(path, environ)
        if isinstance(res, S3File) and not collection:
            return res.key
        if isinstance(res, S3Collection) and collection:
            return res.dir_key
        parent = self.get_resource_inst(util.get_uri_parent("/" + path.strip("/")), environ)
        if isinstance(parent, S3Collection):
            return child_key(parent.dir_key, util.get_uri_name(path), collection=collection)
        return self.key_for(path, collection=collection)

    def get_resource_inst(self, path: str | None, environ: dict):
        if path is None:  # the parent of the share root (WsgiDAV asks for it in COPY/MOVE/DELETE)
            return None
        memo = environ.setdefault(RESOLVED, {})
        norm = "/" + path.strip("/")
        if norm in memo:
            return memo[norm]
        key = self.key_for(path)
        norm = "/" + "/".join(unicodedata.normalize("NFC", s) for s in norm.split("/") if s)
        if key == self.tree.prefix:
            res = S3Collection("/", environ, DirInfo(key=self.tree.prefix))
        else:
            try:
                info = self.tree.stat(
                    key,
                    want_dir=wants_collection(path, environ),
                    recheck=rechecks_misses(environ),
                )
            except Exception as exc:
                raise as_s3_error(exc, f"looking up {path}") from exc
            if info is None:
                res = None
            elif isinstance(info, DirInfo):
                res = S3Collection(norm, environ, info)
            else:
                res = S3File(norm, environ, info)
        memo[norm] = res
        return res

    def custom_request_handler(self, environ, start_response, default_handler):
        """PROPFIND by dav/propfind.py, never of a whole bucket (finite_depth); a GET
        opens its S3 read before WsgiDAV writes the headers (S3File.prepare_read)."""
        if environ.get("REQUEST_METHOD") == "PROPFIND":
            finite_depth(environ, lambda: self.get_resource_inst(environ["PATH_INFO"], environ))
            server = request_server(default_handler)
            if server is not None:
                return do_propfind(self, server, environ, start_response)
        conditional = any(k.startswith("HTTP_IF_") for k in environ)
        if environ.get("REQUEST_METHOD") == "GET" and not conditional:
            # (a conditional GET may end in 304/412: no S3 read before WsgiDAV decides)
            res = self.get_resource_inst(environ["PATH_INFO"], environ)
            if isinstance(res, S3File) and not res.prepare_read():
                forget_resolved(environ)  # deleted meanwhile: WsgiDAV answers 404
                environ.setdefault(RESOLVED, {})["/" + environ["PATH_INFO"].strip("/")] = None
        return default_handler(environ, start_response)

    def check_writable(self, name: str | None = None, path: str | None = None) -> None:
        """Refuse writes to a read-only share, refused macOS files and reserved names."""
        if self.readonly:
            raise DAVError(HTTP_FORBIDDEN, "this share is read-only")
        if path is not None and self.share_path in ("", "/"):
            here = "/" + path.strip("/")
            if here in RESERVED_PATHS or (here + "/").startswith(RESERVED_PREFIX + "/"):
                raise DAVError(HTTP_FORBIDDEN, f"{path} is reserved for the gateway itself")
        if name is not None and self.macos_metadata == "refuse" and is_macos_metadata(name):
            raise DAVError(HTTP_FORBIDDEN, f"macOS metadata files ({name}) are refused here")
