"""A temporary copy of an upload's body, kept around the page cache where it can be.

An upload's copy for the content cache (contentcache.UploadTee) is written
once while the body streams and read once or twice shortly after (its MD5,
its ingest into cache blocks). Written through the page cache, 256 MiB cost
the gateway 0.5 s of CPU on a 2-core VM (every page is freshly allocated, and
a VM that hands freed pages back to its host pays again for each), in the
thread that keeps the upload's parts moving. Written with O_DIRECT from a
reused aligned buffer it costs 0.03 s and the disk does the rest.

So `Spool` keeps a small body in memory and a larger one in an unnamed
temporary file, written and read with O_DIRECT where the file system allows
it (ext4, xfs, ...) and through the page cache where it does not (or on a
platform without O_DIRECT). A direct write waits for the disk, so on a disk
slower than `min_direct_rate` (an SD card, a busy USB drive) the spool goes
back to the page cache, which absorbs the burst as it did before. Its data
is the same either way.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no O_DIRECT either
    fcntl = None

ALIGN = 4096  # O_DIRECT offsets, lengths and buffers: a multiple of the logical block size
CHUNK = 1024 * 1024  # bytes gathered in the aligned buffer per direct write
MIN_DIRECT_RATE = 100 * 1024 * 1024  # bytes/s: slower direct writes go through the page cache
RATE_SAMPLE = 8 * 1024 * 1024  # bytes written directly before the rate is judged
O_DIRECT = getattr(os, "O_DIRECT", 0) if fcntl is not None else 0


def align_down(n: int) -> int:
    return n - n % ALIGN


def align_up(n: int) -> int:
    return align_down(n + ALIGN - 1)


def read_window(offset: int, n: int) -> tuple[int, int]:
    """The aligned (start, length) that covers bytes offset .. offset+n-1."""
    start = align_down(offset)
    return start, align_up(offset + n) - start


class Spool:
    """Append-only bytes, then random reads: in memory up to `max_memory`, then on disk.

    Not thread-safe: the caller serialises writes, and reads with writes.
    Writes end with the first read (`finish`); a write after it raises.
    """

    def __init__(
        self, directory: Path, max_memory: int, min_direct_rate: float = MIN_DIRECT_RATE
    ) -> None:
        self.directory = directory
        self.max_memory = max_memory
        self.min_direct_rate = min_direct_rate
        self._direct_bytes = 0  # written directly, and the seconds it took
        self._direct_seconds = 0.0
        self.size = 0
        self._memory: bytearray | None = bytearray()
        self._file = None  # the unnamed temporary file, once the body outgrew memory
        self._fd = -1
        self.direct = False  # O_DIRECT is on for the file
        self._out: mmap.mmap | None = None  # aligned buffer that gathers direct writes
        self._held = 0  # bytes gathered in _out, not yet written
        self._written = 0  # bytes in the file
        self._in: mmap.mmap | None = None  # aligned buffer for direct reads
        self.finished = False

    # -- writing ----------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.finished:
            raise ValueError("spool: write after the first read")
        view = memoryview(data).cast("B")
        self.size += len(view)
        if self._memory is not None:
            self._memory += view
            if len(self._memory) <= self.max_memory:
                return
            view, self._memory = memoryview(self._memory), None
            self._open_file()
        if self._out is not None:  # a direct file (even one that fell back to buffered)
            self._gather(view)
        else:
            self._append(view)

    def _open_file(self) -> None:
        self._file = tempfile.TemporaryFile(dir=str(self.directory), buffering=0)
        self._fd = self._file.fileno()
        if O_DIRECT:
            try:
                flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
                fcntl.fcntl(self._fd, fcntl.F_SETFL, flags | O_DIRECT)
                self._out = mmap.mmap(-1, CHUNK)  # page-aligned
                self.direct = True
            except OSError:  # a file system without O_DIRECT (tmpfs on older kernels)
                self.direct = False

    def _gather(self, view: memoryview) -> None:
        """Copy into the aligned buffer; each full buffer is one direct write."""
        while view:
            n = min(len(view), CHUNK - self._held)
            self._out[self._held : self._held + n] = view[:n]
            self._held += n
            view = view[n:]
            if self._held == CHUNK:
                self._write_out(CHUNK)

    def _write_out(self, n: int) -> None:
        """Write the first n (aligned) gathered bytes at the end of the file."""
        chunk = memoryview(self._out)[:n]
        try:
            direct, started = self.direct, time.monotonic()
            done = 0
            while done < n:
                done += os.pwrite(self._fd, chunk[done:], self._written + done)
            if direct:
                self._judge_rate(n, time.monotonic() - started)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._buffered()  # the file system refused the direct write after all
            done = 0
            while done < n:
                done += os.pwrite(self._fd, chunk[done:], self._written + done)
        finally:
            chunk.release()
        self._written += n
        self._held -= n
        if self._held:
            self._out.move(0, n, self._held)

    def _judge_rate(self, n: int, seconds: float) -> None:
        """Back to the page cache when the disk takes direct writes too slowly."""
        self._direct_bytes += n
        self._direct_seconds += seconds
        if self._direct_bytes < RATE_SAMPLE:
            return
        if self._direct_bytes < self.min_direct_rate * self._direct_seconds:
            self._buffered()

    def _append(self, view: memoryview) -> None:
        while view:
            n = os.pwrite(self._fd, view, self._written)
            self._written += n
            view = view[n:]

    def _buffered(self) -> None:
        flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~O_DIRECT)
        self.direct = False

    def finish(self) -> None:
        """Write what is gathered: the aligned part directly, the tail through the page cache."""
        if self.finished:
            return
        self.finished = True
        if self._out is None or not self._held:
            return
        head = align_down(self._held)
        if head:
            self._write_out(head)
        if self._held:
            tail = bytes(self._out[: self._held])
            self._held = 0
            if self.direct:
                self._buffered()
                self._append(memoryview(tail))
                flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
                fcntl.fcntl(self._fd, fcntl.F_SETFL, flags | O_DIRECT)  # for the reads
                self.direct = True
            else:
                self._append(memoryview(tail))

    # -- reading ----------------------------------------------------------------
    def pread(self, offset: int, n: int) -> bytes:
        """`n` bytes from `offset`, fewer only at the end; raises OSError rather than
        return fewer elsewhere (the content cache cuts blocks by length)."""
        self.finish()
        if self._memory is not None:
            with memoryview(self._memory) as whole:
                return bytes(whole[offset : offset + n])  # one copy, not two
        n = max(0, min(n, self._written - offset))
        if not n:
            return b""
        if not self.direct:
            return os.pread(self._fd, n, offset)
        start, length = read_window(offset, n)
        if self._in is None or len(self._in) < length:
            if self._in is not None:
                self._in.close()
            self._in = mmap.mmap(-1, length)
        window = memoryview(self._in)[:length]
        try:
            want = min(length, self._written - start)
            got = 0
            while got < want:  # a direct read returns short only at the end of the file
                m = os.preadv(self._fd, [window[got:]], start + got)
                if m <= 0:
                    raise OSError(errno.EIO, f"spool: short read at {start + got}")
                got += m
            skip = offset - start
            return bytes(window[skip : skip + n])
        finally:
            window.release()

    def close(self) -> None:
        self._memory = None
        for buf in (self._out, self._in):
            if buf is not None:
                with contextlib.suppress(BufferError):
                    buf.close()
        self._out = self._in = None
        if self._file is not None:
            self._file.close()
            self._file = None
