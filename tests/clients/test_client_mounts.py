"""Kernel mounts beside the gateway: davfs2 (+ rsync, the way DropSync syncs onto a
mounted volume) and s3fs-fuse on the same bucket. Both run as root with FUSE.

Every mount is unmounted in teardown, also when the test fails.
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

from tests.support.helpers import hrefs, propfind, wait_until
from tests.support.mounts import is_mounted, mount_s3fs, unmount

pytestmark = pytest.mark.mount  # davfs2 and s3fs mounts: root and /dev/fuse


@pytest.fixture
def mounts():
    """Mount points this test made; each is unmounted afterwards whatever happened."""
    made: list[Path] = []
    yield made
    for mnt in reversed(made):
        unmount(mnt)


def mount_davfs(gw_url: str, mnt: Path, workdir: Path, *, locks: bool = False) -> None:
    conf = workdir / "davfs2.conf"
    # davfs2's own cache (/var/cache/davfs2) is kept per URL and mount point; the
    # daemon runs as user davfs2 and could not open a cache under pytest's tmp.
    conf.write_text(f"use_locks {int(locks)}\nask_auth 0\ndelay_upload 0\n")
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "davfs", gw_url + "/", str(mnt), "-o", f"conf={conf},rw"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "Music/Album/01 intro.mp3": os.urandom(200_000),
        "Music/Album/02 song.mp3": os.urandom(150_000),
        "Music/cover.jpg": os.urandom(30_000),
        "Notes/todo.txt": b"buy milk\n",
        "Notes/empty.txt": b"",
        "Notes/2024/r\u00e9sum\u00e9.md": "accents \u00e9\u00e8\n".encode(),
        "top.txt": b"top level\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "Empty folder").mkdir()
    return files


def test_davfs2_rsync_tree_reaches_s3_intact(gw, s3, bucket, tmp_path, mounts):
    src = tmp_path / "src"
    files = make_tree(src)
    mnt = tmp_path / "mnt"
    mounts.append(mnt)
    assert gw.request("MKCOL", "/Backup").status_code == 201
    mount_davfs(gw.url, mnt, tmp_path, locks=True)
    r = subprocess.run(
        [
            "rsync",
            "-r",
            "--inplace",
            "--no-perms",
            "--no-owner",
            "--no-group",
            f"{src}/",
            f"{mnt}/Backup/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    unmount(mnt)
    assert not is_mounted(mnt)

    for rel, data in files.items():
        body = s3.get_object(Bucket=bucket, Key="Backup/" + rel)["Body"].read()
        assert body == data, rel
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "Backup/Empty folder/" in keys
    # No stray temp or lock files left behind by the client.
    assert not [k for k in keys if re.search(r"/\.[^/]*\.\w{6}$|\.davfs", k)], keys
    # A second rsync over a new mount finds nothing to send.
    mount_davfs_again = tmp_path / "mnt2"
    mounts.append(mount_davfs_again)
    mount_davfs(gw.url, mount_davfs_again, tmp_path)
    r = subprocess.run(
        [
            "rsync",
            "-r",
            "--size-only",
            "--itemize-changes",
            f"{src}/",
            f"{mount_davfs_again}/Backup/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", r.stdout


def test_s3fs_side_by_side(make_gateway, moto, s3, bucket, tmp_path, mounts):
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "1s"}})
    when = 1_500_000_000
    # Made through s3dav, seen through s3fs.
    assert gw.request("MKCOL", "/dav-dir", headers={"X-OC-Mtime": str(when)}).status_code == 201
    r = gw.request("PUT", "/dav-dir/f.txt", data=b"from dav", headers={"X-OC-Mtime": str(when)})
    assert r.status_code == 201 and r.headers["X-OC-Mtime"] == "accepted"
    assert gw.request("MKCOL", "/dav-dir/sub").status_code == 201

    mnt = tmp_path / "s3fs"
    mounts.append(mnt)
    mount_s3fs(moto.url, bucket, mnt, tmp_path)
    st = (mnt / "dav-dir").stat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    assert int(st.st_mtime) == when
    st = (mnt / "dav-dir" / "f.txt").stat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
    assert int(st.st_mtime) == when
    assert (mnt / "dav-dir" / "f.txt").read_bytes() == b"from dav"
    st = (mnt / "dav-dir" / "sub").stat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755

    # Made through s3fs, seen through s3dav.
    (mnt / "fs-dir").mkdir()
    (mnt / "fs-dir" / "g.bin").write_bytes(b"from s3fs" * 100)
    os.utime(mnt / "fs-dir" / "g.bin", (when + 7, when + 7))
    os.utime(mnt / "fs-dir", (when + 9, when + 9))
    unmount(mnt)
    time.sleep(1.2)  # the gateway's listing TTL
    r = propfind(gw, "/fs-dir/", depth="1")
    assert r.status_code == 207, r.text
    blocks = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>(.*?)</(?:\w+:)?response>", r.text, re.S
        )
    }
    file_block = blocks["/fs-dir/g.bin"]
    mod = re.search(r"getlastmodified>([^<]+)<", file_block).group(1)
    assert parsedate_to_datetime(mod).timestamp() == when + 7
    assert re.search(r"getcontentlength>900<", file_block)
    dir_mod = re.search(r"getlastmodified>([^<]+)<", blocks["/fs-dir/"]).group(1)
    assert parsedate_to_datetime(dir_mod).timestamp() == when + 9
    assert gw.request("GET", "/fs-dir/g.bin").content == b"from s3fs" * 100


def test_folder_made_through_s3fs_opens_within_negative_ttl(
    make_gateway, moto, s3, bucket, tmp_path, mounts
):
    """Issue 15: a folder made through an s3fs mount after the gateway listed its parent
    answered 404 for up to metadata_ttl; now the first read naming it once
    `cache.negative_ttl` has passed finds it (metadata_ttl 600 s here, so nothing else can)."""
    s3.put_object(Bucket=bucket, Key="top/old.txt", Body=b"old")
    cache = {"metadata_ttl": "600s", "negative_ttl": "1s", "readahead_folders": 0}
    gw = make_gateway(bucket, config={"cache": cache})
    assert propfind(gw, "/top/").status_code == 207
    mnt = tmp_path / "s3fs"
    mounts.append(mnt)
    mount_s3fs(moto.url, bucket, mnt, tmp_path)
    (mnt / "top" / "made").mkdir()
    (mnt / "top" / "made.txt").write_bytes(b"from s3fs")
    unmount(mnt)

    assert wait_until(lambda: propfind(gw, "/top/made/").status_code == 207)
    assert hrefs(propfind(gw, "/top/made/").text) == ["/top/made/"]
    assert gw.request("GET", "/top/made.txt").content == b"from s3fs"
    listed = sorted(hrefs(propfind(gw, "/top/").text))
    assert listed == ["/top/", "/top/made.txt", "/top/made/", "/top/old.txt"]
