"""What every upload is to the rooms above it: one interface, how one is made, one result.

Two kinds of upload implement `Upload`: `upload.StreamingUpload` (straight to S3)
and `writeback.WriteBackUpload` (into the write-back journal first). The store
and dav rooms build an upload (`S3Tree.new_upload`) from an `UploadTarget` (the
object), the gateway's `UploadTuning` and a `Body` (what is known of the body
beforehand), feed it, close or abort it and read its `result`; they set
nothing on it afterwards. `InFlightUploads` is one gateway's registry of the
multipart uploads it is sending.

Concurrency: `InFlightUploads` is shared by the part workers (which create
multipart uploads), the request threads (which complete or abort them) and the
stale-upload sweeper; its lock is a leaf (held around one set operation,
nothing is called under it). The dataclasses are frozen: safe to share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from s3dav.transfer.partchecks import PartChecksums
from s3dav.transfer.partpool import PartPool

MIB = 1024 * 1024


@dataclass(frozen=True)
class UploadResult:
    """What S3 (or the journal) holds once an upload is committed."""

    etag: str
    size: int
    md5_hex: str  # "" when the body was not hashed here (Body.hash_md5 False)
    last_modified: float
    multipart: bool


def upload_result(
    etag: str, *, size: int, md5_hex: str, multipart: bool, at: float | None = None
) -> UploadResult:
    """The one way an UploadResult is made: the ETag unquoted, dated now unless `at`."""
    return UploadResult(
        etag=etag.strip('"'),
        size=size,
        md5_hex=md5_hex,
        last_modified=time.time() if at is None else at,
        multipart=multipart,
    )


@dataclass(frozen=True)
class UploadTarget:
    """The one S3 object an upload writes, and what it carries."""

    client: object
    bucket: str
    key: str
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    conditions: Mapping[str, str] = field(default_factory=dict)  # If-Match, If-None-Match


@dataclass(frozen=True)
class UploadTuning:
    """How a gateway uploads; the same for all its uploads.

    `buffers`: the gateway's part buffers (partpool), None: each upload its own.
    `executor`: the part workers, None: each upload starts its own four.
    `in_flight`: where multipart upload ids are kept while they are sent.
    """

    part_size: int = 8 * MIB
    threshold: int = 8 * MIB
    concurrency: int = 10  # parts in flight per upload
    checksums: PartChecksums | None = None
    buffers: PartPool | None = None
    executor: ThreadPoolExecutor | None = None
    in_flight: InFlightUploads | None = None


@dataclass(frozen=True)
class Body:
    """What is known of a body before it arrives.

    `expected_size`: announced or hinted; picks the part size, and a multipart
    body's upload is created while its first part arrives. `exact_size`: the
    Content-Length, a body that ends early (client gone) is never stored.
    `md5_hex`: the body's MD5 when the caller knows it already. `hash_md5`
    False: a multipart body is not hashed here, because the caller hashes its
    copy after the answer (a fifth of an upload's CPU); a single PutObject is
    always hashed, for its Content-MD5.
    """

    expected_size: int | None = None
    exact_size: int | None = None
    md5_hex: str | None = None
    hash_md5: bool = True


class UploadError(Exception):
    """The upload could not be completed; S3 was left as it was."""


class IncompleteBody(UploadError):
    """The client sent fewer bytes than it announced (it went away mid-PUT)."""


def check_complete(key: str, received: int, announced: int | None) -> None:
    """Refuse to store a body that ended before its Content-Length (answered 400)."""
    if announced is not None and received != announced:
        raise IncompleteBody(f"body of {key} ended after {received} of {announced} bytes")


class Upload(Protocol):
    """A write-only file object that becomes one S3 object when closed.

    `exact_size` (the announced Content-Length, or None) is fixed when the upload
    is made: a body that ends early is refused at `close`, never stored.
    `write_back`: True when the object reaches S3 only later (the journal).
    `tee`: the body's copy for the content cache, or None; the tree takes it
    over once the upload is committed.
    """

    key: str
    content_type: str
    metadata: dict[str, str]
    exact_size: int | None
    result: UploadResult | None
    closed: bool
    write_back: bool
    tee: object | None

    def write(self, data: bytes | bytearray) -> int: ...

    def fill_from(self, readinto: Callable[[memoryview], int | None]) -> bool:
        """Read the whole body with `readinto`; False (nothing read) when it cannot."""
        ...

    def close(self) -> None:
        """Commit: the object (or its journal record) exists only after this."""
        ...

    def abort(self) -> None:
        """Give up; nothing of this upload stays visible."""
        ...


class InFlightUploads:
    """Ids of the multipart uploads one gateway created and has not completed or aborted.

    The stale-upload sweep (store/staleuploads.py) must not abort one of them,
    however long it has been running. One per gateway, so that several gateways
    in one process keep apart.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def ids(self) -> frozenset[str]:
        """The ids now in flight (a snapshot)."""
        with self._lock:
            return frozenset(self._ids)

    def started(self, upload_id: str) -> None:
        with self._lock:
            self._ids.add(upload_id)

    def ended(self, upload_id: str) -> None:
        """Completed or aborted (or the abort failed: a later sweep may end it)."""
        with self._lock:
            self._ids.discard(upload_id)
