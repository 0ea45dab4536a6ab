"""What a folder holds and what a name in it is: listings, stat, folder dates.

Listings are cached LIST pages (ListingCache) merged with the gateway's own
recent writes (Overlay), their files' metadata filled in by Heads. Keys here
are full S3 keys; folder keys end in "/".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from botocore.exceptions import ClientError

from s3dav.errors import refuses_parameter, s3_code
from s3dav.store.heads import Heads
from s3dav.store.keys import DIRECTORY_CONTENT_TYPE, parent_and_name
from s3dav.store.listing import DirInfo, FileInfo, Listing, build_listing, looks_alternate
from s3dav.store.negative import MissCheck
from s3dav.store.treestate import TreePart, TreeState

_log = logging.getLogger(__name__)
RESTORE = ["RestoreStatus"]  # ListObjectsV2's OptionalObjectAttributes


def listing_date(listing: Listing, remembered: Callable[[str], float | None]) -> float | None:
    """A folder's date from its own listing: its marker's time, else its newest member's.

    Members are files (x-amz-meta-mtime, else LastModified) and subfolders whose
    date was remembered. The overlay's stand-in for a marker S3 does not list yet
    (no ETag) has no time of its own. None: nothing in the listing has a date.
    """
    marker = listing.own_marker
    if marker is not None and marker.etag:
        return marker.modified
    times = [f.modified for f in listing.files.values()]
    times += [t for d in listing.dirs.values() if (t := remembered(d.key)) is not None]
    return max(times) if times else None


class Resolver(TreePart):
    def __init__(self, state: TreeState, heads: Heads) -> None:
        super().__init__(state)
        self.heads = heads
        self.misses = MissCheck(state, heads, lambda dir_key: self._fetch_listing(dir_key))
        self._no_restore_status = False  # the store refused OptionalObjectAttributes once

    def listing(self, dir_key: str, *, read_ahead: bool = False) -> Listing:
        """Members of a folder: cached LIST pages merged with own recent writes.

        With `read_ahead` (a client is browsing: PROPFIND Depth 1), the first LIST
        pages of its subfolders are fetched in the background, so that a sync
        tool's walk waits for one S3 round trip less per folder.
        """
        raw = self.listings.get_or_fetch(dir_key, lambda: self._fetch_listing(dir_key))
        if read_ahead and raw.dirs and self.settings.readahead_folders > 0:
            for name in sorted(raw.dirs)[: self.settings.readahead_folders]:
                key = raw.dirs[name].key
                self.listings.read_ahead(
                    key, lambda key=key: self.executor.submit(self._list_page, key)
                )
        return self.overlay.apply(raw)

    def _list_page(self, prefix: str, token: str | None = None, *, delimiter: bool = True) -> dict:
        """One ListObjectsV2 page: a folder's members, or (no delimiter) all keys below it.

        It asks for each entry's RestoreStatus (archived objects: restored or not),
        unless this store refused that once: then never again (one failed LIST).
        """
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        if token:
            kwargs["ContinuationToken"] = token
        if not self._no_restore_status:
            try:
                return self.client.list_objects_v2(**kwargs, OptionalObjectAttributes=RESTORE)
            except ClientError as exc:
                if not refuses_parameter(exc):
                    raise
                _log.info("s3://%s lists no RestoreStatus (%s)", self.bucket, s3_code(exc))
                self._no_restore_status = True
        return self.client.list_objects_v2(**kwargs)

    def _pages(
        self, prefix: str, *, delimiter: bool = True, first: dict | None = None
    ) -> list[dict]:
        """Every page of one listing; `first` (read ahead) stands for its first request."""
        pages = [first if first is not None else self._list_page(prefix, delimiter=delimiter)]
        while pages[-1].get("IsTruncated") and pages[-1].get("NextContinuationToken"):
            token = pages[-1]["NextContinuationToken"]
            pages.append(self._list_page(prefix, token, delimiter=delimiter))
        return pages

    def _fetch_listing(self, dir_key: str) -> Listing:
        ahead = self.listings.take_ahead(dir_key)
        sent, page = ahead if ahead is not None else (time.monotonic(), None)
        listing = build_listing(dir_key, self._pages(dir_key, first=page))
        listing.fetched_at = sent  # its age counts from the LIST, read ahead or not
        for name in listing.clashes:
            _log.warning(
                "name clash in s3://%s/%s%s: a file and a folder; the folder wins",
                self.bucket,
                dir_key,
                name,
            )
        if not self.etag_is_md5:  # SSE-KMS / SSE-C: the MD5 is only what an own upload recorded
            listing.files = {n: replace(f, md5=None) for n, f in listing.files.items()}
        listing.files = self.heads.enrich(listing.files)
        if listing.own_marker is not None:
            # The folder's own time is its marker's x-amz-meta-mtime (s3fs sets it
            # on mkdir and utime): read like a file's, once per marker version.
            listing.own_marker = self.heads.enrich({"": listing.own_marker})[""]
        if self.settings.legacy_s3fs_dirs:
            for name, info in list(listing.files.items()):
                if info.content_type == DIRECTORY_CONTENT_TYPE:
                    del listing.files[name]
                    listing.dirs.setdefault(name, DirInfo(key=dir_key + name + "/"))
        return listing

    def list_all(self, dir_key: str) -> list[dict]:
        """Every object below a folder (no delimiter), all pages."""
        pages = self._pages(dir_key, delimiter=False)
        return [entry for page in pages for entry in page.get("Contents", []) or []]

    def stat(
        self, key: str, *, want_dir: bool = False, recheck: bool = False
    ) -> FileInfo | DirInfo | None:
        """What `key` (no trailing slash) names: a file, a folder, or nothing.

        A folder whose own listing is cached and shows something exists (a folder
        wins over a file of the same name): its parent's listing is not needed, so
        a walk into a folder does not LIST the parent again when only that expired.

        With `want_dir` (the request asks for a collection: PROPFIND Depth 1, a
        trailing slash) and neither listing cached, the folder's own listing is
        fetched first: its first page proves the folder and is the first page the
        request lists anyway, so no parent LIST is spent. Only when it shows
        nothing (a file, an alternate or NFD name, a `_$folder$` marker) is the
        parent listed, as without `want_dir`.

        With `recheck` (a read: GET, HEAD, PROPFIND; never a write's destination),
        a name the cached listing lacks is asked of S3 at most once per
        `negative_ttl` (store/negative.py), so that what another tool just made is
        found before the listing expires.
        """
        parent, name = parent_and_name(key)
        own = self.listings.get(key + "/")
        if own is None and want_dir and self.listings.get(parent) is None:
            own = self.listings.get_or_fetch(key + "/", lambda: self._fetch_listing(key + "/"))
        if own is not None and (
            # own writes below it make it a folder; checked first, as merging all of
            # them into its listing costs a walk over every own write (each PUT's parent)
            self.overlay.known_dir(key + "/") or not self.overlay.apply(own).is_empty
        ):
            return DirInfo(key=key + "/")
        found, parent_seen = self._stat_in(parent, name, want_dir=want_dir, recheck=recheck)
        if found is None and not parent_seen and parent not in (self.prefix, ""):
            # Nothing at the NFC key of the parent: it may be a folder whose key is
            # not NFC (written by another tool) or one shown by an alternate name.
            above = self.stat(parent[:-1], recheck=recheck)
            if isinstance(above, DirInfo) and above.key != parent:
                found, _ = self._stat_in(above.key, name, recheck=recheck)
        return found

    def _stat_in(
        self, dir_key: str, name: str, *, want_dir: bool = False, recheck: bool = False
    ) -> tuple[FileInfo | DirInfo | None, bool]:
        """The member shown as `name` in the folder at `dir_key`, and whether that folder
        showed anything at all (its listing or own writes)."""
        raw = self.listings.get_or_fetch(dir_key, lambda: self._fetch_listing(dir_key))
        found = self._member(raw, name)
        if (
            found is None
            and recheck
            and name not in raw.display()  # (else an own write hides it: nothing to ask)
            and self.misses.due(dir_key, name, raw)
        ):
            raw = self.misses.recheck(dir_key, name, raw, want_dir=want_dir)
            found = self._member(raw, name)
        return found, not raw.is_empty or self.overlay.known_dir(dir_key)

    def _member(self, raw: Listing, name: str) -> FileInfo | DirInfo | None:
        """The entry shown as `name` in a folder's cached listing, with own writes."""
        if raw.plain(name) or (name not in raw.display() and not looks_alternate(name)):
            # the common case: one entry of that name, merged alone with own writes
            listing = self.overlay.apply(raw, only=name)
            return listing.dirs.get(name) or listing.files.get(name)
        return self.overlay.apply(raw).lookup(name)

    def folder_date(self, dir_key: str) -> float:
        """The date a folder shows, the same on every listing and after a restart; no S3 request.

        From its own listing when cached (listing_date); else the one last shown
        (kept in the MetaStore); else, for a folder never listed, its parent's date
        (the listing that shows it), kept so that it stays; the share root with
        nothing dated in it: the time it was first seen.
        """
        raw = self.listings.get(dir_key)
        t = None
        if raw is not None:
            t = listing_date(self.overlay.apply(raw), self.meta.folder_date)
        shown = self.meta.folder_date(dir_key)
        if t is None:
            if shown is not None:
                return shown
            if dir_key != self.prefix and dir_key.startswith(self.prefix):
                # The parent's date as last shown (a Depth 1 answers the parent first),
                # not recomputed for each of its never-listed subfolders.
                parent = parent_and_name(dir_key)[0]
                t = self.meta.folder_date(parent)
                if t is None:
                    t = self.folder_date(parent)
            else:
                t = time.time()
        if shown != t:
            self.meta.put_folder_date(dir_key, t)
        return t

    def dir_marker_info(self, dir_key: str) -> FileInfo | None:
        """The folder's own marker object, when its listing is in hand."""
        raw = self.listings.get(dir_key)
        if raw is None:
            return None
        return self.overlay.apply(raw).own_marker
