"""Metadata that s3fs changes beside the gateway, through a real s3fs mount of the same bucket.

issue 19 item 1: `touch -d` through s3fs rewrites x-amz-meta-mtime with a self-copy that
keeps the ETag; s3dav kept the old time forever (HEAD results remembered per ETag).
issue 19 item 5: a PUT through s3dav over a file chmod 600 / chown'd through s3fs made it
0644 and dropped uid/gid.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.support.helpers import propfind, wait_until
from tests.support.mounts import mount_s3fs, unmount

pytestmark = pytest.mark.mount  # an s3fs mount: root and /dev/fuse

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


@pytest.mark.slow
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
    # A change within 2 s of the gateway's own write (3 s with S3's whole seconds) is not
    # told apart from it (clock slack, docs/SEMANTICS.md): s3fs's touch below comes later.
    time.sleep(1.0)
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


@pytest.mark.slow
def test_put_over_a_file_keeps_its_s3fs_owner_group_and_mode(
    make_gateway, moto, s3, bucket, tmp_path, s3fs_mnt
):
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": f"{TTL}s"}})
    assert gw.request("PUT", "/seen.txt", data=b"v1").status_code == 201
    assert propfind(gw, "/").status_code == 207  # the gateway knows seen.txt's metadata
    # A change within 2 s of the gateway's own write (3 s with S3's whole seconds) is not
    # told apart from it (clock slack, docs/SEMANTICS.md): s3fs's chmod below comes later.
    time.sleep(3.2)

    mount_s3fs(moto.url, bucket, s3fs_mnt, tmp_path)
    (s3fs_mnt / "fresh.txt").write_bytes(b"v1")
    for name, mode in (("fresh.txt", 0o600), ("seen.txt", 0o640)):
        os.chmod(s3fs_mnt / name, mode)
        os.chown(s3fs_mnt / name, 1234, 5678)
    for key, mode in (("fresh.txt", 0o100600), ("seen.txt", 0o100640)):
        meta = s3.head_object(Bucket=bucket, Key=key)["Metadata"]
        assert (meta["mode"], meta["uid"], meta["gid"]) == (str(mode), "1234", "5678")

    expire_listings()  # the chmod is seen once the listing is read again
    for name in ("fresh.txt", "seen.txt"):
        r = gw.request("PUT", f"/{name}", data=b"v2 from dav", headers={"X-OC-Mtime": str(Y2020)})
        assert r.status_code == 204, r.text
    before = gw.s3_counts()
    assert gw.request("PUT", "/fresh.txt", data=b"v3 from dav").status_code == 204
    assert gw.s3_delta(before) == {"PUT": 1}, "an overwrite costs no HEAD: metadata is known"

    for key, mode, body in (
        ("fresh.txt", 0o100600, b"v3 from dav"),
        ("seen.txt", 0o100640, b"v2 from dav"),
    ):
        obj = s3.get_object(Bucket=bucket, Key=key)
        assert obj["Body"].read() == body
        meta = obj["Metadata"]
        assert (meta["mode"], meta["uid"], meta["gid"]) == (str(mode), "1234", "5678"), meta
    assert s3.head_object(Bucket=bucket, Key="seen.txt")["Metadata"]["mtime"] == str(Y2020)

    time.sleep(1.5)  # s3fs's stat cache (stat_cache_expire=1) forgets the old attributes
    for name, mode in (("fresh.txt", 0o600), ("seen.txt", 0o640)):
        st = (s3fs_mnt / name).stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, 1234, 5678), name
        assert stat.S_ISREG(st.st_mode)
    assert (s3fs_mnt / "seen.txt").read_bytes() == b"v2 from dav"
    assert int((s3fs_mnt / "seen.txt").stat().st_mtime) == Y2020


def test_put_over_a_file_never_read_costs_one_head(make_gateway, bucket, s3):
    s3.put_object(
        Bucket=bucket, Key="x.txt", Body=b"v1", Metadata={"mode": "33152", "uid": "7", "gid": "8"}
    )
    gw = make_gateway(bucket, config={"cache": {"head_unseen": False}})
    assert propfind(gw, "/").status_code == 207  # listed without HEADs
    before = gw.s3_counts()
    assert gw.request("PUT", "/x.txt", data=b"v2").status_code == 204
    assert gw.s3_delta(before) == {"HEAD": 1, "PUT": 1}
    meta = s3.head_object(Bucket=bucket, Key="x.txt")["Metadata"]
    assert (meta["mode"], meta["uid"], meta["gid"]) == ("33152", "7", "8")


def test_put_over_a_file_keeps_its_metadata_with_write_back(make_gateway, bucket, s3):
    s3.put_object(
        Bucket=bucket,
        Key="w.txt",
        Body=b"v1",
        Metadata={"mode": "33152", "uid": "7", "gid": "8", "ctime": "1", "md5chksum": "x"},
    )
    gw = make_gateway(bucket, config={"cache": {"write_back": True, "write_back_delay": "0s"}})
    assert gw.request("PUT", "/w.txt", data=b"v2", headers={"X-OC-Mtime": str(Y2020)}).ok
    assert gw.request("PUT", "/w.txt", data=b"v3").ok  # over the pending one: still kept

    def uploaded() -> bool:
        return s3.get_object(Bucket=bucket, Key="w.txt")["Body"].read() == b"v3"

    assert wait_until(uploaded, 30), "write-back did not upload"
    meta = s3.head_object(Bucket=bucket, Key="w.txt")["Metadata"]
    assert (meta["mode"], meta["uid"], meta["gid"]) == ("33152", "7", "8")
    assert "ctime" not in meta and "md5chksum" not in meta  # times and content hashes are new
