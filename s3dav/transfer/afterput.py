"""Work that follows a multipart PUT once its answer is sent (docs/SEMANTICS.md, *Caching*).

A multipart upload is committed (CompleteMultipartUpload) before the PUT is
answered; what only refines it runs here, in the background: the MD5
self-copy that writes `x-amz-meta-md5chksum` (a server-side copy of the whole
object, seconds for a big file) and storing the body in the content cache.
Until then reads of the new object are served from the upload's spool.

Jobs are tracked per key, so that an operation that must see the final state
of a key (DELETE, COPY, MOVE, PROPPATCH, another upload's bookkeeping) can
wait for its jobs first (`flush`), and shutdown can let them finish.

Concurrency:
- Threads: request threads submit jobs and flush; `workers` pool threads run
  them; shutdown closes.
- `_cond` (a Condition) guards `_pending`; the gauge is set under it (the
  metric's own lock is a leaf). A job runs with no lock of ours held: it takes
  the store's locks (commit lock -> Overlay, ContentCache) and calls S3 as it
  needs. `flush` and `close` wait on `_cond` (the wait releases it).
- A job must not `flush` a prefix that covers its own key: it would wait for
  itself (until the timeout).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_log = logging.getLogger(__name__)


class AfterPut:
    """A small pool for post-answer upload work, with per-key pending counts."""

    def __init__(self, workers: int = 2, *, gauge=None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3dav-afterput")
        self._cond = threading.Condition()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._gauge = gauge  # prometheus Gauge of jobs pending, or None

    def submit(self, bucket: str, key: str, job: Callable[[], None]) -> None:
        with self._cond:
            self._pending[(bucket, key)] += 1
            self._set_gauge()
        try:
            self._pool.submit(self._run, bucket, key, job)
        except RuntimeError:  # shutting down: do it now
            self._run(bucket, key, job)

    def _run(self, bucket: str, key: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - the object itself is already committed
            _log.exception("post-upload work for s3://%s/%s failed", bucket, key)
        finally:
            with self._cond:
                self._pending[(bucket, key)] -= 1
                if self._pending[(bucket, key)] <= 0:
                    del self._pending[(bucket, key)]
                self._set_gauge()
                self._cond.notify_all()

    def _set_gauge(self) -> None:
        if self._gauge is not None:
            self._gauge.set(sum(self._pending.values()))

    def pending(self) -> int:
        with self._cond:
            return sum(self._pending.values())

    def flush(self, bucket: str, key_prefix: str, timeout: float | None = None) -> bool:
        """Wait until no job for a key under `key_prefix` is pending; False on timeout."""

        def idle() -> bool:
            return not any(b == bucket and k.startswith(key_prefix) for b, k in self._pending)

        with self._cond:
            return self._cond.wait_for(idle, timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Let pending jobs finish (bounded), then stop the pool."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._pending, timeout):
                _log.warning("%d post-upload jobs left unfinished", sum(self._pending.values()))
        self._pool.shutdown(wait=False, cancel_futures=True)
