"""Streaming uploads with atomic replace (docs/SEMANTICS.md, *Consistency*, *Caching*).

A body smaller than the multipart threshold becomes one PutObject; a larger one
a multipart upload whose parts go up in parallel while the client still sends.
Memory is bounded by (in-flight parts + 1) x part size, whatever the file size.
Nothing is visible in S3 until the final PutObject/CompleteMultipartUpload, so a
failed or abandoned upload leaves the old object as it was.

Longer than ~400 lines on purpose: it is one state machine (buffer, then one
PutObject or a multipart upload) whose steps share one upload's fields, and
it reads best whole. What uploads share is in uploads.py, part checksums in
partchecks.py, part buffers in partpool.py.

Concurrency (as rclone's vfscache/item.go states its own):
- Threads. One request thread owns a `StreamingUpload`: it alone calls write,
  fill_from, close and abort, and it alone touches `_chunks`, `_part`, `_fill`,
  `_parts`, `_size` and `_upload_id` (written before any part is submitted). The
  part workers (`UploadTuning.executor`, shared by the gateway's uploads) run
  `_create` and `_upload_part`; they share with the request thread only `_md5`,
  the tee, the part buffers and `_slots`.
- `_md5` and the tee see the parts in order without a lock: part N waits for
  part N-1's `hashed` event before it hashes and tees, then sets its own.
- `_slots` (a semaphore of `UploadTuning.concurrency`) is the back pressure: the
  request thread blocks in `_send_part` until a part worker is done, with no
  lock held.
- Locks, in the order they may be taken: the tree's commit lock for the key
  (`commit_lock`, store/keylocks.py) -> the Overlay lock (in `on_commit`) and
  the tee's lock (`UploadTee.write` of a single PutObject body) -> the leaf
  locks of PartPool and InFlightUploads (PartChecksums needs none). Nothing
  here takes the commit lock while holding another lock.
- While the commit lock is held, S3 is called (PutObject or
  CompleteMultipartUpload) and `_complete` waits for the last parts to be up:
  a second PUT of the same key waits for that, which is the point (the
  gateway's record of a key is the upload S3 committed last).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager

from botocore.exceptions import ClientError

from s3dav.transfer.partchecks import PartChecksums, crc32_b64, part_md5_needed
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.uploads import (
    Body,
    UploadError,
    UploadResult,
    UploadTarget,
    UploadTuning,
    check_complete,
    upload_result,
)

_log = logging.getLogger(__name__)

MIB = 1024 * 1024
MIN_PART = 5 * MIB
MAX_PARTS = 10_000


def choose_part_size(expected_size: int | None, default: int) -> int:
    """A part size that keeps the upload under S3's 10,000-part limit."""
    size = max(default, MIN_PART)
    if expected_size:
        while expected_size / size > MAX_PARTS:
            size *= 2
    return size


