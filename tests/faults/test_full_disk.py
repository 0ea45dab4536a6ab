"""The gateway's disk really full: a 16 MiB tmpfs as its cache directory, filled to the last byte.

Write-through: the cache is only an optimisation, so every request still succeeds with the right
bytes, and once space is back the cache works again. Write-back: a PUT is answered only once its
body is on that disk, so a full disk answers 507 Insufficient Storage and the old object stays.
Runs as root (mount), as CI does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cachedirs import store_dir
from tests.support.helpers import propfind, s3_bytes, wait_until
from tests.support.mounts import fill_disk, small_tmpfs

pytestmark = pytest.mark.mount  # a 16 MiB tmpfs: needs root

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 MiB file system; unmounted afterwards (after the gateways, set up later, stop)."""
    with small_tmpfs(tmp_path / "disk") as mnt:
        yield mnt


def gateway_on(make_gateway, bucket, disk: Path, **cache):
    cfg = {
        "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"},
        "cache": {"dir": str(disk / "cache"), **cache},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    return make_gateway(bucket, config=cfg)


def test_write_through_on_a_full_disk_serves_every_request_then_caches_again(
    small_disk, make_gateway, bucket, s3
):
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"from s3")
    gw = gateway_on(make_gateway, bucket, small_disk)
    filler = fill_disk(small_disk)
    small, big = os.urandom(4096), os.urandom(12 * MIB + 5)  # big: a multipart upload
    assert gw.request("PUT", "/small.txt", data=small).status_code == 201
    assert gw.request("PUT", "/big.bin", data=big).status_code == 201
    assert gw.request("MKCOL", "/d/").status_code == 201
    assert gw.request("GET", "/small.txt").content == small
    assert gw.request("GET", "/big.bin").content == big
    assert gw.request("GET", "/old.txt").content == b"from s3"
    r = propfind(gw, "/")
    assert r.status_code == 207 and all(n in r.text for n in ("small.txt", "big.bin", "d/"))
    assert gw.request("DELETE", "/small.txt").status_code == 204
    gw.settle()
    assert s3_bytes(s3, bucket, "big.bin") == big
    assert "could not keep a copy of an upload for the cache" in gw.log()

    filler.unlink()  # space is back: a file written now is read back from the cache
    again = os.urandom(6 * MIB)
    assert gw.request("PUT", "/again.bin", data=again).status_code == 201
    gw.settle()
    before = gw.s3_counts()
    assert gw.request("GET", "/again.bin").content == again
    assert gw.s3_delta(before).get("GET", 0) == 0
    log = gw.log()
    assert " 500 " not in log and "Traceback" not in log


def test_write_back_on_a_full_disk_answers_507_and_keeps_the_old_object(
    small_disk, make_gateway, bucket, s3
):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=b"old bytes")
    gw = gateway_on(make_gateway, bucket, small_disk, write_back=True)
    filler = fill_disk(small_disk)
    for size in (4096, 3 * MIB):
        r = gw.request("PUT", "/f.bin", data=os.urandom(size))
        assert r.status_code == 507, (r.status_code, r.text)
        assert "disk is full" in r.text
    assert gw.request("GET", "/f.bin").content == b"old bytes"
    assert s3_bytes(s3, bucket, "f.bin") == b"old bytes"
    journal = store_dir(small_disk / "cache", bucket) / "writeback"
    assert not list(journal.glob("*.up"))  # no half-journalled body

    filler.unlink()
    new = os.urandom(3 * MIB)
    assert gw.request("PUT", "/f.bin", data=new).status_code in (201, 204)
    assert gw.request("GET", "/f.bin").content == new
    assert wait_until(lambda: s3_bytes(s3, bucket, "f.bin") == new, 30)
    log = gw.log()
    assert " 500 " not in log and "Traceback" not in log
