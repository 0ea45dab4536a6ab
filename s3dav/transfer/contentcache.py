"""Content cache: object bytes on local disk, in verified blocks (docs/SEMANTICS.md, *Caching*).

Blocks of `block_size` bytes are stored in a size-bounded `diskcache` under
endpoint + bucket + key + ETag + block index, so an object that changed in S3 (new ETag)
can never be answered with old bytes, and a Range read fetches only the blocks
it covers. Each block is stored behind its own BLAKE2b digest and checked
before it is served; a block that fails the check is dropped and fetched again.

The cache is only an optimisation: when it is full, unwritable or corrupt, a
read degrades to S3 and a warning is logged; a request never fails because of it.

Readers are blockreader.py, an upload's copy of its body is uploadtee.py.

Concurrency:
- Threads: request threads (get, put, hold, release, same_bytes), the block
  pool (`pool`: BlockReader prefetches, which get and put), after-PUT workers
  (an UploadTee's ingest puts whole objects), and one writer thread
  (`_writer`) that moves pending blocks to disk. diskcache is process- and
  thread-safe and needs no lock of ours.
- `_pending_lock` guards `_pending` and `_pending_bytes`; `_held_lock` guards
  `_held` and `_same`; `_warn_lock` guards `_warned`. All three are leaves,
  never nested, and nothing blocks under them: diskcache (SQLite, disk I/O) and
  an UploadTee's `read_at` are called after the lock is released.
- Callers may hold the tree's commit lock (store/keylocks.py) when they call
  hold, same_bytes or release: commit lock -> `_held_lock`, never the reverse.
- `put` past `max_pending` bytes writes the block on the caller's thread
  (back pressure instead of unbounded memory).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import diskcache

from s3dav.transfer.uploadtee import UploadTee

_log = logging.getLogger(__name__)

MIB = 1024 * 1024
DIGEST = 16  # bytes of BLAKE2b in front of every stored block
MAX_SAME = 10_000  # remembered "same bytes as" ETag pairs (in memory only)


def seal(data: bytes) -> bytes:
    """A block as stored: its digest, then its bytes."""
    return hashlib.blake2b(data, digest_size=DIGEST).digest() + data


def unseal(stored: object, expected_len: int) -> bytes | None:
    """The block's bytes when the stored value is intact, else None."""
    if not isinstance(stored, bytes) or len(stored) != DIGEST + expected_len:
        return None
    data = stored[DIGEST:]
    if hashlib.blake2b(data, digest_size=DIGEST).digest() != stored[:DIGEST]:
        return None
    return data


