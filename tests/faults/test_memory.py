"""A 300 MiB chunked PUT streams through with bounded memory and comes back intact."""

import hashlib

import pytest

from tests.support.helpers import PeakRss

MIB = 1024 * 1024


def _chunks(total: int, seed: bytes):
    block = hashlib.sha256(seed).digest() * (MIB // 32)  # 1 MiB, not all zeros
    for i in range(total // MIB):
        yield block[i % 7 :] + block[: i % 7]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_300mib_chunked_put_then_get(gw, s3, bucket):
    total = 300 * MIB
    want = hashlib.sha256()
    for c in _chunks(total, b"s3dav"):
        want.update(c)

    with PeakRss(gw.pid) as rss:
        # A generator body makes requests send Transfer-Encoding: chunked, as Finder does.
        r = gw.request("PUT", "/big.bin", data=_chunks(total, b"s3dav"), timeout=600)
        assert r.status_code == 201
        r = gw.request("GET", "/big.bin", stream=True, timeout=600)
        got = hashlib.sha256()
        size = 0
        for block in r.iter_content(MIB):
            got.update(block)
            size += len(block)
    assert size == total
    assert got.hexdigest() == want.hexdigest()
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == total
    print(f"peak gateway RSS during 300 MiB chunked PUT+GET: {rss.peak / MIB:.0f} MiB")
    assert rss.peak < 200 * MIB
