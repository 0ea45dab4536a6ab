"""Metadata that s3fs changes beside the gateway, through a real s3fs mount of the same bucket.

issue 19 item 1: `touch -d` through s3fs rewrites x-amz-meta-mtime with a self-copy that
keeps the ETag; s3dav kept the old time forever (HEAD results remembered per ETag).
issue 19 item 5: a PUT through s3dav over a file chmod 600 / chown'd through s3fs made it
0644 and dropped uid/gid.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.helpers import propfind
from tests.test_client_mounts import mount_s3fs, unmount

TTL = 2.0
Y2015 = 1420070400  # 2015-01-01T00:00:00Z, what `touch -d 2015-01-01` (TZ=UTC) sets
Y2016 = 1451606400
Y2020 = 1600000000


@pytest.fixture
def s3fs_mnt(tmp_path):
    """A mount point; unmounted afterwards whatever happened."""
    mnt = tmp_path / "s3fs"
    yield mnt
    unmount(mnt)


def touch(path: Path, date: str) -> None:
    r = subprocess.run(
        ["touch", "-d", date, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},
    )
    assert r.returncode == 0, r.stderr


def dates(xml_text: str) -> dict[str, float]:
    """href -> getlastmodified (epoch seconds) of a multistatus."""
    out = {}
    for m in re.finditer(
        r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>(.*?)</(?:\w+:)?response>", xml_text, re.S
    ):
        found = re.search(r"getlastmodified>([^<]+)<", m.group(2))
        if found:
            out[m.group(1)] = parsedate_to_datetime(found.group(1)).timestamp()
    return out


def expire_listings() -> None:
    time.sleep(TTL + 0.3)  # the gateway's metadata_ttl passes: the next request lists again


def test_touch_through_s3fs_is_seen_within_the_ttl_and_after_restart(
    make_gateway, moto, s3, bucket, tmp_path, s3fs_mnt
):
    s3.put_object(Bucket=bucket, Key="other.txt", Body=b"other", Metadata={"mtime": str(Y2020)})
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": f"{TTL}s"}})
    r = gw.request("PUT", "/dav.txt", data=b"from dav", headers={"X-OC-Mtime": str(Y2020)})
    assert r.status_code == 201
    r = propfind(gw, "/")
    assert dates(r.text)["/dav.txt"] == Y2020 and dates(r.text)["/other.txt"] == Y2020
    expire_listings()
    assert propfind(gw, "/").status_code == 207  # the own write's listed version is pinned
    etags = {k: s3.head_object(Bucket=bucket, Key=k)["ETag"] for k in ("dav.txt", "other.txt")}

    mount_s3fs(moto.url, bucket, s3fs_mnt, tmp_path)
    for name in ("dav.txt", "other.txt"):
        touch(s3fs_mnt / name, "2015-01-01")
    unmount(s3fs_mnt)
    for key, etag in etags.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ETag"] == etag, "s3fs keeps the ETag: only metadata changed"
        assert head["Metadata"]["mtime"] == str(Y2015)

    expire_listings()
    before = gw.s3_counts()
    r = propfind(gw, "/")
    assert dates(r.text)["/dav.txt"] == Y2015, r.text
    assert dates(r.text)["/other.txt"] == Y2015, r.text
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 2}, "each changed object HEADed once"

    gw.restart()
    before = gw.s3_counts()
    r = propfind(gw, "/")
    assert dates(r.text)["/dav.txt"] == Y2015 and dates(r.text)["/other.txt"] == Y2015
    assert gw.s3_delta(before) == {"LIST": 1}, "no HEAD after a restart"

    # changed while the gateway was down: seen after its restart, one HEAD each
    gw.stop()
    s3fs_mnt.rmdir()
    mount_s3fs(moto.url, bucket, s3fs_mnt, tmp_path)
    touch(s3fs_mnt / "dav.txt", "2016-01-01")
    unmount(s3fs_mnt)
    gw.start()
    before = gw.s3_counts()
    r = propfind(gw, "/")
    assert dates(r.text)["/dav.txt"] == Y2016 and dates(r.text)["/other.txt"] == Y2015
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 1}
