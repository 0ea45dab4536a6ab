"""Earlier versions as a read-only folder (`versions_folder`, dav/versions.py) on moto's
versioned buckets: listed (Finder's PROPFIND, rclone lsl), read (GET, Range), restored
(COPY), refused (every other write), and what a listing of them costs.

The naming and selection rules alone: tests/unit/test_versions_rules.py.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import pytest
import requests

from tests.support.faultproxy import patient_config, refuse_without_sse_c
from tests.support.finder import FINDER_PROPS, FINDER_UA
from tests.support.helpers import multistatus, propfind
from tests.support.rclone import rclone, remote
from tests.support.s3events import TOKEN, minio_event, post_event

VERSIONS = ".versions"
NAME = re.compile(r"^report \((\d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d)(-\d+)?\)\.pdf$")
BODIES = [f"version {i} of the report\n".encode() * (i + 1) for i in range(4)]


@pytest.fixture
def versioned(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


@pytest.fixture
def vgw(make_gateway, versioned):
    return make_gateway(
        versioned,
        config={"shares": [{"path": "/", "bucket": versioned, "versions_folder": VERSIONS}]},
    )


def list_versions(vgw, folder: str, **kw) -> dict[str, dict[str, str]]:
    """The members (name -> props) of `folder`'s versions folder, by a Depth 1 PROPFIND."""
    r = propfind(vgw, f"{folder}/{VERSIONS}/", **kw)
    assert r.status_code == 207, r.text
    found = multistatus(r.text)
    own = f"{folder}/{VERSIONS}/"
    assert found.pop(own)["resourcetype"] == "collection"
    return {href[len(own) :]: props for href, props in found.items()}


def object_versions(s3, bucket: str) -> list[tuple]:
    resp = s3.list_object_versions(Bucket=bucket)
    entries = resp.get("Versions", []) + resp.get("DeleteMarkers", [])
    return sorted((e["Key"], e["VersionId"], e["IsLatest"]) for e in entries)


def lov(vgw) -> int:
    return int(
        vgw.metric("s3dav_s3_requests_total", 0, kind="LIST", operation="ListObjectVersions")
    )


def write_four_then_delete(vgw) -> None:
    """report.pdf written 4 times through the gateway, then deleted; the versions folder
    shows each earlier version as soon as the write that made it is answered."""
    assert vgw.request("MKCOL", "/docs/").status_code == 201
    for i, body in enumerate(BODIES):
        assert vgw.request("PUT", "/docs/report.pdf", data=body).status_code in (201, 204)
        assert len(list_versions(vgw, "/docs")) == i  # read-your-writes
    assert vgw.request("DELETE", "/docs/report.pdf").status_code == 204


def test_four_versions_listed_read_by_range_and_restored(vgw, s3, versioned):
    write_four_then_delete(vgw)
    h = {"User-Agent": FINDER_UA}
    before = lov(vgw)
    parent = multistatus(propfind(vgw, "/docs/", body=FINDER_PROPS, headers=h).text)
    assert parent[f"/docs/{VERSIONS}/"]["resourcetype"] == "collection"  # Finder finds it
    assert "/docs/report.pdf" not in parent
    assert lov(vgw) == before  # showing the folder costs no ListObjectVersions

    shown = list_versions(vgw, "/docs", body=FINDER_PROPS, headers=h)
    assert len(shown) == 4, shown
    by_name = sorted(shown)
    for name in by_name:
        m = NAME.match(name)
        assert m, name  # the extension kept, the time in UTC
        props = shown[name]
        modified = parsedate_to_datetime(props["getlastmodified"])
        assert modified.strftime("%Y-%m-%d %H.%M.%S") == m.group(1)
        assert props["resourcetype"] == ""

    # Each reads back its own bytes, and names sort in the order the versions were written.
    read = [vgw.request("GET", f"/docs/{VERSIONS}/{n}", headers=h) for n in by_name]
    assert [r.status_code for r in read] == [200] * 4
    assert [r.content for r in read] == BODIES
    for name, r in zip(by_name, read, strict=True):
        assert int(shown[name]["getcontentlength"]) == len(r.content)
        head = vgw.request("HEAD", f"/docs/{VERSIONS}/{name}")
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(r.content)
    allprop = list_versions(vgw, "/docs")
    for name, body in zip(by_name, BODIES, strict=True):
        assert allprop[name]["getetag"].strip('"') == hashlib.md5(body).hexdigest()
        part = vgw.request("GET", f"/docs/{VERSIONS}/{name}", headers={"Range": "bytes=3-17"})
        assert part.status_code == 206 and part.content == body[3:18]

    # COPY of the second version onto a normal path restores it, server-side.
    chosen = by_name[1]
    r = vgw.request(
        "COPY",
        f"/docs/{VERSIONS}/{chosen}",
        headers={"Destination": vgw.url + "/docs/report.pdf"},
    )
    assert r.status_code == 201, r.text
    assert s3.get_object(Bucket=versioned, Key="docs/report.pdf")["Body"].read() == BODIES[1]
    assert vgw.request("GET", "/docs/report.pdf").content == BODIES[1]
    assert len(list_versions(vgw, "/docs")) == 4  # the restored bytes are current now


