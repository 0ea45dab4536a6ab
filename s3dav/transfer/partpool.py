"""Part buffers that outlive one upload, so the next upload need not map fresh memory.

A fresh 8 MiB bytearray is fresh memory to the kernel (s3dav.server.memory sends every
buffer of 1 MiB or more straight back to it): 2048 page faults and a zeroing
pass, paid again by every upload for each of its first `upload_concurrency + 1`
parts. The pool keeps buffers that finished their part, up to `keep` bytes,
and gives them back after `idle_s` seconds without use, so memory at rest
stays flat.

Concurrency: one pool is shared by every upload of a gateway: request threads
take buffers, part workers give them back, a Timer thread (`_expire`) trims.
`_lock` guards `_free`, `_held`, `_timer`, `_closed` and `reused`; it is a
leaf (callers may hold the tree's commit lock), and nothing under it blocks:
allocation of a new buffer happens after it is released; arming the Timer
starts a thread but does not wait for it. `held` is read without the lock
(a gauge: it may be a moment old).
"""

from __future__ import annotations

import threading
import time


class PartPool:
    """Reusable part buffers, shared by the uploads of a process (thread-safe)."""

    def __init__(self, keep: int, idle_s: float | None = 30.0) -> None:
        """`keep`: bytes retained at most. `idle_s`: how long an unused buffer is
        kept; None keeps it as long as the pool lives (one upload's own pool)."""
        self.keep = max(keep, 0)
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._free: list[tuple[bytearray, float]] = []  # (buffer, when it came back)
        self._held = 0
        self._timer: threading.Timer | None = None
        self._closed = False
        self.reused = 0  # takes served with a kept buffer

    @property
    def held(self) -> int:
        """Bytes kept for reuse right now."""
        return self._held

    def take(self, size: int) -> bytearray:
        """A buffer of exactly `size` bytes: a kept one, else a new one. Its
        contents are whatever the last part left (every caller overwrites them)."""
        with self._lock:
            for i in range(len(self._free) - 1, -1, -1):  # the last one back is the warmest
                buf = self._free[i][0]
                if len(buf) == size:
                    del self._free[i]
                    self._held -= size
                    self.reused += 1
                    return buf
        return bytearray(size)

    def give(self, buf: bytearray) -> None:
        """Take back a buffer nobody uses any more; dropped when the pool is full."""
        with self._lock:
            if self._closed or self._held + len(buf) > self.keep:
                return
            self._free.append((buf, time.monotonic()))
            self._held += len(buf)
            if self.idle_s is not None and self._timer is None:
                self._arm(self.idle_s)

    def trim(self, now: float | None = None) -> int:
        """Drop buffers unused for `idle_s` seconds; the bytes dropped."""
        if self.idle_s is None:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._drop(lambda since: now - since >= self.idle_s)

    def clear(self) -> None:
        """Drop every kept buffer, and keep none from now on."""
        with self._lock:
            self._closed = True
            self._drop(lambda since: True)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # -- internals ------------------------------------------------------------
    def _drop(self, stale) -> int:
        """Under the lock: drop the buffers `stale(since)` picks; the bytes dropped."""
        kept = [(buf, since) for buf, since in self._free if not stale(since)]
        dropped = self._held - sum(len(buf) for buf, _ in kept)
        self._free, self._held = kept, self._held - dropped
        return dropped

    def _arm(self, delay: float) -> None:
        """Under the lock: trim again in `delay` seconds."""
        self._timer = threading.Timer(delay, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.trim()
        with self._lock:
            self._timer = None
            if self._free and not self._closed:
                oldest = min(since for _, since in self._free)
                self._arm(max(oldest + self.idle_s - time.monotonic(), 0.05))
