"""Streaming uploads with atomic replace (docs/SEMANTICS.md, *Consistency*, *Caching*).

A body smaller than the multipart threshold becomes one PutObject; a larger one
a multipart upload whose parts go up in parallel while the client still sends.
Memory is bounded by (in-flight parts + 1) x part size, whatever the file size.
Nothing is visible in S3 until the final PutObject/CompleteMultipartUpload, so a
failed or abandoned upload leaves the old object as it was.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import ClientError

from s3dav.errors import s3_code, s3_status
from s3dav.transfer.partpool import PartPool

_log = logging.getLogger(__name__)

MIB = 1024 * 1024
MIN_PART = 5 * MIB
MAX_PARTS = 10_000

# Ids of the multipart uploads this process is still sending: the stale-upload
# sweep (staleuploads.py) must not abort one, however long it has been running.
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


def uploads_in_flight() -> frozenset[str]:
    """Ids of the multipart uploads this process created and has not completed or aborted."""
    with _in_flight_lock:
        return frozenset(_in_flight)


def _track(upload_id: str | None, *, sending: bool) -> None:
    if upload_id:
        with _in_flight_lock:
            if sending:
                _in_flight.add(upload_id)
            else:
                _in_flight.discard(upload_id)


def choose_part_size(expected_size: int | None, default: int) -> int:
    """A part size that keeps the upload under S3's 10,000-part limit."""
    size = max(default, MIN_PART)
    if expected_size:
        while expected_size / size > MAX_PARTS:
            size *= 2
    return size


@dataclass(frozen=True)
class UploadResult:
    etag: str
    size: int
    md5_hex: str  # "" when the body was not hashed here (StreamingUpload.hash_md5 False)
    last_modified: float
    multipart: bool


class UploadError(Exception):
    """The upload could not be completed; S3 was left as it was."""


class IncompleteBody(UploadError):
    """The client sent fewer bytes than it announced (it went away mid-PUT)."""


def check_complete(key: str, received: int, announced: int | None) -> None:
    """Refuse to store a body that ended before its Content-Length (answered 400)."""
    if announced is not None and received != announced:
        raise IncompleteBody(f"body of {key} ended after {received} of {announced} bytes")


# How a store answers CreateMultipartUpload when it does not know
# x-amz-checksum-algorithm; the upload then goes on without part checksums.
CHECKSUM_REFUSED = {"InvalidArgument", "InvalidRequest", "NotImplemented", "BadRequest"}
CHECKSUM_REFUSED_STATUS = {400, 501}


def part_md5_needed(client, crc32: bool) -> bool:
    """Whether parts need a Content-MD5 for integrity.

    Over plain HTTP botocore signs every body with its SHA-256, which S3
    checks; a second hash of each part would only cost CPU. Over HTTPS the
    body is not signed, so a part needs a Content-MD5 unless it carries a CRC32.
    """
    url = getattr(getattr(client, "meta", None), "endpoint_url", "") or ""
    return not crc32 and not url.startswith("http://")


def crc32_b64(data: bytes) -> str:
    """The part checksum as S3 takes it in x-amz-checksum-crc32."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class PartChecksums:
    """Whether multipart uploads carry a CRC32 per part (`s3.part_checksums`).

    S3 then checks every part and keeps a composite checksum, as it does for
    boto3's and the AWS CLI's uploads. A store that refuses the checksum
    algorithm on the first CreateMultipartUpload turns this off for the process.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def refused(self, exc: ClientError) -> bool:
        """True (and off from now on) when `exc` is a store refusing the checksum."""
        code, status = s3_code(exc), s3_status(exc)
        if not self.enabled or (
            code not in CHECKSUM_REFUSED and status not in CHECKSUM_REFUSED_STATUS
        ):
            return False
        _log.warning(
            "the S3 store refused part checksums (%s %s); uploads go on without them",
            status, code,
        )  # fmt: skip
        self.enabled = False
        return True


