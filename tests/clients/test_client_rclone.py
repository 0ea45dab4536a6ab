"""rclone's WebDAV backend (Debian's rclone 1.60) against a real gateway on moto.

`rclone sync` twice: the second run must transfer nothing, because the gateway
serves back the modification time rclone sent (X-OC-Mtime) and the MD5
(oc:checksums), and `rclone check` must find no difference.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

import pytest

from tests.support.helpers import TEST_ENV, hrefs, propfind, wait_until
from tests.support.rclone import rclone, remote, transferred

MIB = 1024**2


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "empty.bin": b"",
        "docs/readme.md": b"# readme\n" * 50,
        "docs/deep/er/x.bin": os.urandom(70_000),
        "photos/caf\u00e9 1.jpg": os.urandom(12_345),
        "big/multi.bin": os.urandom(6 * MIB + 123),  # above the 5 MiB threshold: multipart
    }
    for i, (rel, data) in enumerate(sorted(files.items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_600_000_000 + i * 1000, 1_600_000_000 + i * 1000))
    return files


@pytest.fixture
def small_parts(make_gateway, bucket):
    return make_gateway(bucket, config={"s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"}})


def test_rclone_owncloud_sync_twice_transfers_nothing_the_second_time(
    small_parts, tmp_path, s3, bucket, make_gateway
):
    gw = small_parts
    src = tmp_path / "src"
    files = make_tree(src)
    first = rclone(tmp_path, "sync", str(src), remote(gw, "owncloud", "dst"))
    assert first.returncode == 0, first.stderr
    assert transferred(first.stderr) == len(files), first.stderr

    second = rclone(tmp_path, "sync", str(src), remote(gw, "owncloud", "dst"))
    assert second.returncode == 0, second.stderr
    assert transferred(second.stderr) == 0, second.stderr
    assert "Copied" not in second.stderr

    check = rclone(tmp_path, "check", str(src), remote(gw, "owncloud", "dst"))
    assert check.returncode == 0, check.stderr
    assert "0 differences found" in check.stderr
    assert f"{len(files)} matching files" in check.stderr
    assert "hashes could not be checked" not in check.stderr

    for rel, data in files.items():
        key = "dst/" + rel
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"]["mtime"] == str(int((src / rel).stat().st_mtime)), rel
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data, rel

    # The multipart object carries its MD5 the way rclone's S3 backend writes it,
    # so a gateway with an empty cache (another replica) still serves it.
    head = s3.head_object(Bucket=bucket, Key="dst/big/multi.bin")
    md5 = hashlib.md5(files["big/multi.bin"]).digest()
    assert head["Metadata"]["md5chksum"] == base64.b64encode(md5).decode()
    fresh = make_gateway(bucket, name="fresh")
    check = rclone(tmp_path, "check", str(src), remote(fresh, "owncloud", "dst"))
    assert check.returncode == 0, check.stderr
    assert "hashes could not be checked" not in check.stderr


@pytest.mark.parametrize("vendor", ["other", "nextcloud"])
def test_rclone_other_vendors_sync_twice(gw, tmp_path, s3, bucket, vendor):
    src = tmp_path / "src"
    files = {k: v for k, v in make_tree(src).items() if not k.startswith("big/")}
    (src / "big" / "multi.bin").unlink()
    first = rclone(tmp_path, "sync", str(src), remote(gw, vendor, "v"))
    assert first.returncode == 0, first.stderr
    assert transferred(first.stderr) == len(files), first.stderr
    second = rclone(tmp_path, "sync", str(src), remote(gw, vendor, "v"))
    assert second.returncode == 0, second.stderr
    assert transferred(second.stderr) == 0, second.stderr
    check = rclone(tmp_path, "check", str(src), remote(gw, vendor, "v"))
    assert check.returncode == 0, check.stderr
    assert "0 differences found" in check.stderr
    if vendor == "nextcloud":  # X-OC-Mtime is sent by this vendor too
        head = s3.head_object(Bucket=bucket, Key="v/a.txt")
        assert head["Metadata"]["mtime"] == str(int((src / "a.txt").stat().st_mtime))


OC_PROPS = (
    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    b"<d:prop><d:getlastmodified/><d:getcontentlength/><d:resourcetype/><oc:checksums/>"
    b"</d:prop></d:propfind>"
)


def test_oc_checksums_property(gw):
    body = b"checksum me"
    gw.request("PUT", "/c.txt", data=body)
    gw.request("MKCOL", "/d")
    r = gw.request("PROPFIND", "/", data=OC_PROPS, headers={"Depth": "1"})
    assert r.status_code == 207
    md5 = hashlib.md5(body).hexdigest()
    found = re.findall(r"<(\w+):checksum>([^<]*)</\1:checksum>", r.text)
    assert [v for _, v in found] == [f"MD5:{md5}"], r.text
    assert "xmlns:" in r.text and "http://owncloud.org/ns" in r.text


def test_proppatch_lastmodified_forms(gw, s3, bucket):
    gw.request("PUT", "/t.txt", data=b"t")
    forms = [
        ("d:lastmodified", "1600000000"),  # rclone/ownCloud: epoch seconds
        ("oc:lastmodified", "1600000100"),
        ("d:getlastmodified", "Sun, 13 Sep 2020 12:30:00 GMT"),
    ]
    for tag, value in forms:
        body = (
            '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
            'xmlns:oc="http://owncloud.org/ns"><d:set><d:prop>'
            f"<{tag}>{value}</{tag}></d:prop></d:set></d:propertyupdate>"
        ).encode()
        r = gw.request("PROPPATCH", "/t.txt", data=body)
        assert r.status_code == 207 and "HTTP/1.1 200" in r.text, (tag, r.text)
        meta = s3.head_object(Bucket=bucket, Key="t.txt")["Metadata"]
        expect = value if value.isdigit() else "1600000200"
        assert meta["mtime"] == expect, (tag, meta)
        assert meta["mode"] == "33188"
    bad = (
        b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
        b"<d:lastmodified>yesterday</d:lastmodified></d:prop></d:set></d:propertyupdate>"
    )
    r = gw.request("PROPPATCH", "/t.txt", data=bad)
    assert r.status_code in (207, 400) and "HTTP/1.1 200" not in r.text, r.text


def test_x_oc_mtime_on_copy_and_move(gw, s3, bucket):
    gw.request("PUT", "/src.txt", data=b"s", headers={"X-OC-Mtime": "1500000000"})
    r = gw.request(
        "COPY",
        "/src.txt",
        headers={"Destination": gw.url + "/copy.txt", "X-OC-Mtime": "1500000500"},
    )
    assert r.status_code == 201 and r.headers.get("X-OC-Mtime") == "accepted"
    r = gw.request(
        "MOVE",
        "/copy.txt",
        headers={"Destination": gw.url + "/moved.txt", "X-OC-Mtime": "1500000900.5"},
    )
    assert r.status_code == 201 and r.headers.get("X-OC-Mtime") == "accepted"
    assert s3.head_object(Bucket=bucket, Key="src.txt")["Metadata"]["mtime"] == "1500000000"
    assert s3.head_object(Bucket=bucket, Key="moved.txt")["Metadata"]["mtime"] == "1500000900"


def test_oc_checksum_header_on_downloads(gw):
    body = b"download me"
    gw.request("MKCOL", "/dl")
    gw.request("PUT", "/dl/caf\u00e9.txt", data=body)
    md5 = hashlib.md5(body).hexdigest()
    for method in ("GET", "HEAD"):
        r = gw.request(method, "/dl/caf\u00e9.txt")
        assert r.status_code == 200 and r.headers["OC-Checksum"] == f"MD5:{md5}", method
    r = gw.request("GET", "/dl/caf\u00e9.txt", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.headers["OC-Checksum"] == f"MD5:{md5}"
    assert "OC-Checksum" not in gw.request("GET", "/dl/").headers
    assert "OC-Checksum" not in gw.request("GET", "/dl/missing.txt").headers


def test_oc_checksum_header_on_a_share_below_the_root(make_gateway, bucket):
    gw = make_gateway(bucket, config={"shares": [{"path": "/photos", "bucket": bucket}]})
    gw.request("PUT", "/photos/p.jpg", data=b"jpeg")
    r = gw.request("GET", "/photos/p.jpg")
    assert r.content == b"jpeg"
    assert r.headers["OC-Checksum"] == "MD5:" + hashlib.md5(b"jpeg").hexdigest()


def test_folder_made_by_rclone_s3_backend_opens_within_negative_ttl(
    make_gateway, moto, bucket, s3, tmp_path
):
    """rclone's S3 backend beside the gateway (issue 15): what it makes after the gateway
    listed the folder opens within `cache.negative_ttl`, not `metadata_ttl` (600 s here)."""
    s3.put_object(Bucket=bucket, Key="shared/old.txt", Body=b"old")
    cache = {"metadata_ttl": "600s", "negative_ttl": "1s", "readahead_folders": 0}
    gw = make_gateway(bucket, config={"cache": cache})
    assert hrefs(propfind(gw, "/shared/").text) == ["/shared/", "/shared/old.txt"]
    s3remote = (
        f":s3,provider=Other,endpoint='{moto.url}',"
        f"access_key_id={TEST_ENV['AWS_ACCESS_KEY_ID']},"
        f"secret_access_key={TEST_ENV['AWS_SECRET_ACCESS_KEY']}:{bucket}"
    )
    (tmp_path / "x.txt").write_bytes(b"from rclone")
    done = rclone(tmp_path, "copyto", str(tmp_path / "x.txt"), f"{s3remote}/shared/made/x.txt")
    assert done.returncode == 0, done.stderr
    done = rclone(tmp_path, "touch", f"{s3remote}/shared/touched.txt")
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: propfind(gw, "/shared/made/").status_code == 207)
    assert hrefs(propfind(gw, "/shared/made/").text) == ["/shared/made/", "/shared/made/x.txt"]
    assert gw.request("GET", "/shared/made/x.txt").content == b"from rclone"
    assert wait_until(lambda: gw.request("GET", "/shared/touched.txt").status_code == 200)
