"""The cache directory is never a point of failure (issue 5, item 9).

An unusable cache directory, corrupt cache files, a corrupt entry, or a property
store that breaks while running: the gateway carries on (with a warning) and
serves the right bytes from S3.
"""

from __future__ import annotations

from pathlib import Path

import diskcache

from tests.support.cachedirs import store_dir
from tests.support.helpers import propfind, s3_bytes

PROPPATCH = (
    b'<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:z="urn:z"><set><prop>'
    b"<z:color>%s</z:color></prop></set></propertyupdate>"
)


def session(gw, s3, bucket, tag: bytes) -> None:
    """A short session whose every answer and every byte in S3 is checked."""
    assert gw.request("PUT", "/f.txt", data=b"body " + tag).status_code in (201, 204)
    assert gw.request("GET", "/f.txt").content == b"body " + tag
    assert gw.request("GET", "/old.txt").content == b"from s3"
    r = propfind(gw, "/")
    assert r.status_code == 207 and "old.txt" in r.text
    assert gw.request("PROPPATCH", "/f.txt", data=PROPPATCH % tag).status_code == 207
    r = propfind(gw, "/f.txt", depth="0")
    assert r.status_code == 207 and tag.decode() in r.text
    assert s3_bytes(s3, bucket, "f.txt") == b"body " + tag


def test_cache_dir_that_is_a_file(make_gateway, bucket, s3, tmp_path):
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"from s3")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    gw = make_gateway(bucket, config={"cache": {"dir": str(blocker)}})
    session(gw, s3, bucket, b"one")
    log = gw.log()
    assert "metadata cache at" in log and "unusable" in log
    assert "property store" in log and "keeping properties in memory" in log
    assert " 500 " not in log


def test_corrupt_cache_files_and_entries(make_gateway, bucket, s3, tmp_path):
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"from s3")
    gw = make_gateway(bucket)
    session(gw, s3, bucket, b"one")
    gw.stop()
    cache = Path(gw.config["cache"]["dir"])
    # A corrupt metadata entry for old.txt (right key and ETag, wrong shape).
    etag = s3.head_object(Bucket=bucket, Key="old.txt")["ETag"].strip('"')
    store = store_dir(cache, bucket)
    namespace = (store / "IDENTITY").read_text().strip()
    with diskcache.Cache(str(store / "meta")) as dc:
        dc.set(f"{namespace}\0old.txt\0{etag}", {"mtime": "garbage", "mode": [1], "md5": 5})
    gw.start()
    session(gw, s3, bucket, b"two")
    assert "metadata cache entry for old.txt is corrupt" in gw.log()
    gw.stop()
    # Whole files overwritten with garbage.
    for f in [store / "properties.sqlite3", store / "meta" / "cache.db"]:
        f.write_bytes(b"\x00garbage" * 1000)
    for f in cache.rglob("*-wal"):
        f.write_bytes(b"junk")
    gw.start()
    session(gw, s3, bucket, b"three")
    assert "keeping properties in memory" in gw.log()
    assert "meta unusable, keeping it in memory: file is not a database" in gw.log()
    assert " 500 " not in gw.log()