class StreamingUpload:
    """A write-only file object that streams into one S3 object."""

    def __init__(
        self,
        client,
        bucket: str,
        key: str,
        *,
        content_type: str | None,
        metadata: dict[str, str],
        part_size: int = 8 * MIB,
        threshold: int = 8 * MIB,
        expected_size: int | None = None,
        executor: ThreadPoolExecutor | None = None,
        max_inflight: int = 10,
        conditions: dict[str, str] | None = None,
        checksums: PartChecksums | None = None,
        hash_md5: bool = True,
        known_md5: str | None = None,
        buffers: PartPool | None = None,
    ) -> None:
        """`hash_md5` False: a multipart body is not hashed here, because the
        caller hashes its copy after the answer (it is a fifth of an upload's
        CPU); a single PutObject is always hashed, for its Content-MD5.
        `known_md5`: the body's MD5 when the caller knows it already.
        `buffers`: the process's part buffers (partpool); None: this upload's own."""
        self.client = client
        self.bucket = bucket
        self.key = key
        self.content_type = content_type or "application/octet-stream"
        self.metadata = dict(metadata)
        self.part_size = choose_part_size(expected_size, part_size)
        self.threshold = max(threshold, 1)
        self.expected_size = expected_size
        self.executor = executor
        self.conditions = conditions or {}
        self._chunks: deque[bytes | bytearray] = deque()  # received before the multipart began
        self._buffered = 0
        # Once multipart: the part being filled. Part buffers whose upload is done go
        # back to the pool: reusing them spares a fresh 8 MiB allocation (and its
        # page faults) per part.
        self._part: bytearray | None = None
        self._fill = 0
        self._own_buffers = buffers is None
        self._buffers = buffers or PartPool(keep=(max_inflight + 1) * self.part_size, idle_s=None)
        self._md5 = hashlib.md5()
        self.known_md5 = known_md5
        self.hash_md5 = hash_md5 and known_md5 is None
        self._hashed: threading.Event | None = None  # set when the last part sent is hashed
        self._size = 0
        self._upload_id: str | None = None
        self._creating: Future | None = None  # an early CreateMultipartUpload (see write)
        self._parts: list[tuple[int, Future]] = []
        self.checksums = checksums or PartChecksums(enabled=False)
        self._crc32 = False  # this upload's parts carry a CRC32 (fixed at its creation)
        self._part_md5 = part_md5_needed(client, crc32=False)
        self._slots = threading.BoundedSemaphore(max_inflight)
        # Set by the tree: commits of one key are serialised under commit_lock and
        # recorded by on_commit inside it, so the gateway's view of a key always
        # matches the upload S3 committed last (two PUTs racing on one key).
        self.commit_lock = contextlib.nullcontext()
        self.on_commit = None
        self._own_executor = False
        self.result: UploadResult | None = None
        self.closed = False
        # Set when the client announced a Content-Length: a body that ends
        # early (client gone) must never be stored as the object.
        self.exact_size: int | None = None
        # A copy of the body for the content cache (contentcache.UploadTee), or None.
        self.tee = None

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
            _track(upload_id, sending=False)  # if the abort failed, a later sweep may end it
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
        self.result = UploadResult(
            etag=resp["ETag"].strip('"'),
            size=self._size,
            md5_hex=md5_hex,
            last_modified=time.time(),
            multipart=False,
        )

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
                _track(resp["UploadId"], sending=True)
                return resp["UploadId"], True
            except ClientError as exc:
                if not self.checksums.refused(exc):
                    raise
        upload_id = self.client.create_multipart_upload(**create)["UploadId"]
        _track(upload_id, sending=True)
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
        _track(self._upload_id, sending=False)
        self._upload_id = None
        self.result = UploadResult(
            etag=resp["ETag"].strip('"'),
            size=self._size,
            md5_hex=md5_hex,
            last_modified=time.time(),
            multipart=True,
        )
        if self._own_executor and self.executor:
            self.executor.shutdown(wait=False)
