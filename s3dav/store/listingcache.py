"""Folder listings in memory (docs/SEMANTICS.md, *Caching*; docs/caching.md).

`ListingCache` keeps each folder's listing for `metadata_ttl` seconds, with one
fetch at a time per folder so a burst of requests costs one LIST; and the
read-ahead first pages of folders a client is likely to open next.

Memory is bounded by members, not folders: a folder of 100,000 objects weighs
as much as 10,000 folders of ten. Beyond `max_members` files and subfolders in
all, the listings stored longest ago are dropped (each member is about 0.5 KiB:
benchmarks/listing_memory.py); a single listing above the bound is served but
not kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from s3dav.store.listing import Listing

_log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


def members(listing: Listing) -> int:
    """What a listing weighs in the cache's bound: its entries (at least 1). A folder's
    Listing or its earlier versions (store/versions.py VersionListing) alike."""
    return listing.weight()


class ListingCache:
    def __init__(self, ttl: float, max_entries: int = 20_000, max_members: int = 500_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries  # folders
        self.max_members = max_members  # their files and subfolders, in all
        # folder -> listing, in the order they were stored (oldest first)
        self._entries: dict[str, Listing] = {}
        self._members = 0
        # Read-ahead: folder -> (when its LIST was sent, the first page to come).
        self._ahead: dict[str, tuple[float, Future]] = {}
        self._ahead_done: set[str] = set()  # each folder is read ahead once
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}
        # folder -> when it was last invalidated: a listing whose LIST was sent before
        # that (in flight meanwhile) is stale too, and is not served (store/events.py).
        self._dropped: dict[str, float] = {}
        # The same for whole trees (invalidate_tree) and for everything (invalidate()).
        self._dropped_trees: dict[str, float] = {}
        self._dropped_all = float("-inf")
        # Hooks for metrics: called once per hit / miss of get_or_fetch.
        self.on_hit: Callable[[], None] = _nothing
        self.on_miss: Callable[[], None] = _nothing

    def get(self, dir_key: str) -> Listing | None:
        with self._lock:
            listing = self._entries.get(dir_key)
            if listing is None:
                return None
            if time.monotonic() - listing.fetched_at > self.ttl or (
                listing.fetched_at < self._dropped_since(dir_key)
            ):
                self._drop(dir_key)
                return None
            return listing

    def _dropped_since(self, dir_key: str) -> float:
        """When `dir_key` was last invalidated: itself, a tree above it, or everything."""
        when = max(self._dropped_all, self._dropped.get(dir_key, float("-inf")))
        if self._dropped_trees:
            for end in range(len(dir_key)):
                if end == 0 or dir_key[end - 1] == "/":
                    when = max(when, self._dropped_trees.get(dir_key[:end], float("-inf")))
            when = max(when, self._dropped_trees.get(dir_key, float("-inf")))
        return when

    def _note_dropped(self, marks: dict[str, float], key: str, now: float) -> None:
        """Record an invalidation; the record is bounded (older ones bar nothing live)."""
        if len(marks) >= self.max_entries:
            live = {k: t for k, t in marks.items() if now - t <= self.ttl}
            marks.clear()
            if len(live) < self.max_entries:
                marks.update(live)
            else:  # a flood: forget the marks, and drop every listing they could bar
                self._entries.clear()
                self._members = 0
        marks[key] = now

    @property
    def cached_members(self) -> int:
        """Files and subfolders in all cached listings (what `max_members` bounds)."""
        with self._lock:
            return self._members

    def _drop(self, dir_key: str) -> None:
        listing = self._entries.pop(dir_key, None)
        if listing is not None:
            self._members -= members(listing)

    def get_or_fetch(self, dir_key: str, fetch: Callable[[], Listing]) -> Listing:
        listing = self.get(dir_key)
        if listing is not None:
            self.on_hit()
            return listing
        with self._lock:
            flight = self._flights.setdefault(dir_key, threading.Lock())
        with flight:
            listing = self.get(dir_key)  # another thread may have fetched it
            if listing is not None:
                self.on_hit()
                return listing
            self.on_miss()
            listing = fetch()
            self.put(listing)
            return listing

    def put(self, listing: Listing) -> None:
        weight = members(listing)
        with self._lock:
            self._drop(listing.dir_key)
            if weight > self.max_members:
                _log.debug(
                    "listing of %s (%d members) is above the cache's bound", listing.dir_key, weight
                )
                return
            while self._entries and (
                len(self._entries) >= self.max_entries or self._members + weight > self.max_members
            ):
                self._drop(next(iter(self._entries)))  # the one stored longest ago
            self._entries[listing.dir_key] = listing
            self._members += weight
            if len(self._flights) > 10_000:
                self._flights.clear()  # holders keep their own reference

    def replace(self, dir_key: str, old: Listing, new: Listing) -> bool:
        """Cache `new` for `dir_key` if `old` is still the cached listing (a listing that
        learnt a name, store/negative.py); False when another fetch or a drop came first."""
        with self._lock:
            if self._entries.get(dir_key) is not old:
                return False
            self._entries[dir_key] = new
            return True

    def invalidate(self, dir_key: str | None = None) -> None:
        with self._lock:
            now = time.monotonic()
            if dir_key is None:
                self._entries.clear()
                self._members = 0
                self._ahead.clear()
                self._dropped_all = now  # a LIST in flight now is stale when it lands
            else:
                self._drop(dir_key)
                self._ahead.pop(dir_key, None)
                self._note_dropped(self._dropped, dir_key, now)

    def invalidate_tree(self, dir_key: str) -> None:
        """Drop the listing of `dir_key` and of every folder below it."""
        with self._lock:
            for key in [k for k in self._entries if k.startswith(dir_key)]:
                self._drop(key)
            for key in [k for k in self._ahead if k.startswith(dir_key)]:
                del self._ahead[key]
            self._note_dropped(self._dropped_trees, dir_key, time.monotonic())

    # -- read-ahead -----------------------------------------------------------------
    def read_ahead(self, dir_key: str, submit: Callable[[], Future]) -> bool:
        """Start fetching the first page of a folder no one has asked for yet.

        Once per folder for the life of the process: a Finder window that polls a
        parent every few seconds must not cost a LIST of every subfolder each time.
        """
        with self._lock:
            if dir_key in self._entries or dir_key in self._ahead or dir_key in self._ahead_done:
                return False
            if len(self._ahead_done) >= 100_000:
                self._ahead_done.clear()
            self._ahead_done.add(dir_key)
            self._ahead[dir_key] = (time.monotonic(), submit())
            return True

    def take_ahead(self, dir_key: str) -> tuple[float, dict] | None:
        """The read-ahead first page of `dir_key` (waiting for it if in flight), if fresh."""
        with self._lock:
            item = self._ahead.pop(dir_key, None)
        if item is None:
            return None
        sent, future = item
        if time.monotonic() - sent > self.ttl:
            future.cancel()
            return None
        try:
            return sent, future.result()
        except Exception as exc:  # noqa: BLE001 - the caller lists it itself
            _log.debug("read-ahead of %s failed: %s", dir_key, exc)
            return None
