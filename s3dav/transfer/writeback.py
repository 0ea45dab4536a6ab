"""Write-back uploads (`cache.write_back: true`): answer PUT once the body is safe on disk.

A PUT streams its body into `<dir>/<id>.up`; when the body is complete the
journal record (bucket, key, type, metadata, size, MD5, as JSON) is appended
behind it with its length and a magic trailer, the file is fsync'd and so is
the folder. Only then is the PUT answered. Background workers upload journalled
bodies to S3 with retries and delete the file when S3 has the object. At start
every file with a valid trailer is uploaded again, so a restart, also after
kill -9, loses nothing that was answered; a file without one was never
answered and is removed.

Until S3 has it, the file is seen through the read-your-writes overlay (its
ETag is the body's MD5) and read from the journalled body.

Ordering: records carry a sequence number; of two pending uploads of the same
key only the newer is sent. Operations that need the object in S3 (COPY, MOVE,
DELETE, PROPPATCH) first `flush()` the keys they touch.

Pacing: uploads wait until PUTs have paused for `delay` seconds (at most
MAX_HOLD after their PUT), so that a burst of small PUTs is answered without
the uploaders competing for the CPU (and the GIL) with the requests; a file
rewritten within the pause is uploaded once. `flush()` and resumed uploads do
not wait. (The file format is journal.py.)

Concurrency:
- Threads: request threads (a `WriteBackUpload` belongs to one; `journal`,
  `open_pending`, `flush`), the `workers` upload threads (`_worker`), their part
  workers (`_parts`, through StreamingUpload), and the start thread (`recover`).
- `WriteBack._lock` (a Condition) guards `_jobs`, `_queue`, `_seq`, `_active`,
  `_since`, `_last_put` and `_urgent`. It is a leaf but for the metrics gauge's
  own lock: no S3 request, fsync or callback runs under it; the only I/O under
  it is opening a body file (`open_pending`). `flush` and idle workers wait on
  it (the wait releases it).
- A journal write (two fsyncs) runs with no lock held; only its sequence
  number is drawn under `_lock`.
- `on_uploaded` and `on_pending` (the trees') are called from upload threads
  with no lock of ours held; they take the store's locks (Overlay, ContentCache).
  They must not call `flush` (it would wait for the job that calls them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from s3dav.errors import WriteBackTimeout
from s3dav.transfer.journal import (
    BodyReader,
    Job,
    WriteBackUpload,
    fsync_dir,
    lock_journal,
    read_record,
    write_record,
)
from s3dav.transfer.partchecks import PartChecksums
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.upload import StreamingUpload
from s3dav.transfer.uploads import (
    Body,
    InFlightUploads,
    UploadResult,
    UploadTarget,
    UploadTuning,
)

_log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_HOLD = 5.0  # seconds an upload waits at most for PUTs to pause (rclone: 5 s always)


class WriteBack:
    """The journal and the background uploaders."""

    def __init__(
        self,
        directory: Path,
        client,
        *,
        part_size: int,
        threshold: int,
        workers: int = 8,
        delay: float = 0.0,
        metrics=None,
        on_uploaded: Callable[[Job, UploadResult, Path], None] | None = None,
        checksums: PartChecksums | None = None,
        part_pool: PartPool | None = None,
        in_flight: InFlightUploads | None = None,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = lock_journal(self.dir)
        self.client = client
        self.metrics = metrics
        self.on_uploaded = on_uploaded
        self.on_pending: Callable[[Job], None] | None = None
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self._seq = time.time_ns()
        self._stop = threading.Event()
        self._active: set[str] = set()  # job ids being uploaded now
        self.delay = delay
        self._last_put = float("-inf")  # monotonic time of the last journalled PUT
        self._since: dict[str, float] = {}  # job id -> monotonic time it was journalled
        self._urgent = 0  # flush() calls waiting: uploads go at once
        self._parts = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3dav-wb-part")
        self.tuning = UploadTuning(
            part_size=part_size,
            threshold=threshold,
            checksums=checksums,
            buffers=part_pool,
            executor=self._parts,
            in_flight=in_flight,
        )
        self._threads = [
            threading.Thread(target=self._worker, name=f"s3dav-wb-{i}", daemon=True)
            for i in range(workers)
        ]

    # -- journal ----------------------------------------------------------------
    def new_upload(
        self,
        bucket: str,
        key: str,
        content_type: str,
        metadata: dict,
        *,
        exact_size: int | None = None,
    ) -> WriteBackUpload:
        return WriteBackUpload(self, bucket, key, content_type, metadata, exact_size=exact_size)

    def journal(self, up: WriteBackUpload, f) -> Job:
        """Append the record behind the body and make both durable (2 fsyncs)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        job = Job(
            id=up.id,
            seq=seq,
            bucket=up.bucket,
            key=up.key,
            content_type=up.content_type,
            metadata=up.metadata,
            size=up._size,
            md5_hex=up._md5.hexdigest(),
            created=time.time(),
        )
        write_record(f, job)
        fsync_dir(self.dir)
        self._add(job, held=True)
        return job

    def _add(self, job: Job, *, held: bool = False) -> None:
        """Queue `job`; `held`: a new PUT, whose upload waits for PUTs to pause."""
        now = time.monotonic()
        with self._lock:
            self._jobs[job.id] = job
            if held:
                self._last_put = now
                self._since[job.id] = now
            self._queue.append(job.id)
            self._gauge(+1)
            # While earlier PUTs are held, the workers wake at their hold's end and
            # look again; waking them for every PUT of a burst would cost CPU.
            if not held or self.delay <= 0 or len(self._since) == 1:
                self._lock.notify_all()

    def _gauge(self, change: int) -> None:
        # inc/dec, not set: the middleware also counts PUT bodies still arriving.
        if self.metrics is not None:
            self.metrics.uploads_pending.inc(change)

    def path(self, job: Job) -> Path:
        return self.dir / f"{job.id}.up"

    def recover(self) -> list[Job]:
        """Journalled uploads left by an earlier run (also after kill -9)."""
        jobs = []
        for path in sorted(self.dir.glob("*.up")):  # only ours: lock_journal() holds the dir
            record = read_record(path)
            if record is None:
                path.unlink(missing_ok=True)  # never answered: the client saw an error
                continue
            try:
                jobs.append(Job(**record))
            except TypeError as exc:
                _log.error(
                    "write-back: unreadable journal record in %s (%s); kept aside", path, exc
                )
                path.rename(path.with_suffix(".bad"))
        jobs.sort(key=lambda j: j.seq)
        if jobs:
            self._seq = max(self._seq, jobs[-1].seq)
            _log.warning("write-back: resuming %d journalled uploads", len(jobs))
        for job in jobs:
            self._add(job)
        return jobs

    def start(self) -> None:
        for t in self._threads:
            t.start()

    # -- reading and waiting --------------------------------------------------------
    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def open_pending(self, bucket: str, key: str, etag: str):
        """The journalled body of a pending upload with this ETag, opened, or None."""
        with self._lock:  # a pending upload's ETag is its body's MD5
            jobs = [j for j in self._jobs.values() if (j.bucket, j.key) == (bucket, key)]
            jobs = [j for j in jobs if j.md5_hex == etag]
            for job in sorted(jobs, key=lambda j: -j.seq):
                try:
                    return BodyReader(self.path(job), job.size)
                except OSError:
                    continue
        return None

    def flush(self, bucket: str, prefix: str, timeout: float = 120.0) -> None:
        """Wait until no upload of a key starting with `prefix` is pending."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._urgent += 1
            self._lock.notify_all()
            try:
                while any(
                    j.bucket == bucket and j.key.startswith(prefix) for j in self._jobs.values()
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise WriteBackTimeout(
                            f"uploads below s3://{bucket}/{prefix} still pending"
                        )
                    self._lock.wait(min(left, 1.0))
            finally:
                self._urgent -= 1

    # -- background ---------------------------------------------------------------
    def _held_until(self, job_id: str, now: float) -> float:
        """Monotonic time from which `job_id` may be uploaded (<= now: at once)."""
        since = self._since.get(job_id)
        if since is None or self._urgent or self.delay <= 0:
            return now
        return min(self._last_put + self.delay, since + MAX_HOLD)

    def _next(self) -> Job | None:
        with self._lock:
            while not self._stop.is_set():
                now = time.monotonic()
                wake = now + 1.0
                busy = {(j.bucket, j.key) for j in self._jobs.values() if j.id in self._active}
                for i, job_id in enumerate(self._queue):
                    job = self._jobs.get(job_id)
                    if job is None:
                        del self._queue[i]
                        self._since.pop(job_id, None)
                        break
                    if (job.bucket, job.key) in busy:
                        continue
                    ready = self._held_until(job_id, now)
                    if ready > now:
                        wake = min(wake, ready)
                        continue
                    del self._queue[i]
                    self._since.pop(job_id, None)
                    self._active.add(job.id)
                    return job
                else:
                    self._lock.wait(max(0.001, wake - now))
            return None

    def _worker(self) -> None:
        while not self._stop.is_set():
            job = self._next()
            if job is None:
                return
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._active.discard(job.id)
                    self._lock.notify_all()

    def _superseded(self, job: Job) -> bool:
        with self._lock:
            return any(
                (j.bucket, j.key) == (job.bucket, job.key) and j.seq > job.seq
                for j in self._jobs.values()
            )

    def _run(self, job: Job) -> None:
        delay = 1.0
        while not self._stop.is_set():
            if self._superseded(job):
                _log.info("write-back: s3://%s/%s superseded by a newer PUT", job.bucket, job.key)
                self._finish(job)
                return
            t0 = time.monotonic()
            try:
                result = self._upload(job)
            except Exception as exc:  # noqa: BLE001 - retried until it lands
                if self.on_pending is not None and not self._superseded(job):
                    self.on_pending(job)  # keep it in the overlay while S3 is away
                _log.warning(
                    "write-back: upload of s3://%s/%s failed (%s); retrying in %.0f s",
                    job.bucket, job.key, exc, delay,
                )  # fmt: skip
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            body = self.path(job)
            if self.on_uploaded is not None and not self._superseded(job):
                try:
                    self.on_uploaded(job, result, body)
                except Exception as exc:  # noqa: BLE001
                    _log.warning("write-back: after uploading %s: %s", job.key, exc)
            self._finish(job)
            _log.info(
                "write-back: s3://%s/%s uploaded in %.2f s, %d pending",
                job.bucket, job.key, time.monotonic() - t0, len(self._jobs),
            )  # fmt: skip
            return

    def _upload(self, job: Job) -> UploadResult:
        up = StreamingUpload(
            UploadTarget(self.client, job.bucket, job.key, job.content_type, job.metadata),
            self.tuning,
            # hashed when the PUT was journalled
            Body(expected_size=job.size, exact_size=job.size, md5_hex=job.md5_hex),
        )
        try:
            with BodyReader(self.path(job), job.size) as f:
                while data := f.read(CHUNK):
                    up.write(data)
        except BaseException:
            up.abort()
            raise
        up.close()
        return up.result

    def _finish(self, job: Job) -> None:
        with self._lock:
            if self._jobs.pop(job.id, None) is not None:
                self._gauge(-1)
            self._lock.notify_all()
        self.path(job).unlink(missing_ok=True)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        n = len(self._jobs)
        if n:
            _log.warning("write-back: %d uploads still pending; they resume at the next start", n)
        self._parts.shutdown(wait=False, cancel_futures=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