class StreamingUpload:
    """A write-only file object that streams into one S3 object (an `uploads.Upload`)."""

    write_back = False

    def __init__(
        self,
        target: UploadTarget,
        tuning: UploadTuning = UploadTuning(),
        body: Body = Body(),
        *,
        tee=None,
        commit_lock: AbstractContextManager | None = None,
        on_commit: Callable[[StreamingUpload], None] | None = None,
    ) -> None:
        """`tee`: a copy of the body for the content cache (contentcache.UploadTee).
        `commit_lock`, `on_commit`: the tree's; commits of one key are serialised
        under its lock and recorded by `on_commit` inside it, so the gateway's view
        of a key always matches the upload S3 committed last (two PUTs racing)."""
        self.client = target.client
        self.bucket = target.bucket
        self.key = target.key
        self.content_type = target.content_type or "application/octet-stream"
        self.metadata = dict(target.metadata)
        self.conditions = dict(target.conditions)
        self.part_size = choose_part_size(body.expected_size, tuning.part_size)
        self.threshold = max(tuning.threshold, 1)
        self.expected_size = body.expected_size
        self.exact_size = body.exact_size
        self.known_md5 = body.md5_hex
        self.hash_md5 = body.hash_md5 and body.md5_hex is None
        self.executor = tuning.executor
        self._own_executor = False
        self.checksums = tuning.checksums or PartChecksums(enabled=False)
        self._in_flight = tuning.in_flight
        self.tee = tee
        self.commit_lock = commit_lock or contextlib.nullcontext()
        self.on_commit = on_commit
        self.result: UploadResult | None = None
        self.closed = False
        self._chunks: deque[bytes | bytearray] = deque()  # received before the multipart began
        self._buffered = 0
        # Once multipart: the part being filled. Part buffers whose upload is done go
        # back to the pool: reusing them spares a fresh 8 MiB allocation (and its
        # page faults) per part.
        self._part: bytearray | None = None
        self._fill = 0
        self._own_buffers = tuning.buffers is None
        self._buffers = tuning.buffers or PartPool(
            keep=(tuning.concurrency + 1) * self.part_size, idle_s=None
        )
        self._md5 = hashlib.md5()
        self._hashed: threading.Event | None = None  # set when the last part sent is hashed
        self._size = 0
        self._upload_id: str | None = None
        self._creating: Future | None = None  # an early CreateMultipartUpload (see write)
        self._parts: list[tuple[int, Future]] = []
        self._crc32 = False  # this upload's parts carry a CRC32 (fixed at its creation)
        self._part_md5 = part_md5_needed(self.client, crc32=False)
        self._slots = threading.BoundedSemaphore(tuning.concurrency)

    # -- file object protocol -------------------------------------------------
    def write(self, data: bytes | bytearray) -> int:
        """Take a chunk of the body.

        Until the upload turns multipart a chunk is kept as it is (a bytearray is
        not copied: the gateway's body reader hands over a fresh one per chunk);
        then it is copied into the part being filled.
        """
        if self.closed:
            raise ValueError(f"upload of {self.key} is already closed")
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        first = not self._size and data and self._creating is None and self._upload_id is None
        if first and self.expected_size and self.expected_size >= self.threshold:
            # An announced multipart body: create the upload while its first part
            # arrives, not after (one S3 round trip less before the first part goes).
            self._creating = self._ensure_executor().submit(self._create)
        self._size += len(data)
        if self._upload_id is not None:
            self._fill_parts(data)
            return len(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= self.threshold:
            self._begin_parts()
        return len(data)

    def fill_from(self, readinto: Callable[[memoryview], int | None]) -> bool:
        """Read the whole body with `readinto` straight into part buffers.

        For a body announced at or above the threshold (so multipart for sure):
        no chunk is allocated and copied on its way into a part. False, with
        nothing read, for any other body or a source that cannot `readinto`;
        the caller then `write`s the body chunk by chunk.
        """
        if self.closed or self._size or self._creating is not None or self._upload_id:
            return False
        if not self.expected_size or self.expected_size < self.threshold:
            return False
        if readinto(memoryview(bytearray())) is None:
            return False
        self._creating = self._ensure_executor().submit(self._create)
        while True:
            with memoryview(self._filling()) as whole, whole[self._fill :] as free:
                n = readinto(free)
            if not n:
                return True
            self._size += n
            self._fill += n
            if self._fill == self.part_size:
                self._ship_part()

    def close(self) -> None:
        """Finish the upload; the object appears in S3 only now."""
        if self.closed:
            return
        self.closed = True
        try:
            check_complete(self.key, self._size, self.exact_size)
            if self._upload_id is None and self._creating is not None:
                self._begin_parts()  # created early: finished as multipart, whatever the size
            if self._upload_id is not None and (self._fill or not self._parts):
                last, self._part = self._part, None
                self._send_part(bytes(memoryview(last)[: self._fill]) if last else b"")
                if last is not None:
                    self._buffers.give(last)
            with self.commit_lock:
                if self._upload_id is None:
                    self._put_single()
                else:
                    self._complete()
                if self.on_commit is not None:
                    self.on_commit(self)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Give up: abort the multipart upload so no part lingers or shows."""
        self.closed = True
        self._chunks, self._buffered = deque(), 0
        self._part = None
        if self.tee is not None:
            self.tee.discard()
        upload_id, self._upload_id = self._upload_id, None
        creating, self._creating = self._creating, None
        if upload_id is None and creating is not None:
            try:
                upload_id = creating.result()[0]
            except BaseException:  # noqa: BLE001 - nothing was created
                upload_id = None
        for _, fut in self._parts:
            fut.cancel()
        for _, fut in self._parts:
            try:
                fut.result()
            except BaseException:  # noqa: BLE001 - parts of an aborted upload
                pass
        if upload_id:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=upload_id
                )
                _log.info("aborted multipart upload of %s", self.key)
            except Exception as exc:  # noqa: BLE001
                _log.warning("could not abort multipart upload of %s: %s", self.key, exc)
            self._ended(upload_id)  # if the abort failed, a later sweep may end it
        if self._own_buffers:
            self._buffers.clear()
        if self._own_executor and self.executor:
            self.executor.shutdown(wait=False)

    # -- internals ------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        """The first `n` buffered bytes, joined in one copy."""
        taken, size = [], 0
        while size < n:
            chunk = self._chunks.popleft()
            if size + len(chunk) > n:
                cut = n - size
                self._chunks.appendleft(chunk[cut:])
                chunk = chunk[:cut]
            taken.append(chunk)
            size += len(chunk)
        self._buffered -= size
        return b"".join(taken)

    def _put_single(self) -> None:
        body = self._take(self._buffered)
        if self.known_md5 is None:
            self._md5.update(body)
        if self.tee is not None:
            self.tee.write(body)
        md5_hex = self.known_md5 or self._md5.hexdigest()
        resp = self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=body,
            ContentType=self.content_type,
            ContentMD5=base64.b64encode(bytes.fromhex(md5_hex)).decode(),
            Metadata=self.metadata,
            **self.conditions,
        )
        self.result = upload_result(resp["ETag"], size=self._size, md5_hex=md5_hex, multipart=False)

    def _started(self, upload_id: str) -> None:
        if self._in_flight is not None:
            self._in_flight.started(upload_id)

    def _ended(self, upload_id: str) -> None:
        if self._in_flight is not None:
            self._in_flight.ended(upload_id)

    def _ensure_executor(self) -> ThreadPoolExecutor:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3dav-part")
            self._own_executor = True
        return self.executor

    def _create(self) -> tuple[str, bool]:
        """CreateMultipartUpload: the upload id, and whether its parts carry a CRC32."""
        create = {
            "Bucket": self.bucket,
            "Key": self.key,
            "ContentType": self.content_type,
            "Metadata": self.metadata,
        }
        if self.checksums.enabled:
            try:
                resp = self.client.create_multipart_upload(**create, ChecksumAlgorithm="CRC32")
                self._started(resp["UploadId"])
                return resp["UploadId"], True
            except ClientError as exc:
                if not self.checksums.refused(exc):
                    raise
        upload_id = self.client.create_multipart_upload(**create)["UploadId"]
        self._started(upload_id)
        return upload_id, False

    def _begin_parts(self) -> None:
        """Start the multipart upload and move what was received into parts."""
        self._start_multipart()
        received, self._chunks, self._buffered = self._chunks, deque(), 0
        for chunk in received:
            self._fill_parts(chunk)

    def _fill_parts(self, data: bytes | bytearray) -> None:
        """Copy `data` into part buffers; each one that is full goes up."""
        view = memoryview(data)
        while view:
            part = self._filling()
            n = min(len(view), self.part_size - self._fill)
            part[self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == self.part_size:
                self._ship_part()

    def _filling(self) -> bytearray:
        """The part buffer being filled (a free one is taken when there is none)."""
        if self._part is None:
            self._part, self._fill = self._buffer(), 0
        return self._part

    def _ship_part(self) -> None:
        """The full part buffer goes up (the multipart upload started first if need be)."""
        if self._upload_id is None:
            self._start_multipart()
        full, self._part, self._fill = self._part, None, 0
        self._send_part(full)

    def _buffer(self) -> bytearray:
        return self._buffers.take(self.part_size)

    def _start_multipart(self) -> None:
        self._ensure_executor()
        creating, self._creating = self._creating, None
        upload_id, self._crc32 = creating.result() if creating is not None else self._create()
        self._part_md5 = part_md5_needed(self.client, crc32=self._crc32)
        self._upload_id = upload_id

    def _send_part(self, data: bytes) -> None:
        number = len(self._parts) + 1
        self._slots.acquire()
        # A failed earlier part fails the upload now, not at the end.
        for _, fut in self._parts:
            if fut.done() and fut.exception() is not None:
                self._slots.release()
                raise UploadError(f"part upload of {self.key} failed: {fut.exception()}")
        after, self._hashed = self._hashed, threading.Event()
        fut = self.executor.submit(self._upload_part, number, data, after, self._hashed)
        self._parts.append((number, fut))

    def _upload_part(
        self,
        number: int,
        data: bytes | bytearray,
        after: threading.Event | None,
        hashed: threading.Event,
    ) -> dict:
        """Hash and tee the part (in order, off the request thread), then send it."""
        try:
            if after is not None:
                after.wait()
            try:
                if self.hash_md5:
                    self._md5.update(data)
                if self.tee is not None:
                    self.tee.write(data)
            finally:
                hashed.set()
            extra = {}
            if self._crc32:
                extra["ChecksumCRC32"] = crc32_b64(data)
            if self._part_md5:
                extra["ContentMD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            resp = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                **extra,
            )
            part = {"PartNumber": number, "ETag": resp["ETag"]}
            if self._crc32:
                part["ChecksumCRC32"] = extra["ChecksumCRC32"]
            return part
        finally:
            if isinstance(data, bytearray) and len(data) == self.part_size:
                self._buffers.give(data)  # botocore is done with it: reuse for a later part
            self._slots.release()

    def _complete(self) -> None:
        parts = [fut.result() for _, fut in self._parts]
        if self._own_buffers:
            self._buffers.clear()  # no part is filled any more
        md5_hex = self._md5.hexdigest() if self.hash_md5 else (self.known_md5 or "")
        resp = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
            **self.conditions,
        )
        self._ended(self._upload_id)
        self._upload_id = None
        self.result = upload_result(resp["ETag"], size=self._size, md5_hex=md5_hex, multipart=True)
        if self._own_executor and self.executor:
            self.executor.shutdown(wait=False)
