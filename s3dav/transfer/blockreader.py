"""Reading one object version block by block through the content cache (docs/SEMANTICS.md,
*Caching*): cached blocks when intact, else ranged GETs pinned to the ETag, with read-ahead.

Concurrency: a `BlockReader` belongs to one request thread; its prefetch futures
run `_load` on the cache's pool (`ContentCache.pool`), which touches only the
reader's fixed fields and the cache (thread-safe). `_futures`, `_block` and `_pos`
are the request thread's alone. No lock is held here.
"""

from __future__ import annotations

import io
from concurrent.futures import Future
from typing import TYPE_CHECKING

from s3dav.transfer.reader import ObjectChanged, ObjectReader, get_range

if TYPE_CHECKING:
    from s3dav.transfer.contentcache import ContentCache


def block_span(index: int, size: int, block_size: int) -> tuple[int, int]:
    """First and last byte (inclusive) of block `index` of an object of `size` bytes."""
    lo = index * block_size
    return lo, min(lo + block_size, size) - 1


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
        try:
            resp = get_range(self.client, self.bucket, self.key, lo, hi, self.size, self.etag)
        except ObjectChanged:
            other = self.cache.same_as(self.bucket, self.key, self.etag)
            if other and other != self.etag:  # only our own MD5 self-copy: same bytes
                self.etag = other
                return self._fetch(lo, hi)
            raise
        with resp["Body"] as body:
            data = body.read()
        if len(data) != hi - lo + 1:
            raise ObjectChanged(f"{self.key}: asked for bytes {lo}-{hi}, S3 sent {len(data)} bytes")
        return data