class ContentCache:
    """Blocks of object versions on disk, bounded in bytes."""

    def __init__(
        self,
        directory: Path | None,
        size_limit: int,
        *,
        block_size: int = 4 * MIB,
        prefetch: int = 4,
        metrics=None,
        namespace: str = "",
    ) -> None:
        self.namespace = namespace  # the endpoint (stores.normalize_endpoint) in every key
        self.block_size = block_size
        self.prefetch = max(prefetch, 0)
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3dav-block")
        self._cache: diskcache.Cache | None = None
        self.max_pending = 16 * MIB
        self._pending: dict[str, bytes] = {}  # written to memory, not yet to disk
        self._pending_bytes = 0
        self._pending_lock = threading.Lock()
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._writer_thread = threading.Thread(
            target=self._writer, name="s3dav-cache-writer", daemon=True
        )
        self._writer_thread.start()
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        # Uploads whose bytes are still in their spool (not yet ingested), and
        # ETags known to name the same bytes as another (an MD5 self-copy):
        # both keep "a fresh upload reads back with no S3 request" while the
        # ingest runs after the PUT's answer.
        self._held: dict[tuple[str, str, str], UploadTee] = {}
        self._same: dict[tuple[str, str, str], str] = {}
        self._held_lock = threading.Lock()
        if directory is not None and size_limit > 0:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(
                    str(directory),
                    size_limit=size_limit,
                    eviction_policy="least-recently-stored",
                    # fsync is not needed: a torn block fails its digest.
                    sqlite_synchronous=0,
                )
            except Exception as exc:  # noqa: BLE001 - the cache is optional
                self._warn("open", f"content cache at {directory} unusable, reading from S3: {exc}")

    def new_tee(self, max_memory: int) -> UploadTee | None:
        """A body copy for a new upload, or None when the cache is off."""
        if self._cache is None:
            return None
        try:
            spool = Path(self._cache.directory) / "spool"
            spool.mkdir(exist_ok=True)
            return UploadTee(spool, max_memory)
        except Exception as exc:  # noqa: BLE001
            self._warn("spool", f"content cache cannot keep uploads: {exc}")
            return None

    def volume(self) -> int:
        """Bytes on disk (for the s3dav_cache_bytes gauge)."""
        if self._cache is None:
            return 0
        try:
            return self._cache.volume()
        except Exception:  # noqa: BLE001
            return 0

    @property
    def enabled(self) -> bool:
        return self._cache is not None

    def _warn(self, what: str, message: str) -> None:
        with self._warn_lock:
            if what in self._warned:
                return
            self._warned.add(what)
        _log.warning("%s", message)

    def _count(self, hit: bool) -> None:
        if self.metrics is not None:
            (self.metrics.cache_hits if hit else self.metrics.cache_misses).labels(
                cache="content"
            ).inc()

    def block_key(self, bucket: str, key: str, etag: str, index: int) -> str:
        """Endpoint + bucket + key + ETag + block: an ETag is only a content hash by
        convention (SSE-KMS, SSE-C and some S3-compatible stores make their own), so the
        same key and ETag on another endpoint or bucket is not trusted to be the same bytes."""
        return f"{self.namespace}\0{bucket}\0{key}\0{etag}\0{index}"

    def hold(self, bucket: str, key: str, etag: str, tee: UploadTee) -> None:
        """Serve this object version from an upload's spool until `release`."""
        with self._held_lock:
            self._held[(bucket, key, etag)] = tee

    def release(self, bucket: str, key: str, etags: list[str]) -> None:
        with self._held_lock:
            for etag in etags:
                self._held.pop((bucket, key, etag), None)

    def same_bytes(self, bucket: str, key: str, etag: str, other: str) -> None:
        """Blocks of version `etag` may be read from those of `other` (a self-copy)."""
        with self._held_lock:
            if len(self._same) >= MAX_SAME:
                self._same.pop(next(iter(self._same)))
            self._same[(bucket, key, etag)] = other

    def same_as(self, bucket: str, key: str, etag: str) -> str | None:
        """The ETag known to hold the same bytes as `etag`, if any."""
        with self._held_lock:
            return self._same.get((bucket, key, etag))

    def get(self, bucket: str, key: str, etag: str, index: int, length: int) -> bytes | None:
        if self._cache is None or not etag:
            return None
        with self._held_lock:
            other = self._same.get((bucket, key, etag))
        for version in (etag, other) if other and other != etag else (etag,):
            with self._held_lock:
                tee = self._held.get((bucket, key, version))
            if tee is not None:
                data = tee.read_at(index * self.block_size, length)
                if data is not None and len(data) == length:
                    self._count(True)
                    return data
            data = self._get_stored(bucket, key, version, index, length)
            if data is not None:
                self._count(True)
                return data
        self._count(False)
        return None

    def _get_stored(
        self, bucket: str, key: str, etag: str, index: int, length: int
    ) -> bytes | None:
        k = self.block_key(bucket, key, etag, index)
        with self._pending_lock:
            data = self._pending.get(k)
        if data is not None and len(data) == length:
            return data
        try:
            stored = self._cache.get(k)
        except Exception as exc:  # noqa: BLE001 - degrade to S3
            self._warn("read", f"content cache read failed, reading from S3: {exc}")
            return None
        if stored is None:
            return None
        data = unseal(stored, length)
        if data is None:
            _log.warning("content cache block %d of %s failed its check; refetching", index, key)
            try:
                self._cache.delete(k)
            except Exception:  # noqa: BLE001
                pass
        return data

    def put(self, bucket: str, key: str, etag: str, index: int, data: bytes) -> None:
        """Store a block: in memory at once, on disk by the writer thread.

        The disk write (a SQLite transaction, a few ms) stays off the request's
        path; past `max_pending` bytes waiting, the caller writes it itself.
        """
        if self._cache is None or not etag:
            return
        k = self.block_key(bucket, key, etag, index)
        with self._pending_lock:
            if self._pending_bytes + len(data) <= self.max_pending:
                self._pending[k] = data
                self._pending_bytes += len(data)
                self._queue.put(k)
                return
        self._store(k, data)

    def _writer(self) -> None:
        while True:
            k = self._queue.get()
            if k is None:
                return
            with self._pending_lock:
                data = self._pending.get(k)
            if data is not None:
                self._store(k, data)
                with self._pending_lock:
                    if self._pending.pop(k, None) is not None:
                        self._pending_bytes -= len(data)

    def _store(self, k: str, data: bytes) -> None:
        try:
            self._cache.set(k, seal(data))
        except Exception as exc:  # noqa: BLE001 - full or unwritable disk: skip caching
            self._warn("write", f"content cache write failed, serving without it: {exc}")

    def put_object(self, bucket: str, key: str, etag: str, read: Callable[[int], bytes]) -> None:
        """Store a whole object read block by block (after an upload)."""
        if self._cache is None:
            return
        index = 0
        while True:
            data = read(self.block_size)
            if not data:
                return
            self.put(bucket, key, etag, index, data)
            index += 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._queue.put(None)  # write what is pending, then stop
        self._writer_thread.join(timeout=10)
        if self._cache is not None:
            self._cache.close()
