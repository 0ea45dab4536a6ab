"""Fetching and caching folders' earlier versions, and restoring one (docs/SEMANTICS.md,
*Earlier versions*; the names and what is shown: versions.py).

A folder's versions cost one ListObjectVersions page (Prefix = the folder, Delimiter "/")
per 1000 entries, kept like listings for `metadata_ttl` in a ListingCache of their own
(one fetch at a time per folder). The gateway's own writes drop the cached versions of the
folders they touch (an Overlay listener), so a version a PUT or DELETE has just made shows
at once. Restoring is a server-side copy of the version onto a normal key.
"""

from __future__ import annotations

import time

from s3dav.store.commit import Commits
from s3dav.store.copydelete import CopyDelete
from s3dav.store.heads import Heads
from s3dav.store.keys import parent_and_name
from s3dav.store.listing import FileInfo
from s3dav.store.listingcache import ListingCache
from s3dav.store.treestate import TreePart, TreeState
from s3dav.store.versions import Version, VersionListing, build_versions, next_page_args


class Versions(TreePart):
    def __init__(self, state: TreeState, heads: Heads, ops: CopyDelete, commits: Commits) -> None:
        super().__init__(state)
        self.heads = heads
        self.ops = ops
        self.commits = commits
        # Holds VersionListings (dir_key, fetched_at: all ListingCache reads of an entry).
        self.cache = ListingCache(state.settings.listing_ttl)

    def listing(self, dir_key: str) -> VersionListing:
        """The earlier versions of the files directly in the folder at `dir_key`."""
        return self.cache.get_or_fetch(dir_key, lambda: self._fetch(dir_key))

    def _fetch(self, dir_key: str) -> VersionListing:
        sent = time.monotonic()  # a write meanwhile (invalidate) makes this fetch stale
        args: dict | None = {}
        pages = []
        while args is not None:
            page = self.client.list_object_versions(
                Bucket=self.bucket, Prefix=dir_key, Delimiter="/", **args
            )
            pages.append(page)
            args = next_page_args(page)
        listing = build_versions(dir_key, pages)
        listing.fetched_at = sent
        return listing

    def changed(self, key: str, whole_tree: bool = False) -> None:
        """An own write to `key` (a folder key with `whole_tree`: all below it): the cached
        versions of the folders it touched are stale."""
        parent, _ = parent_and_name(key)
        self.cache.invalidate(parent)
        if key.endswith("/"):
            self.cache.invalidate(key)
        if whole_tree:
            self.cache.invalidate_tree(key)

    def restore(self, version: Version, dst_key: str) -> FileInfo:
        """Copy `version` onto `dst_key` server-side (CopyObject with its VersionId, in parts
        above copy_threshold); the copy keeps the version's metadata (its mtime).

        Then one HEAD of the copy: listings show its metadata (the version's mtime, not
        the time of the restore) from the first, as after any other own write.
        """
        self.commits.flush(dst_key)
        info = self.ops.copy_object(
            version.key, dst_key, version.size, version_id=version.version_id
        )
        info = self.heads.head(dst_key) or info
        self.overlay.put_file(info)
        return info
