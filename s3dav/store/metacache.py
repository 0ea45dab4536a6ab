"""Metadata caches (docs/SEMANTICS.md, *Caching*; docs/caching.md).

- `ListingCache`: folder listings in memory for `metadata_ttl` seconds, with one
  fetch at a time per folder so a burst of requests costs one LIST; and the
  read-ahead first pages of folders a client is likely to open next.
- `MetaStore`: what listings do not return (x-amz-meta-mtime, mode, MD5,
  content type), on disk, keyed by key + ETag and checked against the listing's
  LastModified (a metadata-only self-copy keeps the ETag): read by HEAD at most
  once per object version, ever, also across restarts.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import diskcache

from s3dav.store.keys import representable_time
from s3dav.store.listing import Listing

_log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


class ListingCache:
    def __init__(self, ttl: float, max_entries: int = 20_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, Listing] = {}
        # Read-ahead: folder -> (when its LIST was sent, the first page to come).
        self._ahead: dict[str, tuple[float, Future]] = {}
        self._ahead_done: set[str] = set()  # each folder is read ahead once
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}
        # folder -> when it was last invalidated: a listing whose LIST was sent before
        # that (in flight meanwhile) is stale too, and is not served (store/events.py).
        self._dropped: dict[str, float] = {}
        self.hits = 0
        self.misses = 0
        # Hooks for metrics: called once per hit / miss of get_or_fetch.
        self.on_hit: Callable[[], None] = _nothing
        self.on_miss: Callable[[], None] = _nothing

    def get(self, dir_key: str) -> Listing | None:
        with self._lock:
            listing = self._entries.get(dir_key)
            if listing is None:
                return None
            dropped = self._dropped.get(dir_key)
            if time.monotonic() - listing.fetched_at > self.ttl or (
                dropped is not None and listing.fetched_at < dropped
            ):
                del self._entries[dir_key]
                return None
            return listing

    def get_or_fetch(self, dir_key: str, fetch: Callable[[], Listing]) -> Listing:
        listing = self.get(dir_key)
        if listing is not None:
            self.hits += 1
            self.on_hit()
            return listing
        with self._lock:
            flight = self._flights.setdefault(dir_key, threading.Lock())
        with flight:
            listing = self.get(dir_key)  # another thread may have fetched it
            if listing is not None:
                self.hits += 1
                self.on_hit()
                return listing
            self.misses += 1
            self.on_miss()
            listing = fetch()
            self.put(listing)
            return listing

    def put(self, listing: Listing) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                oldest = min(self._entries, key=lambda k: self._entries[k].fetched_at)
                del self._entries[oldest]
            self._entries[listing.dir_key] = listing
            if len(self._flights) > 10_000:
                self._flights.clear()  # holders keep their own reference

    def invalidate(self, dir_key: str | None = None) -> None:
        with self._lock:
            if dir_key is None:
                self._entries.clear()
                self._ahead.clear()
            else:
                self._entries.pop(dir_key, None)
                self._ahead.pop(dir_key, None)
                now = time.monotonic()
                if len(self._dropped) >= self.max_entries:  # older ones bar nothing live
                    self._dropped = {k: t for k, t in self._dropped.items() if now - t <= self.ttl}
                    if len(self._dropped) >= self.max_entries:  # a flood: forget it all
                        self._dropped.clear()
                        self._entries.clear()
                self._dropped[dir_key] = now

    def invalidate_tree(self, dir_key: str) -> None:
        """Drop the listing of `dir_key` and of every folder below it."""
        with self._lock:
            for key in [k for k in self._entries if k.startswith(dir_key)]:
                del self._entries[key]
            for key in [k for k in self._ahead if k.startswith(dir_key)]:
                del self._ahead[key]

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


FOLDER_DATE = "\0folder-date"  # in place of an ETag: a folder's date, no object version
WRITE_SLACK = 2.0  # seconds S3's clock may run ahead of ours (as overlay.CLOCK_SLACK)


def version_seen(entry: dict, last_modified: float) -> bool:
    """Does a stored entry describe the object version a listing shows with `last_modified`?

    The ETag alone does not tell: a self-copy with new metadata keeps it and only
    moves LastModified. "lm" is the LastModified (whole seconds, as HEAD gives it)
    of the version read; "written" the time the gateway wrote the version itself
    (S3's LastModified is no later, give or take clock skew). An entry with neither
    was stored before s3dav kept them: read the object again, once.
    """
    if "lm" in entry:
        return int(last_modified) <= entry["lm"]
    if "written" in entry:
        return last_modified <= entry["written"] + WRITE_SLACK
    return False


def _valid_meta(meta: dict) -> bool:
    """Does a stored entry have the shape we write (a corrupt one must not reach a client)?"""
    kinds = {
        "mtime": (int, float),
        "mode": (int,),
        "md5": (str,),
        "content_type": (str,),
        "lm": (int,),
        "written": (int, float),
    }
    for name, types in kinds.items():
        value = meta.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            return False
    keep = meta.get("keep")
    if keep is not None and not (
        isinstance(keep, dict) and all(isinstance(v, str) for v in keep.values())
    ):
        return False
    mtime = meta.get("mtime")
    # An older s3dav stored any number it read; one no formatter can show must not reach a page.
    return mtime is None or representable_time(mtime) is not None


WRITE_BATCH = 500  # entries per SQLite transaction


class MetaStore:
    """Per-object-version metadata on disk. A broken cache never fails a request."""

    def __init__(self, directory: Path | None, namespace: str) -> None:
        self.namespace = namespace
        # Hooks for metrics: called once per hit / miss of get().
        self.on_hit: Callable[[], None] = _nothing
        self.on_miss: Callable[[], None] = _nothing
        self._cache = None
        self._memory: dict[str, dict] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._writer, name="s3dav-meta-writer", daemon=True)
        self._thread.start()
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(directory), size_limit=512 * 1024 * 1024)
            except Exception as exc:  # noqa: BLE001 - degrade to memory only
                _log.warning(
                    "metadata cache at %s unusable, keeping it in memory: %s", directory, exc
                )

    def _k(self, key: str, etag: str) -> str:
        return f"{self.namespace}\0{key}\0{etag}"

    def get(self, key: str, etag: str, last_modified: float | None = None) -> dict | None:
        """What is known of this object version; None means HEAD it.

        With `last_modified` (a listing's LastModified), an entry is used only if it
        describes that version (`version_seen`): a metadata-only change (s3fs's
        `touch`, chmod, chown: a self-copy keeping the ETag) shows a newer one.
        """
        k = self._k(key, etag)
        value = self._read(k, key)
        if value is not None and last_modified is not None:
            if not version_seen(value, last_modified):
                value = None
            elif "lm" not in value:  # own write, first listed: pin the version S3 gave it
                value = {**value, "lm": int(last_modified)}
                value.pop("written", None)
                self._store(k, value)
        (self.on_hit if value is not None else self.on_miss)()
        return value

    def _read(self, k: str, key: str) -> dict | None:
        if k in self._memory:
            return self._memory[k]
        if self._cache is None:
            return None
        try:
            value = self._cache.get(k)
        except Exception as exc:  # noqa: BLE001
            _log.warning("metadata cache read failed: %s", exc)
            return None
        if isinstance(value, dict) and _valid_meta(value):
            self._memory[k] = value
            return value
        if value is not None:
            _log.warning("metadata cache entry for %s is corrupt; ignoring it", key)
        return None

    def folder_date(self, dir_key: str) -> float | None:
        """The date last shown for a folder (S3Tree.folder_date), not counted as a hit or miss."""
        value = self._read(self._k(dir_key, FOLDER_DATE), dir_key)
        return value.get("mtime") if value is not None else None

    def put_folder_date(self, dir_key: str, t: float) -> None:
        self._store(self._k(dir_key, FOLDER_DATE), {"mtime": float(t)})

    def put(self, key: str, etag: str, meta: dict, last_modified: float | None = None) -> None:
        """Remember at once in memory; the disk write runs on the writer thread.

        `last_modified`: S3's LastModified of the version read (HEAD, GET). None: the
        gateway has just written this version itself and S3's time is not known; it
        is at most now (the first listing that shows it pins it, `get`).
        """
        entry = {k: v for k, v in meta.items() if k not in ("lm", "written")}
        if last_modified is not None:
            entry["lm"] = int(last_modified)
        else:
            entry["written"] = time.time()
        self._store(self._k(key, etag), entry)

    def _store(self, k: str, entry: dict) -> None:
        self._memory[k] = entry
        if len(self._memory) > 200_000:
            self._memory.clear()
        if self._cache is not None:
            self._queue.put((k, entry))

    def _writer(self) -> None:
        """Write queued entries, many to a transaction (a cold listing queues thousands)."""
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None and len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            if items:
                try:
                    with self._cache.transact():
                        for k, meta in items:
                            self._cache.set(k, meta)
                except Exception as exc:  # noqa: BLE001
                    _log.warning("metadata cache write of %d entries failed: %s", len(items), exc)
            if batch[-1] is None:
                return

    def volume(self) -> int:
        """Bytes on disk (for the cache_bytes metric)."""
        return self._cache.volume() if self._cache is not None else 0

    def close(self) -> None:
        self._queue.put(None)  # write what is queued, then stop
        self._thread.join(timeout=10)
        if self._cache is not None:
            self._cache.close()
