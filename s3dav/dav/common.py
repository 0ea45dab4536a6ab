"""What files and folders share: the tree, the ref URL, dead properties on COPY/MOVE, mtimes."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from wsgidav import util
from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_FORBIDDEN, DAVError

from s3dav.dav.conventions import MTIME_PROPS
from s3dav.dav.request import CREATED
from s3dav.dav.wsgidav_compat import ref_url
from s3dav.store.keys import BadPath, path_to_key
from s3dav.store.tree import S3Tree

if TYPE_CHECKING:
    from s3dav.dav.provider import S3Provider

GETLASTMODIFIED = "{DAV:}getlastmodified"
GETCONTENTLENGTH = "{DAV:}getcontentlength"
GETETAG = "{DAV:}getetag"
RESOURCETYPE = "{DAV:}resourcetype"

# RFC 1123 dates of modification times: a listing shows the same few thousand again and again.
http_date = functools.lru_cache(maxsize=1 << 16)(util.get_rfc1123_time)


def child_key(dir_key: str, name: str, *, collection: bool = False) -> str:
    """The key of a new member `name` (stored NFC) of the folder at `dir_key`."""
    try:
        return path_to_key("/" + name, dir_key, collection=collection)
    except BadPath as exc:
        raise DAVError(HTTP_BAD_REQUEST, f"bad name {name!r}: {exc}") from exc


class S3Resource:
    """Bits shared by files and collections."""

    provider: S3Provider
    environ: dict
    path: str

    @property
    def tree(self) -> S3Tree:
        return self.provider.tree

    def get_ref_url(self):
        """WsgiDAV's, computed once: every property, lock and dead-property lookup asks."""
        ref = self.__dict__.get("_ref_url")
        if ref is None:
            ref = self._ref_url = super().get_ref_url()
        return ref

    def _dest_key(self, dest_path: str, *, collection: bool = False) -> str:
        return self.provider.write_key(dest_path, self.environ, collection=collection)

    def _props_copy(self, dest_path: str, *, move: bool, children: bool) -> None:
        pm = self.provider.prop_manager
        if not pm:
            return
        src_url = self.get_ref_url()
        dest_url = ref_url(self.provider.share_path, dest_path, collection=self.is_collection)
        if move:
            pm.move_properties(src_url, dest_url, with_children=children, environ=self.environ)
        elif children:
            pm.copy_tree_properties(src_url, dest_url)
        else:
            pm.copy_properties(src_url, dest_url, self.environ)

    def set_property_value(self, name, value, *, dry_run=False):
        """Also take the mtime from the `lastmodified` forms ownCloud clients send."""
        if name in MTIME_PROPS or name == GETLASTMODIFIED:
            # getlastmodified too: WsgiDAV's own handling turns any error into 403.
            if value is None:
                raise DAVError(HTTP_FORBIDDEN, f"{name} cannot be removed")
            return self.set_last_modified(self.path, value.text, dry_run=dry_run)
        return super().set_property_value(name, value, dry_run=dry_run)

    def _mark_created(self, dest_path: str) -> None:
        existed = self.provider.get_resource_inst(dest_path, self.environ) is not None
        self.environ[CREATED] = not existed
