"""spool.Spool: an upload's body copy, in memory then in a file written around the page cache.

Pure file logic on the real file system (the tests' temporary directory and
/dev/shm); no S3 needed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
from pathlib import Path

import pytest

from s3dav.transfer import spool as spool_mod
from s3dav.transfer.spool import ALIGN, CHUNK, Spool, read_window
from s3dav.transfer.uploadtee import UploadTee

MIB = 1024 * 1024


def fill(s: Spool, data: bytes, rng: random.Random) -> None:
    """Write `data` in pieces of uneven sizes, as a body arrives."""
    pos = 0
    while pos < len(data):
        n = rng.choice([1, 100, ALIGN - 1, ALIGN, 65536, CHUNK - 3, CHUNK, 3 * MIB])
        s.write(data[pos : pos + n])
        pos += n


def check_reads(s: Spool, data: bytes, rng: random.Random, count: int = 200) -> None:
    assert s.pread(0, len(data) + 100) == data
    for _ in range(count):
        offset = rng.randrange(0, len(data) + 10)
        n = rng.randrange(0, 5 * MIB)
        assert s.pread(offset, n) == data[offset : offset + n], (offset, n)


@pytest.mark.parametrize("where", ["tmp", "shm"])
def test_large_body_round_trips_at_any_offset(tmp_path, where):
    directory = tmp_path if where == "tmp" else Path("/dev/shm")
    rng = random.Random(7)
    data = os.urandom(20 * MIB + 12345)  # not a multiple of the alignment
    s = Spool(directory, max_memory=8 * MIB)
    fill(s, data, rng)
    assert s.size == len(data)
    if where == "tmp" and spool_mod.O_DIRECT:
        assert s.direct  # ext4/xfs: around the page cache
    check_reads(s, data, rng)
    s.close()


def test_small_body_stays_in_memory(tmp_path):
    s = Spool(tmp_path, max_memory=MIB)
    s.write(b"a" * 1000)
    s.write(bytearray(b"b" * 24))
    assert s.pread(990, 20) == b"a" * 10 + b"b" * 10
    assert s.pread(2000, 5) == b""
    assert not list(tmp_path.iterdir()) and s._file is None  # no file at all
    s.close()


def test_no_o_direct_writes_through_the_page_cache(tmp_path, monkeypatch):
    """A platform without O_DIRECT (macOS) keeps the same bytes, buffered."""
    monkeypatch.setattr(spool_mod, "O_DIRECT", 0)
    rng = random.Random(3)
    data = os.urandom(3 * MIB + 5)
    s = Spool(tmp_path, max_memory=MIB)
    fill(s, data, rng)
    assert not s.direct
    check_reads(s, data, rng, count=50)
    s.close()


def test_file_system_refusing_a_direct_write_falls_back(tmp_path, monkeypatch):
    """A file system that takes the flag but refuses the write (EINVAL) gets it buffered."""
    real = os.pwrite
    refused = []

    def pwrite(fd, data, offset):
        if spool_mod.fcntl.fcntl(fd, spool_mod.fcntl.F_GETFL) & spool_mod.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(spool_mod.os, "pwrite", pwrite)
    rng = random.Random(5)
    data = os.urandom(4 * MIB + 999)
    s = Spool(tmp_path, max_memory=MIB)
    fill(s, data, rng)
    if spool_mod.O_DIRECT:
        assert refused and not s.direct
    check_reads(s, data, rng, count=50)
    s.close()


def test_write_after_a_read_is_refused(tmp_path):
    s = Spool(tmp_path, max_memory=10)
    s.write(b"x" * 100)
    assert s.pread(0, 5) == b"xxxxx"
    with pytest.raises(ValueError, match="after the first read"):
        s.write(b"more")
    s.close()


def test_read_window_is_aligned_and_covers_the_range():
    for offset, n in [(0, 1), (1, 1), (4095, 2), (4096, 4096), (10_000, 123_456)]:
        start, length = read_window(offset, n)
        assert start % ALIGN == 0 and length % ALIGN == 0
        assert start <= offset and start + length >= offset + n
        assert length - n < 2 * ALIGN


def test_upload_tee_keeps_the_body_and_drops_it_on_discard(tmp_path):
    data = os.urandom(9 * MIB + 1)
    tee = UploadTee(tmp_path, max_memory=MIB)
    for i in range(0, len(data), MIB):
        tee.write(data[i : i + MIB])
    assert tee.md5_hex() == hashlib.md5(data).hexdigest()
    assert tee.read_at(MIB - 1, 3) == data[MIB - 1 : MIB + 2]
    tee.discard()
    assert tee.read_at(0, 10) is None
    assert not list(tmp_path.iterdir())  # the unnamed file is gone with it


def test_slow_disk_goes_back_to_the_page_cache(tmp_path):
    """Direct writes slower than min_direct_rate: the rest goes through the page cache."""
    rng = random.Random(11)
    data = os.urandom(12 * MIB + 3)
    s = Spool(tmp_path, max_memory=MIB, min_direct_rate=1e15)  # no disk is that fast
    fill(s, data, rng)
    assert not s.direct
    check_reads(s, data, rng, count=50)
    s.close()
    fast = Spool(tmp_path, max_memory=MIB, min_direct_rate=1)
    fill(fast, data, rng)
    assert fast.direct == bool(spool_mod.O_DIRECT)
    check_reads(fast, data, rng, count=20)
    fast.close()
