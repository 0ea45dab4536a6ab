"""Part buffers kept between uploads (s3dav/transfer/partpool.py): reuse, bounds, expiry,
and two real multipart uploads through one pool with intact bodies."""

from __future__ import annotations

import os
import time

from s3dav.transfer.partpool import PartPool
from s3dav.transfer.upload import StreamingUpload

MIB = 1024 * 1024


def test_a_buffer_given_back_is_the_one_taken_next():
    pool = PartPool(keep=4 * MIB, idle_s=None)
    a = pool.take(MIB)
    pool.give(a)
    assert pool.held == MIB
    assert pool.take(MIB) is a
    assert pool.held == 0 and pool.reused == 1


def test_only_a_buffer_of_the_asked_size_is_reused():
    pool = PartPool(keep=4 * MIB, idle_s=None)
    small = bytearray(MIB // 2)
    pool.give(small)
    big = pool.take(MIB)
    assert big is not small and len(big) == MIB
    assert pool.take(MIB // 2) is small


def test_the_pool_keeps_no_more_than_keep_bytes():
    pool = PartPool(keep=2 * MIB, idle_s=None)
    bufs = [bytearray(MIB) for _ in range(3)]
    for b in bufs:
        pool.give(b)
    assert pool.held == 2 * MIB
    assert pool.take(MIB) is bufs[1] and pool.take(MIB) is bufs[0]
    assert pool.take(MIB) is not bufs[2]  # dropped: the pool was full


def test_trim_drops_only_buffers_idle_long_enough():
    pool = PartPool(keep=4 * MIB, idle_s=30)
    try:
        pool.give(bytearray(MIB))
        now = time.monotonic()
        assert pool.trim(now + 10) == 0 and pool.held == MIB
        assert pool.trim(now + 31) == MIB and pool.held == 0
    finally:
        pool.clear()


def test_idle_buffers_are_released_without_another_call():
    pool = PartPool(keep=4 * MIB, idle_s=0.2)
    pool.give(bytearray(MIB))
    deadline = time.monotonic() + 5
    while pool.held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.held == 0


def test_a_cleared_pool_keeps_nothing():
    pool = PartPool(keep=4 * MIB, idle_s=None)
    pool.give(bytearray(MIB))
    pool.clear()
    assert pool.held == 0
    pool.give(bytearray(MIB))
    assert pool.held == 0


def _upload(s3, bucket, key, body, pool):
    up = StreamingUpload(
        s3, bucket, key, content_type=None, metadata={}, part_size=5 * MIB,
        threshold=5 * MIB, expected_size=len(body), max_inflight=3, buffers=pool,
    )  # fmt: skip
    view = memoryview(body)
    for i in range(0, len(body), 300_000):  # uneven pieces, as a client sends them
        up.write(view[i : i + 300_000])
    up.close()
    return up


def test_a_second_upload_reuses_the_first_ones_buffers_and_both_arrive_intact(s3, bucket):
    pool = PartPool(keep=64 * MIB, idle_s=None)
    first = os.urandom(17 * MIB + 1)
    second = os.urandom(12 * MIB + 7)  # shorter: its last part sits in a used buffer
    _upload(s3, bucket, "one.bin", first, pool)
    kept = pool.held
    assert kept >= 5 * MIB
    _upload(s3, bucket, "two.bin", second, pool)
    assert pool.reused >= 2
    assert s3.get_object(Bucket=bucket, Key="one.bin")["Body"].read() == first
    assert s3.get_object(Bucket=bucket, Key="two.bin")["Body"].read() == second


def test_an_upload_without_a_pool_releases_its_buffers_when_done(s3, bucket):
    up = _upload(s3, bucket, "own.bin", os.urandom(11 * MIB), None)
    assert up._buffers.held == 0
