"""Two real multipart uploads to moto's server through one part pool, both intact.

The pool's own rules, without S3: unit/test_partpool.py.
"""

from __future__ import annotations

import os

from s3dav.transfer.partpool import PartPool
from s3dav.transfer.upload import StreamingUpload
from s3dav.transfer.uploads import Body, UploadTarget, UploadTuning

MIB = 1024 * 1024


def _upload(s3, bucket, key, body, pool):
    up = StreamingUpload(
        UploadTarget(s3, bucket, key),
        UploadTuning(part_size=5 * MIB, threshold=5 * MIB, concurrency=3, buffers=pool),
        Body(expected_size=len(body)),
    )
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