def test_writes_on_versions_are_refused_and_change_nothing(vgw, s3, versioned):
    write_four_then_delete(vgw)
    assert vgw.request("PUT", "/docs/other.txt", data=b"other").status_code == 201
    names = sorted(list_versions(vgw, "/docs"))
    one = f"/docs/{VERSIONS}/{names[0]}"
    in_s3 = object_versions(s3, versioned)
    proppatch = (
        b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        b"<D:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</D:getlastmodified>"
        b'<x:tag xmlns:x="urn:x">t</x:tag></D:prop></D:set></D:propertyupdate>'
    )
    lock = (
        b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    )
    dest = {"Destination": vgw.url + "/docs/moved.pdf"}
    into = {"Destination": vgw.url + f"/docs/{VERSIONS}/other.txt"}
    attempts = [
        ("PUT", one, {}, b"overwrite"),
        ("DELETE", one, {}, None),
        ("MOVE", one, dest, None),
        ("PROPPATCH", one, {}, proppatch),
        ("LOCK", one, {}, lock),
        ("PUT", f"/docs/{VERSIONS}/new.txt", {}, b"new"),
        ("MKCOL", f"/docs/{VERSIONS}/sub/", {}, None),
        ("MKCOL", f"/docs/{VERSIONS}/", {}, None),
        ("DELETE", f"/docs/{VERSIONS}/", {}, None),
        ("MOVE", f"/docs/{VERSIONS}/", {"Destination": vgw.url + "/elsewhere/"}, None),
        ("COPY", f"/docs/{VERSIONS}/", {"Destination": vgw.url + "/elsewhere/"}, None),
        ("PROPPATCH", f"/docs/{VERSIONS}/", {}, proppatch),
        ("COPY", "/docs/other.txt", into, None),
        ("MOVE", "/docs/other.txt", into, None),
    ]
    for method, path, headers, body in attempts:
        r = vgw.request(method, path, headers=headers, data=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert "version" in r.text, (method, path, r.text)  # a short reason, no traceback
    assert object_versions(s3, versioned) == in_s3
    assert sorted(list_versions(vgw, "/docs")) == names
    assert vgw.request("GET", "/docs/other.txt").content == b"other"


def test_a_restore_keeps_the_versions_metadata_also_when_copied_in_parts(
    make_gateway, s3, versioned
):
    share = {"path": "/", "bucket": versioned, "versions_folder": VERSIONS}
    gw = make_gateway(versioned, config={"shares": [share], "s3": {"copy_threshold": "1MiB"}})
    big = bytes(range(256)) * 8192  # 2 MiB: above copy_threshold, restored by UploadPartCopy
    small = b"small"
    for body, mtime in ((big, "1600000000"), (small, "1700000000")):
        r = gw.request("PUT", "/f.bin", data=body, headers={"X-OC-Mtime": mtime})
        assert r.status_code in (201, 204)
    assert gw.request("PUT", "/f.bin", data=b"current").status_code == 204
    by_size = {int(p["getcontentlength"]): name for name, p in list_versions(gw, "").items()}
    for size, dest, mtime in ((len(big), "/big.bin", "1600000000"), (5, "/s.bin", "1700000000")):
        src = f"/{VERSIONS}/{by_size[size]}"
        r = gw.request("COPY", src, headers={"Destination": gw.url + dest})
        assert r.status_code == 201, r.text
        head = s3.head_object(Bucket=versioned, Key=dest[1:])
        assert head["Metadata"]["mtime"] == mtime  # the version's own time, kept
        found = multistatus(propfind(gw, dest, depth="0").text)[dest]
        assert parsedate_to_datetime(found["getlastmodified"]).timestamp() == int(mtime)
    assert s3.get_object(Bucket=versioned, Key="big.bin")["Body"].read() == big
    assert s3.head_object(Bucket=versioned, Key="big.bin")["ETag"].strip('"').endswith("-1")
    assert s3.get_object(Bucket=versioned, Key="s.bin")["Body"].read() == small
    assert gw.request("GET", "/f.bin").content == b"current"


def test_file_managers_and_the_listing_page_find_it_read_only(vgw):
    write_four_then_delete(vgw)
    explorer = {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19043"}
    assert f"/docs/{VERSIONS}/" in multistatus(propfind(vgw, "/docs/", headers=explorer).text)
    assert f"/docs/{VERSIONS}/" not in multistatus(propfind(vgw, "/docs/").text)  # requests' UA
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"}
    page = vgw.request("GET", "/docs/", headers=browser).text
    assert f'href="/docs/{VERSIONS}/"' in page and 'data-writable="1"' in page
    page = vgw.request("GET", f"/docs/{VERSIONS}/", headers=browser).text
    assert page.count('class="file"') == 4 and 'data-writable="0"' in page


def test_a_redirect_share_presigns_the_version_itself(make_gateway, s3, versioned):
    share = {
        "path": "/",
        "bucket": versioned,
        "versions_folder": VERSIONS,
        "downloads": "redirect",
        "redirect_threshold": "1KiB",
    }
    gw = make_gateway(versioned, config={"shares": [share]})
    old, new = b"o" * 4096, b"n" * 4096
    for body in (old, new):
        assert gw.request("PUT", "/big.bin", data=body).status_code in (201, 204)
    (name,) = list_versions(gw, "")
    r = gw.request("GET", f"/{VERSIONS}/{name}", allow_redirects=False)
    assert r.status_code == 302 and "versionId=" in r.headers["Location"]
    assert requests.get(r.headers["Location"], timeout=30).content == old


def test_another_tools_write_shows_after_its_event(make_gateway, s3, versioned):
    share = {"path": "/", "bucket": versioned, "versions_folder": VERSIONS}
    config = {"shares": [share], "events": {"token": TOKEN}, "cache": {"metadata_ttl": "600s"}}
    gw = make_gateway(versioned, config=config)
    for body in (b"one", b"two"):
        s3.put_object(Bucket=versioned, Key="d/a.txt", Body=body)
    assert len(list_versions(gw, "/d")) == 1
    s3.put_object(Bucket=versioned, Key="d/a.txt", Body=b"three")  # not through the gateway
    assert len(list_versions(gw, "/d")) == 1  # cached
    assert post_event(gw, minio_event(versioned, "d/a.txt")).status_code == 200
    before = lov(gw)
    assert len(list_versions(gw, "/d")) == 2
    assert lov(gw) - before == 1


def test_sse_c_versions_are_read_and_restored_with_the_key(make_gateway, s3, versioned, proxy):
    key = os.urandom(32)
    cfg = patient_config(proxy, versioned)
    cfg["shares"] = [
        {"path": "/", "bucket": versioned, "versions_folder": VERSIONS, "sse_c_key_env": "K"}
    ]
    gw = make_gateway(versioned, config=cfg, env={"K": base64.b64encode(key).decode()})
    proxy.fail_status = 400  # S3's answer to an SSE-C object request without its key
    proxy.fail_when = refuse_without_sse_c(base64.b64encode(hashlib.md5(key).digest()).decode())
    for body in (BODIES[0], BODIES[1]):
        assert gw.request("PUT", "/r.pdf", data=body).status_code in (201, 204)
    (name,) = list_versions(gw, "")
    assert gw.request("GET", f"/{VERSIONS}/{name}").content == BODIES[0]
    part = gw.request("GET", f"/{VERSIONS}/{name}", headers={"Range": "bytes=2-9"})
    assert part.status_code == 206 and part.content == BODIES[0][2:10]
    r = gw.request("COPY", f"/{VERSIONS}/{name}", headers={"Destination": gw.url + "/r.pdf"})
    assert r.status_code == 204, r.text
    assert gw.request("GET", "/r.pdf").content == BODIES[0]
    assert proxy.faults["rule"] == 0, [op for op, kind in proxy.log if kind == "rule"]


@pytest.mark.slow  # 1100 PutObjects to moto
def test_listing_many_versions_costs_one_request_per_thousand(vgw, s3, versioned):
    keys = [f"many/file{i}.txt" for i in range(4)]
    per_key = 275  # 1100 versions in S3: ListObjectVersions entries

    def write(key: str) -> None:
        for n in range(per_key):
            s3.put_object(Bucket=versioned, Key=key, Body=f"{key} {n}".encode())

    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(write, keys))
    entries = len(keys) * per_key
    before = lov(vgw)
    shown = list_versions(vgw, "/many")
    assert lov(vgw) - before == math.ceil(entries / 1000) == 2
    assert len(shown) == entries - len(keys)  # every version but the current ones
    assert len(set(shown)) == len(shown)

    counts = vgw.s3_counts()
    assert len(list_versions(vgw, "/many")) == len(shown)  # cached, like listings
    name = sorted(shown)[0]
    r = vgw.request("GET", f"/many/{VERSIONS}/{name}")
    assert r.status_code == 200 and r.content == f"{keys[0]} 0".encode()  # the oldest
    assert vgw.s3_delta(counts) == {"GET": 1}


@pytest.mark.client
def test_rclone_lists_versions_by_path_and_its_sync_leaves_them(vgw, s3, versioned, tmp_path):
    write_four_then_delete(vgw)
    assert vgw.request("PUT", "/docs/other.txt", data=b"other file").status_code == 201
    ls = rclone(tmp_path, "lsl", remote(vgw, "other", f"docs/{VERSIONS}"))
    assert ls.returncode == 0, ls.stderr
    rows = [line.split(None, 3) for line in ls.stdout.splitlines()]
    assert sorted(int(size) for size, *_ in rows) == sorted(len(b) for b in BODIES)
    assert all(NAME.match(name) for *_, name in rows), ls.stdout

    # A sync tool does not see the versions folder in listings: a sync onto the share
    # neither deletes into it nor fails on it.
    whole = rclone(tmp_path, "lsl", remote(vgw, "other", "docs"))
    assert whole.returncode == 0 and VERSIONS not in whole.stdout, whole.stdout
    src = tmp_path / "src"
    src.mkdir()
    (src / "new.txt").write_bytes(b"new file")
    sync = rclone(tmp_path, "sync", str(src), remote(vgw, "other", "docs"))
    assert sync.returncode == 0, sync.stderr
    assert s3.get_object(Bucket=versioned, Key="docs/new.txt")["Body"].read() == b"new file"
    after = list_versions(vgw, "/docs")
    assert len(after) == 5  # the report's four, and other.txt deleted by the sync


def test_option_off_a_versions_path_is_an_ordinary_name(make_gateway, s3, versioned):
    gw = make_gateway(versioned)
    assert gw.request("MKCOL", f"/{VERSIONS}/").status_code == 201
    assert gw.request("PUT", f"/{VERSIONS}/a.txt", data=b"one").status_code == 201
    assert gw.request("PUT", f"/{VERSIONS}/a.txt", data=b"two").status_code == 204
    assert s3.get_object(Bucket=versioned, Key=f"{VERSIONS}/a.txt")["Body"].read() == b"two"
    found = multistatus(propfind(gw, f"/{VERSIONS}/", headers={"User-Agent": FINDER_UA}).text)
    assert sorted(found) == [f"/{VERSIONS}/", f"/{VERSIONS}/a.txt"]
    assert propfind(gw, f"/{VERSIONS}/{VERSIONS}/", depth="0").status_code == 404
    assert lov(gw) == 0


def test_unversioned_bucket_shows_an_empty_versions_folder(make_gateway, bucket):
    gw = make_gateway(
        bucket, config={"shares": [{"path": "/", "bucket": bucket, "versions_folder": VERSIONS}]}
    )
    assert gw.request("PUT", "/a.txt", data=b"one").status_code == 201
    assert gw.request("PUT", "/a.txt", data=b"two").status_code == 204
    assert list_versions(gw, "") == {}
    assert gw.request("GET", "/a.txt").content == b"two"
