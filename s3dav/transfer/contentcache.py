"""Content cache: object bytes on local disk, in verified blocks (docs/SEMANTICS.md, *Caching*).

Blocks of `block_size` bytes are stored in a size-bounded `diskcache` under
endpoint + bucket + key + ETag + block index, so an object that changed in S3 (new ETag)
can never be answered with old bytes, and a Range read fetches only the blocks
it covers. Each block is stored behind its own BLAKE2b digest and checked
before it is served; a block that fails the check is dropped and fetched again.

The cache is only an optimisation: when it is full, unwritable or corrupt, a
read degrades to S3 and a warning is logged; a request never fails because of it.

Concurrency: `ContentCache` is shared by all request threads; diskcache is
process- and thread-safe. A `BlockReader` belongs to one request thread; its
prefetch futures run on the cache's own small pool.
"""

from __future__ import annotations

import hashlib
import io
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import diskcache
from botocore.exceptions import ClientError

from s3dav.errors import is_changed
from s3dav.transfer.reader import ObjectChanged, ObjectReader
from s3dav.transfer.spool import Spool

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


def block_span(index: int, size: int, block_size: int) -> tuple[int, int]:
    """First and last byte (inclusive) of block `index` of an object of `size` bytes."""
    lo = index * block_size
    return lo, min(lo + block_size, size) - 1


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


class BlockReader(ObjectReader):
    """A seekable reader over one object version, block by block through the cache.

    Blocks come from the cache when present and intact, else from one ranged
    GET each (pinned to the ETag with If-Match). While reading sequentially, the
    next `prefetch` blocks are fetched in parallel; never past `end_hint`, the
    last byte the client asked for, so a Range read fetches only what it needs.
    """

    def __init__(
        self,
        cache: ContentCache,
        client,
        bucket: str,
        key: str,
        size: int,
        etag: str,
        end_hint: int | None = None,
    ) -> None:
        super().__init__()
        self.cache = cache
        self.client = client
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.end_hint = end_hint if end_hint is not None and end_hint < size else size - 1
        self._pos = 0
        self._futures: dict[int, Future] = {}
        self._block: tuple[int, bytes] | None = None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._seek_target(offset, whence)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self.size:
            return b""
        if n is None or n < 0:
            n = self.size - self._pos
        bs = self.cache.block_size
        index = self._pos // bs
        data = self._get_block(index)
        start = self._pos - index * bs
        chunk = data[start : start + n]
        self._pos += len(chunk)
        return chunk

    def open_now(self) -> None:
        """Load the first block at once, so S3 errors come before the answer starts."""
        if self._pos < self.size:
            self._get_block(self._pos // self.cache.block_size)

    def close(self) -> None:
        for fut in self._futures.values():
            fut.cancel()
        self._futures.clear()
        self._block = None
        super().close()

    # -- internals ---------------------------------------------------------------
    def _last_block(self) -> int:
        end = max(self.end_hint, self._pos)
        return min(end, self.size - 1) // self.cache.block_size

    def _get_block(self, index: int) -> bytes:
        if self._block is not None and self._block[0] == index:
            return self._block[1]
        last = max(self._last_block(), index)
        for i in list(self._futures):
            if i < index or i > last:
                self._futures.pop(i).cancel()
        for i in range(index + 1, min(index + 1 + self.cache.prefetch, last + 1)):
            if i not in self._futures:
                self._futures[i] = self.cache.pool.submit(self._load, i)
        fut = self._futures.pop(index, None)
        data = fut.result() if fut is not None else self._load(index)
        self._block = (index, data)
        return data

    def _load(self, index: int) -> bytes:
        lo, hi = block_span(index, self.size, self.cache.block_size)
        data = self.cache.get(self.bucket, self.key, self.etag, index, hi - lo + 1)
        if data is not None:
            return data
        data = self._fetch(lo, hi)
        self.cache.put(self.bucket, self.key, self.etag, index, data)
        return data

    def _fetch(self, lo: int, hi: int) -> bytes:
        kwargs = {"Bucket": self.bucket, "Key": self.key}
        if lo > 0 or hi < self.size - 1:
            kwargs["Range"] = f"bytes={lo}-{hi}"
        if self.etag:
            kwargs["IfMatch"] = f'"{self.etag}"'
        try:
            resp = self.client.get_object(**kwargs)
        except ClientError as exc:
            if is_changed(exc):
                other = self.cache.same_as(self.bucket, self.key, self.etag)
                if other and other != self.etag:  # only our own MD5 self-copy: same bytes
                    self.etag = other
                    return self._fetch(lo, hi)
                raise ObjectChanged(f"{self.key} changed while it was being read") from exc
            raise
        with resp["Body"] as body:
            data = body.read()
        if len(data) != hi - lo + 1:
            raise ObjectChanged(f"{self.key}: asked for bytes {lo}-{hi}, S3 sent {len(data)} bytes")
        return data


class UploadTee:
    """A copy of an upload's body, kept while it streams, for the content cache.

    In memory up to `max_memory` bytes, then in a temporary file in the cache
    directory (a `spool.Spool`, written around the page cache where the file
    system allows), so memory stays bounded whatever the file size. A failed write
    (disk full) drops the copy; the upload itself goes on. Once the upload is
    committed the copy may be read at any offset (`read_at`, thread-safe) while
    it is being ingested, so a read-back need not wait for the ingest.
    """

    def __init__(self, spool_dir: Path, max_memory: int) -> None:
        self._spool = Spool(spool_dir, max_memory)
        self._lock = threading.Lock()
        self.ok = True

    def write(self, data: bytes | bytearray) -> None:
        if not self.ok:
            return
        try:
            with self._lock:
                self._spool.write(data)
        except Exception as exc:  # noqa: BLE001 - the copy is optional
            _log.warning("could not keep a copy of an upload for the cache: %s", exc)
            self.discard()

    def read_at(self, offset: int, n: int) -> bytes | None:
        """`n` bytes from `offset`, or None when the copy is gone or unreadable."""
        with self._lock:
            if not self.ok:
                return None
            try:
                return self._spool.pread(offset, n)
            except Exception:  # noqa: BLE001 - the caller reads elsewhere
                return None

    def reader(self) -> Callable[[int], bytes]:
        """A sequential `read(n)` over the copy; raises OSError once the copy is gone."""
        pos = 0

        def read(n: int) -> bytes:
            nonlocal pos
            data = self.read_at(pos, n)
            if data is None:
                raise OSError("the upload's copy is gone")
            pos += len(data)
            return data

        return read

    def md5_hex(self, chunk: int = 8 * MIB) -> str | None:
        """The MD5 of the whole copy, or None when the copy is gone or unreadable."""
        md5, read = hashlib.md5(), self.reader()
        try:
            while data := read(chunk):
                md5.update(data)
        except OSError:
            return None
        return md5.hexdigest()

    def ingest(self, cache: ContentCache, bucket: str, key: str, etag: str) -> None:
        """Store the body as the blocks of the new object version."""
        if self.ok:
            try:
                cache.put_object(bucket, key, etag, self.reader())
            except Exception as exc:  # noqa: BLE001
                _log.warning("could not cache the upload of %s: %s", key, exc)
        self.discard()

    def discard(self) -> None:
        with self._lock:
            self.ok = False
            try:
                self._spool.close()
            except Exception:  # noqa: BLE001
                pass
