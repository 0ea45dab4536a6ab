"""Read-your-writes overlay (docs/SEMANTICS.md, *Consistency*).

The gateway remembers its own recent writes and deletes and merges them into
every listing, so that a client sees its change at once even when the store's
listing (or our own listing cache) still shows the old state. Entries expire
after `ttl` seconds: by then S3 is expected to agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from operator import methodcaller

from s3dav.store.listing import DirInfo, FileInfo, Listing

# S3's LastModified and our clock may disagree by a little.
CLOCK_SLACK = 2.0
MERGED_MAX = 1000  # folders whose merged listing is kept for reuse


def _stamp(table: dict, key: str, value) -> None:
    """Set `key` as the newest entry: tables stay in time order, so pruning is cheap."""
    table.pop(key, None)
    table[key] = value


class Overlay:
    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._files: dict[str, tuple[FileInfo, float]] = {}
        self._dirs: dict[str, float] = {}  # dir keys created ("a/b/")
        self._deleted: dict[str, float] = {}  # file keys deleted
        self._deleted_trees: dict[str, float] = {}  # dir keys deleted with all below
        # Called after each own change with (key, whole_tree): replicas.ListingBus uses
        # it to tell other replicas which cached listings went stale.
        self.listeners: list[Callable[[str, bool], None]] = []
        # apply() results per folder, valid while neither the cached listing nor the
        # overlay changed: warm PROPFINDs cost no copy of a big listing.
        self._generation = 0
        self._merged: dict[str, tuple[Listing, int, Listing]] = {}
        # prefix -> (a file key below it, a dir key below it), valid for one generation:
        # a one-name lookup (every GET) need not scan all own writes each time.
        self._below: dict[str, tuple[str | None, str | None]] = {}
        self._below_generation = -1

    def _changed(self, key: str, tree: bool = False) -> None:
        for listener in self.listeners:
            listener(key, tree)

    # -- recording own changes ------------------------------------------------
    def put_file(self, info: FileInfo) -> None:
        now = time.time()
        with self._lock:
            _stamp(self._files, info.key, (info, now))
            self._deleted.pop(info.key, None)
            self._generation += 1
        self._changed(info.key)

    def put_file_if(self, info: FileInfo, expect_etag: str) -> bool:
        """Record `info` only if the key's entry is still the upload `expect_etag`.

        Lets a finished upload refine its own entry (e.g. a new ETag after the
        MD5 self-copy) without undoing a newer upload of the same key.
        """
        with self._lock:
            current = self._files.get(info.key)
            if current is not None and current[0].etag != expect_etag:
                return False
            _stamp(self._files, info.key, (info, time.time()))
            self._deleted.pop(info.key, None)
            self._generation += 1
            return True

    def file(self, key: str) -> FileInfo | None:
        """The own recent write of `key`, if one is recorded."""
        with self._lock:
            entry = self._files.get(key)
        return entry[0] if entry is not None else None

    def put_dir(self, dir_key: str) -> None:
        with self._lock:
            _stamp(self._dirs, dir_key, time.time())
            self._generation += 1
        self._changed(dir_key)

    def delete_file(self, key: str) -> None:
        with self._lock:
            self._files.pop(key, None)
            _stamp(self._deleted, key, time.time())
            self._generation += 1
        self._changed(key)

    def delete_tree(self, dir_key: str) -> None:
        now = time.time()
        with self._lock:
            _stamp(self._deleted_trees, dir_key, now)
            for k in [k for k in self._files if k.startswith(dir_key)]:
                del self._files[k]
            for k in [k for k in self._dirs if k.startswith(dir_key)]:
                del self._dirs[k]
            self._generation += 1
        self._changed(dir_key, tree=True)

    def forget(self, key: str, tree: bool = False) -> None:
        """Another replica changed `key` (tree: all below it): S3 now knows better."""
        with self._lock:
            for table in (self._files, self._deleted, self._dirs, self._deleted_trees):
                for k in [k for k in table if k == key or (tree and k.startswith(key))]:
                    del table[k]
            self._generation += 1

    # -- merging --------------------------------------------------------------
    def _prune(self, now: float) -> None:
        """Drop expired entries: the oldest come first (see _stamp), so stop at a live one."""
        limit = now - self.ttl
        for table in (self._dirs, self._deleted, self._deleted_trees):
            while table:
                k = next(iter(table))
                if table[k] >= limit:
                    break
                del table[k]
                self._generation += 1
        while self._files:
            k = next(iter(self._files))
            if self._files[k][1] >= limit:
                break
            del self._files[k]
            self._generation += 1

    def _tree_deleted_at(self, key: str) -> float | None:
        """Latest delete time of a deleted tree that holds `key`."""
        times = [t for d, t in self._deleted_trees.items() if key.startswith(d)]
        return max(times) if times else None

    def apply(self, listing: Listing, only: str | None = None) -> Listing:
        """A copy of `listing` with own recent changes merged in.

        `only`: just that member's entry is wanted (a lookup of one path, as
        every PUT, GET and PROPFIND Depth 0 does): the other members are left
        out, and so is the cost of merging them.
        """
        P = listing.dir_key
        now = time.time()
        with self._lock:
            self._prune(now)
            if not (self._files or self._dirs or self._deleted or self._deleted_trees):
                return listing
            if only is None:
                memo = self._merged.get(P)
                if memo is not None and memo[0] is listing and memo[1] == self._generation:
                    return memo[2]  # shared like `listing` itself: never changed by callers
            files, dirs = listing.files, listing.dirs
            if only is not None:
                files = {only: files[only]} if only in files else {}
                dirs = {only: dirs[only]} if only in dirs else {}
            out = Listing(
                dir_key=P,
                files=dict(files),
                dirs=dict(dirs),
                own_marker=listing.own_marker,
                fetched_at=listing.fetched_at,
                clashes=list(listing.clashes),
            )
            self._hide_deleted(out)
            self._add_present(out, only)
            if only is None:
                if len(self._merged) >= MERGED_MAX:
                    self._merged.clear()
                self._merged[P] = (listing, self._generation, out)
            return out

    def _hide_deleted(self, out: Listing) -> None:
        P = out.dir_key
        for name, info in list(out.files.items()):
            t = self._deleted.get(info.key)
            tree_t = self._tree_deleted_at(info.key)
            for when in (t, tree_t):
                if when is not None and info.last_modified <= when + CLOCK_SLACK:
                    del out.files[name]
                    break
        for name, d in list(out.dirs.items()):
            tree_t = self._tree_deleted_at(d.key)
            if tree_t is not None:
                # A folder seen in a (lagging) listing after we deleted it is
                # shown again only once something was written below it since.
                del out.dirs[name]
        if out.own_marker is not None:
            tree_t = self._tree_deleted_at(P)
            if tree_t is not None and out.own_marker.last_modified <= tree_t + CLOCK_SLACK:
                out.own_marker = None

    def _add_present(self, out: Listing, only: str | None = None) -> None:
        P = out.dir_key
        entries = self._files.items()
        dir_keys = self._dirs
        if only is not None:
            # The key itself, and one key below it if any (each makes it the same folder).
            P1 = P + only
            file_below, dir_below = self._first_below(P1 + "/")
            keys = [k for k in (P1, file_below) if k in self._files]
            entries = [(k, self._files[k]) for k in keys]
            dir_keys = [k for k in (P, dir_below) if k in self._dirs]
        for key, (info, _t) in entries:
            if not key.startswith(P) or key == P:
                continue
            rest = key[len(P) :]
            if "/" in rest:
                name = rest.split("/", 1)[0]
                out.dirs.setdefault(name, DirInfo(key=P + name + "/"))
                continue
            seen = out.files.get(rest)
            if seen is None or seen.last_modified <= info.last_modified + CLOCK_SLACK:
                if seen is not None and seen.etag == info.etag:
                    out.files[rest] = replace(
                        seen,
                        mtime=info.mtime,
                        mode=info.mode,
                        md5=info.md5 or seen.md5,
                        keep=info.keep,
                    )
                else:
                    out.files[rest] = info
        for dkey in dir_keys:
            if dkey == P:
                if out.own_marker is None:
                    out.own_marker = FileInfo(key=P, size=0, etag="", last_modified=time.time())
                continue
            if not dkey.startswith(P):
                continue
            name = dkey[len(P) :].split("/", 1)[0]
            out.dirs.setdefault(name, DirInfo(key=P + name + "/"))
        # A file beside a folder of its name stays: Listing.display() names it.

    def _first_below(self, prefix: str) -> tuple[str | None, str | None]:
        """A file key and a dir key of own writes under `prefix` (None: none)."""
        if self._below_generation != self._generation or len(self._below) >= MERGED_MAX:
            self._below.clear()
            self._below_generation = self._generation
        hit = self._below.get(prefix)
        if hit is None:
            below = methodcaller("startswith", prefix)  # filter() runs it without a Python loop
            hit = (next(filter(below, self._files), None), next(filter(below, self._dirs), None))
            self._below[prefix] = hit
        return hit

    def known_dir(self, dir_key: str) -> bool:
        """True when an own write shows that `dir_key` exists: the folder itself,
        or anything written below it."""
        with self._lock:
            self._prune(time.time())
            return dir_key in self._dirs or self._first_below(dir_key) != (None, None)
