"""A copy of an upload's body for the content cache, kept while the upload streams.

Concurrency: written by the upload's request thread or, for a multipart body,
by its part workers one part after the other (upload.py orders them); read at
any offset by readers of the new version (ContentCache.get) and by the
after-PUT work that hashes and ingests it. `UploadTee._lock` guards the spool
and `ok`; the spool's disk I/O (write, pread, close) runs under it, so a read
waits for a write in progress. It is a leaf: nothing else is locked under it.
Callers may hold the tree's commit lock when they write (a single PutObject).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from s3dav.transfer.spool import Spool

if TYPE_CHECKING:
    from s3dav.transfer.contentcache import ContentCache

_log = logging.getLogger(__name__)

MIB = 1024 * 1024


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
