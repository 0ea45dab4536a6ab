"""The write-back journal: one `<id>.up` file per answered PUT, written and read back.

A file is the body, then the journal record (a `Job` as JSON), then a trailer
of the record's length and MAGIC. A file whose trailer is missing or does not
match was never answered (the gateway died while the body arrived) and is
removed at start; a valid one is uploaded again. `.lock` in the directory
keeps a second gateway off the same journal.

`WriteBackUpload` is what a write-back PUT writes into: the body goes into its
file, and at `close` the record behind it (writeback.WriteBack.journal).

Concurrency: nothing here is shared; a `WriteBackUpload` or `BodyReader`
belongs to the request or upload thread that opened it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import itertools
import json
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from s3dav.transfer.uploads import UploadResult, check_complete, upload_result

if TYPE_CHECKING:
    from s3dav.transfer.writeback import WriteBack

MAGIC = b"S3DAVWB1"
TRAILER = struct.Struct(">Q8s")  # record length, magic
_ids = itertools.count()


def new_id() -> str:
    """Unique per process and across restarts (time-based), cheap (no urandom)."""
    return f"{time.time_ns():x}-{os.getpid():x}-{next(_ids):x}"


def read_record(path: Path) -> dict | None:
    """The journal record at the end of an upload file, or None if it has none."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end < TRAILER.size:
                return None
            f.seek(end - TRAILER.size)
            length, magic = TRAILER.unpack(f.read(TRAILER.size))
            if magic != MAGIC or length > end - TRAILER.size:
                return None
            f.seek(end - TRAILER.size - length)
            record = json.loads(f.read(length))
    except (OSError, ValueError):
        return None
    if record.get("size") != end - TRAILER.size - length:
        return None
    return record


class BodyReader(io.RawIOBase):
    """The body part of an upload file (its journal record hidden), seekable."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__()
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._f.tell(), io.SEEK_END: self.size}[whence]
        return self._f.seek(max(0, base + offset))

    def tell(self) -> int:
        return self._f.tell()

    def read(self, n: int = -1) -> bytes:
        left = self.size - self._f.tell()
        if left <= 0:
            return b""
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


@dataclass
class Job:
    """One journalled upload: the record behind its body. Until S3 has it, the
    gateway shows `md5_hex` as its ETag."""

    id: str
    seq: int
    bucket: str
    key: str
    content_type: str
    metadata: dict
    size: int
    md5_hex: str
    created: float  # when the PUT was journalled (answered)


class JournalInUse(RuntimeError):
    """Another running s3dav holds this journal directory."""


def lock_journal(directory: Path) -> int:
    """Hold `directory/.lock` exclusively for the life of the process (released on close).

    Two gateways on one journal would upload each other's bodies and delete each
    other's half-written ones at start; the second one is refused instead.
    """
    fd = os.open(str(directory / ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise JournalInUse(
            f"write-back journal {directory} is in use by another s3dav; "
            "give each gateway its own cache.dir"
        ) from None
    return fd


def write_record(f, job: Job) -> None:
    """Append `job`'s record and trailer behind the body in `f`, then fsync `f`."""
    record = json.dumps(vars(job)).encode()  # flat fields: no deep copy as asdict
    f.write(record + TRAILER.pack(len(record), MAGIC))
    f.flush()
    os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WriteBackUpload:
    """The file object a write-back PUT writes into (an `uploads.Upload`)."""

    write_back = True

    def __init__(
        self,
        wb: WriteBack,
        bucket: str,
        key: str,
        content_type: str,
        metadata: dict,
        *,
        exact_size: int | None = None,
    ) -> None:
        self.wb = wb
        self.bucket = bucket
        self.key = key
        self.content_type = content_type
        self.metadata = dict(metadata)
        self.id = new_id()
        self.path = wb.dir / f"{self.id}.up"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._md5 = hashlib.md5()
        self._size = 0
        self.exact_size = exact_size
        self.tee = None
        self.result: UploadResult | None = None
        self.closed = False

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._md5.update(data)
        self._size += len(data)
        return len(data)

    def fill_from(self, readinto) -> bool:
        """Not taken: the body goes chunk by chunk into the journal file."""
        return False

    def close(self) -> None:
        """Make the body durable and journal it; the PUT may be answered after this."""
        if self.closed:
            return
        self.closed = True
        try:
            check_complete(self.key, self._size, self.exact_size)
            job = self.wb.journal(self, self._file)
            self._file.close()
        except BaseException:
            self.abort()
            raise
        self.result = upload_result(
            job.md5_hex, size=job.size, md5_hex=job.md5_hex, multipart=False, at=job.created
        )

    def abort(self) -> None:
        self.closed = True
        try:
            self._file.close()
        except Exception:  # noqa: BLE001
            pass
        self.path.unlink(missing_ok=True)
