"""A folder: a prefix, a `dir/` marker or both (docs/SEMANTICS.md, *Folders*)."""

from __future__ import annotations

import unicodedata

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection

from s3dav.dav.common import S3Resource, child_key
from s3dav.dav.conventions import client_mtime, requested_time
from s3dav.dav.faults import as_s3_error
from s3dav.dav.files import S3File
from s3dav.dav.request import RESOLVED, forget_resolved
from s3dav.errors import key_failure
from s3dav.store.keys import FOLDER_SUFFIX, tree_dest_keys
from s3dav.store.listing import DirInfo, FileInfo


class S3Collection(S3Resource, DAVCollection):
    """One folder (WsgiDAV's base class takes the provider from the request's environ)."""

    def __init__(self, path: str, environ: dict, info: DirInfo) -> None:
        DAVCollection.__init__(self, path, environ)
        self.info = info
        self.dir_key = info.key

    # -- live properties ----------------------------------------------------------
    def get_last_modified(self):
        """Never None (S3Tree.folder_date); asked for by several properties, computed once
        per resource until its own listing is read (which may date it better)."""
        t = self.__dict__.get("_date")
        if t is None:
            t = self._date = self.tree.folder_date(self.dir_key)
        return t

    def get_creation_date(self):
        return self.get_last_modified()

    def get_display_info(self):
        return {"type": "Directory"}

    def set_last_modified(self, dest_path, time_stamp, *, dry_run):
        """A folder's time lives in its marker (as s3fs keeps it): rewrite the marker."""
        t = requested_time(time_stamp, self.path)
        if dry_run:
            return True
        self.provider.check_writable()
        if self.dir_key == self.tree.prefix:
            return True  # the share root has no marker of its own
        marker = self.tree.dir_marker_info(self.dir_key)
        if marker is not None and marker.mtime is not None and abs(marker.mtime - t) < 1:
            return True
        try:
            self.tree.set_dir_mtime(self.dir_key, t)
        except Exception as exc:
            raise as_s3_error(exc, f"setting the time of {self.path}") from exc
        self.__dict__.pop("_date", None)
        forget_resolved(self.environ)
        return True

    def get_used_bytes(self):
        """Bytes of the files directly in this folder, from a listing.

        Only the request's own target may cost a LIST; for members of a Depth 1
        PROPFIND the figure is given only when their listing is already cached.
        """
        own = "/" + self.environ.get("PATH_INFO", "").strip("/") == "/" + self.path.strip("/")
        try:
            if own:
                listing = self.tree.listing(self.dir_key)
            else:
                listing = self.tree.cached_listing(self.dir_key)
                if listing is None:
                    return None
        except Exception:  # noqa: BLE001 - a quota figure must not fail PROPFIND
            return None
        return sum(f.size for f in listing.files.values())

    def get_available_bytes(self):
        if self.provider.quota_bytes is None:
            return 2**50  # S3 has no practical limit: 1 PiB
        used = self.get_used_bytes() or 0
        return max(0, self.provider.quota_bytes - used)

    # -- members ------------------------------------------------------------------
    def _listing(self, *, read_ahead: bool = False):
        self.__dict__.pop("_date", None)
        try:
            return self.tree.listing(self.dir_key, read_ahead=read_ahead)
        except Exception as exc:
            raise as_s3_error(exc, f"listing {self.path}") from exc

    def get_member_names(self):
        return self._listing().names()

    def _member(self, name: str, listing):
        path = util.join_uri(self.path, name)
        memo = self.environ.setdefault(RESOLVED, {})
        info = listing.lookup(name)
        if isinstance(info, DirInfo):
            res = S3Collection(path, self.environ, info)
        elif isinstance(info, FileInfo):
            res = S3File(path, self.environ, info)
        else:
            return None
        memo["/" + path.strip("/")] = res
        return res

    def get_member(self, name):
        return self._member(unicodedata.normalize("NFC", name), self._listing())

    def get_member_list(self):
        listing = self._listing(read_ahead=True)
        return [self._member(name, listing) for name in listing.names()]

    # -- creating -----------------------------------------------------------------
    def create_empty_resource(self, name):
        path = util.join_uri(self.path, name)
        self.provider.check_writable(name, path)
        self.provider.key_for(path)  # the path's own checks (its length)
        key = child_key(self.dir_key, name)
        forget_resolved(self.environ)
        if self.environ.get("REQUEST_METHOD") == "PUT":
            # The body follows in this same request: nothing is written until it
            # has arrived, so no empty object ever replaces or precedes it.
            return S3File(path, self.environ, None, key=key)
        try:
            info = self.tree.put_empty(key)  # LOCK on an unmapped URL
        except Exception as exc:
            raise as_s3_error(exc, f"creating {path}") from exc
        return S3File(path, self.environ, info)

    def create_collection(self, name):
        path = util.join_uri(self.path, name)
        self.provider.check_writable(name, path)
        self.provider.key_for(path, collection=True)  # the path's own checks (its length)
        dir_key = child_key(self.dir_key, name, collection=True)
        try:
            self.tree.make_dir(dir_key, client_mtime(self.environ))
        except DAVError:
            raise
        except Exception as exc:
            raise as_s3_error(exc, f"creating {path}") from exc
        forget_resolved(self.environ)

    # -- deleting -----------------------------------------------------------------
    def support_recursive_delete(self):
        return True

    def _delete_tree_only(self) -> list:
        try:
            errors = self.tree.delete_tree(self.dir_key)
        except Exception as exc:
            raise as_s3_error(exc, f"deleting {self.path}") from exc
        forget_resolved(self.environ)
        return self._refused(errors)

    def _refused(self, errors: list[tuple[str, str]], dir_key=None, href=None) -> list:
        """(href, DAVError) for each member S3 would not delete, for a 207."""
        out = []
        for key, code in errors:
            failure = key_failure(code)
            error = DAVError(failure.status, f"{key}: {failure.reason}")
            out.append((self._member_href(key, dir_key, href), error))
        return out

    def delete(self):
        self.provider.check_writable()
        errors = self._delete_tree_only()
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)
        return errors

    def remove_all_properties(self, *, recursive):
        pm = self.provider.prop_manager
        if pm and recursive:
            pm.remove_tree_properties(self.get_ref_url())
        elif pm:
            pm.remove_properties(self.get_ref_url(), self.environ)

    # -- copying and moving -------------------------------------------------------
    def copy_move_single(self, dest_path, *, is_move):
        """Depth 0 COPY of a collection: the folder without its members."""
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        dir_key = self._dest_key(dest_path, collection=True)
        try:
            self.tree.make_dir(dir_key)
        except Exception as exc:
            raise as_s3_error(exc, f"creating {dest_path}") from exc
        self._props_copy(dest_path, move=is_move, children=False)
        forget_resolved(self.environ)

    def handle_copy(self, dest_path, *, depth_infinity):
        if not depth_infinity:
            return False
        self._mark_created(dest_path)
        return self._copy_tree(dest_path, move=False) or True

    def handle_move(self, dest_path):
        self._mark_created(dest_path)
        return self._copy_tree(dest_path, move=True) or True

    def _member_href(self, key: str, dir_key: str | None = None, href: str | None = None) -> str:
        """The href of the object `key` below this folder (or below the folder `dir_key`
        at `href`: a copy's destination), for a 207 answer."""
        dir_key = self.dir_key if dir_key is None else dir_key
        href = self.get_href() if href is None else href
        rel = key[len(dir_key) :]
        if not rel:
            return href
        return href.rstrip("/") + "/" + util.quote(rel)

    def _copy_tree(self, dest_path: str, *, move: bool) -> list:
        """Server-side copy of the whole folder; a move deletes only what was copied.

        (href, DAVError) of each member that failed, for a 207; [] when all went.
        """
        dst_dir = self._tree_dest_key(dest_path)
        dest = self.provider.get_resource_inst(dest_path, self.environ)
        try:
            failed = self._copy_members(dst_dir, dest, dest_path, move=move)
        except DAVError:
            raise
        except Exception as exc:
            raise as_s3_error(exc, f"copying {self.path}") from exc
        if failed:
            return failed
        self._props_copy(dest_path, move=move, children=True)
        if move:
            self.remove_all_locks(recursive=True)
        forget_resolved(self.environ)
        return []

    def _tree_dest_key(self, dest_path: str) -> str:
        """The destination folder's key, once the share may be written there and it is
        neither this folder nor inside it."""
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        dst_dir = self._dest_key(dest_path, collection=True)
        if dst_dir.startswith(self.dir_key):
            raise DAVError(HTTP_FORBIDDEN, f"{dest_path} is {self.path} or below it")
        return dst_dir

    def _copy_members(self, dst_dir: str, dest, dest_path: str, *, move: bool) -> list:
        """Copy every object below this folder to `dst_dir`, then delete what the copy
        replaced and, for a move, the sources.

        If any member fails to copy, nothing is deleted: every source stays, so a
        repeat of the request completes the job.
        """
        old_keys = self._keys_at(dest, dst_dir)
        if move:
            self.tree.keep_parent(self.dir_key)
        copied, errors = self.tree.copy_tree(self.dir_key, dst_dir)
        if errors:
            return [(self._member_href(k), as_s3_error(exc, f"copying {k}")) for k, exc in errors]
        failed = self._drop_replaced(dest, old_keys, copied, dst_dir, dest_path)
        return failed + (self._delete_sources(copied) if move else [])

    def _keys_at(self, dest, dst_dir: str) -> list[str]:
        """The keys already below a destination folder (before the copy)."""
        if dest is None or not dest.is_collection:
            return []
        return [e["Key"] for e in self.tree.list_all(dst_dir)]

    def _drop_replaced(
        self, dest, old_keys: list[str], copied: list[str], dst_dir: str, dest_path: str
    ) -> list:
        """What was at the destination and the copy did not overwrite goes (RFC 4918 9.8.4),
        with the destination's dead properties; (href, DAVError) of each that S3 kept."""
        new_keys = set(tree_dest_keys(copied, self.dir_key, dst_dir).values())
        stale = [k for k in old_keys if k not in new_keys]
        if dest is not None and not dest.is_collection:
            stale.append(dest.key)
        errors = self.tree.remove_keys(stale) if stale else []
        if dest is not None:
            dest.remove_all_properties(recursive=True)
        return self._refused(errors, dst_dir, util.quote(self.provider.share_path + dest_path))

    def _delete_sources(self, copied: list[str]) -> list:
        """After a move's copy: delete the sources (and an old `_$folder$` marker)."""
        failed = self.tree.remove_moved_tree(
            self.dir_key, copied + [self.dir_key.rstrip("/") + FOLDER_SUFFIX]
        )
        return self._refused(failed)
