"""Exact S3 request budgets per WebDAV operation (issue 4, "Budgets").

Counts are read from the gateway's /metrics (every S3 request, by kind), so a
change that costs one extra request anywhere fails here.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.helpers import hrefs, propfind, wait_until

SMALL = b"x" * 4096


def put(gw, path: str) -> int:
    return gw.request("PUT", path, data=SMALL).status_code


def put_straight(s3, bucket: str, keys: list[str], body: bytes = b"data") -> None:
    """Objects written by another tool: straight to S3, not through the gateway."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))


def test_put_small_file_is_one_put(gw):
    assert gw.request("MKCOL", "/d").status_code == 201
    assert propfind(gw, "/d/").status_code == 207  # parent listing warm
    before = gw.s3_counts()
    assert gw.request("PUT", "/d/a.txt", data=SMALL).status_code == 201
    assert gw.s3_delta(before) == {"PUT": 1}


def test_mkcol_is_one_put_and_at_most_one_list(gw):
    before = gw.s3_counts()
    assert gw.request("MKCOL", "/newdir").status_code == 201
    delta = gw.s3_delta(before)
    assert delta.get("PUT") == 1
    assert delta.get("LIST", 0) <= 1
    assert set(delta) <= {"PUT", "LIST"}


@pytest.mark.slow
def test_propfind_cold_warm_and_after_restart(make_gateway, bucket, s3):
    n = 1001  # two LIST pages
    keys = [f"many/f{i:04d}.txt" for i in range(n)]
    put_straight(s3, bucket, keys)
    gw = make_gateway(bucket)
    before = gw.s3_counts()
    r = propfind(gw, "/many/")
    assert r.status_code == 207
    assert len(hrefs(r.text)) == n + 1
    # ceil(n/1000) LIST pages for the folder (its first page also resolves /many: no
    # LIST of its parent), and one HEAD per object no s3dav has seen, in parallel.
    assert gw.s3_delta(before) == {"LIST": math.ceil(n / 1000), "HEAD": n}

    before = gw.s3_counts()
    for _ in range(5):
        assert propfind(gw, "/many/").status_code == 207
    assert gw.s3_delta(before) == {}, "warm PROPFIND within the TTL must cost nothing"

    gw.restart()
    before = gw.s3_counts()
    r = propfind(gw, "/many/")
    assert r.status_code == 207 and len(hrefs(r.text)) == n + 1
    assert gw.s3_delta(before) == {"LIST": math.ceil(n / 1000)}, "no HEAD after a restart"


@pytest.mark.slow
def test_cold_depth1_of_a_folder_written_by_another_tool_lists_only_its_pages(
    make_gateway, bucket, s3
):
    """Issue 15: a cold PROPFIND Depth 1 of a folder the gateway never listed lists the
    folder itself, no parent first: ceil(n/1000) LIST, also after a restart."""
    n = 2100  # three LIST pages
    put_straight(s3, bucket, [f"other/f{i:04d}.txt" for i in range(n)])
    gw = make_gateway(bucket, config={"cache": {"head_unseen": False}})
    gw.restart()
    before = gw.s3_counts()
    r = propfind(gw, "/other/")
    assert r.status_code == 207 and len(hrefs(r.text)) == n + 1
    assert gw.s3_delta(before) == {"LIST": 3}
    before = gw.s3_counts()
    r = propfind(gw, "/other", depth="0")  # and the folder is known now: no request
    assert r.status_code == 207 and len(hrefs(r.text)) == 1
    assert gw.s3_delta(before) == {}


def test_cold_depth1_of_a_file_or_a_hadoop_folder_still_resolves(make_gateway, bucket, s3):
    """The folder's own listing shows nothing: the parent's listing decides, as before
    (a file answered Depth 1 as itself; a folder shown only by its `_$folder$` marker)."""
    s3.put_object(Bucket=bucket, Key="top/file.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="top/hadoop_$folder$", Body=b"")
    s3.put_object(Bucket=bucket, Key="marked/", Body=b"")
    gw = make_gateway(bucket, config={"cache": {"head_unseen": False, "readahead_folders": 0}})
    before = gw.s3_counts()
    r = propfind(gw, "/top/file.txt")
    assert r.status_code == 207 and len(hrefs(r.text)) == 1
    assert gw.s3_delta(before) == {"LIST": 2}  # top/file.txt/ (empty), then top/
    r = propfind(gw, "/top/hadoop/")
    assert r.status_code == 207 and len(hrefs(r.text)) == 1
    before = gw.s3_counts()
    r = propfind(gw, "/marked/")  # only its marker `marked/`: a folder, empty
    assert r.status_code == 207 and len(hrefs(r.text)) == 1
    assert gw.s3_delta(before) == {"LIST": 1}
    assert propfind(gw, "/nothing/").status_code == 404


def test_finder_probes_after_listing_cost_nothing(gw):
    for name in ("a.txt", "b.txt"):
        assert gw.request("PUT", f"/{name}", data=SMALL).status_code == 201
    gw.restart()  # start from a cold listing cache
    assert propfind(gw, "/").status_code == 207
    before = gw.s3_counts()
    for name in ("._a.txt", "._b.txt", ".DS_Store", "._.", ".hidden"):
        assert propfind(gw, f"/{name}", depth="0").status_code == 404
        assert gw.request("GET", f"/{name}").status_code == 404
    assert gw.s3_delta(before) == {}


def test_get_cached_file_within_ttl_costs_nothing(make_gateway, bucket):
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "2s"}})
    body = os.urandom(100_000)
    assert gw.request("PUT", "/f.bin", data=body).status_code == 201
    before = gw.s3_counts()
    for _ in range(3):
        r = gw.request("GET", "/f.bin")
        assert r.status_code == 200 and r.content == body
    assert gw.s3_delta(before) == {}, "a freshly uploaded file is read from the cache"

    time.sleep(2.5)  # past the TTL: one revalidation (the parent's listing), no GET
    before = gw.s3_counts()
    assert gw.request("GET", "/f.bin").content == body
    assert gw.s3_delta(before) == {"LIST": 1}


def test_walk_into_a_cached_folder_needs_no_parent_listing(make_gateway, bucket, s3):
    """A sync tool's warm walk: a folder whose own listing is cached is known to exist."""
    put_straight(s3, bucket, ["w/d1/a.txt", "w/d2/b.txt"])
    # (no read-ahead: its first page of w/d1/ would age from the first PROPFIND)
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "4s", "readahead_folders": 0}})
    assert propfind(gw, "/w/").status_code == 207  # lists w/ (which also resolves /w)
    time.sleep(2)
    assert propfind(gw, "/w/d1/").status_code == 207  # lists w/d1/
    time.sleep(2.5)  # the listings of "" and w/ have expired, that of w/d1/ has not
    before = gw.s3_counts()
    r = propfind(gw, "/w/d1/")
    assert r.status_code == 207 and len(hrefs(r.text)) == 2
    assert gw.s3_delta(before) == {}


def test_content_cache_survives_restart(gw, bucket, s3):
    body = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="ext.bin", Body=body)
    before = gw.s3_counts()
    assert gw.request("GET", "/ext.bin").content == body
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 1, "GET": 1}
    gw.restart()
    before = gw.s3_counts()
    assert gw.request("GET", "/ext.bin").content == body
    assert gw.s3_delta(before) == {"LIST": 1}, "blocks and metadata come from disk"


def test_changed_object_is_never_served_from_cache(gw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="c.txt", Body=b"old contents")
    assert gw.request("GET", "/c.txt").content == b"old contents"
    s3.put_object(Bucket=bucket, Key="c.txt", Body=b"new contents!")
    gw.restart()  # forget the listing; the cached blocks of the old ETag stay on disk
    assert gw.request("GET", "/c.txt").content == b"new contents!"


def test_multipart_upload_read_back_costs_nothing(make_gateway, bucket):
    gw = make_gateway(bucket, config={"s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"}})
    body = os.urandom(12 * 1024 * 1024)
    before = gw.s3_counts()
    assert gw.request("PUT", "/big.bin", data=body).status_code == 201
    after_put = gw.s3_counts()
    r = gw.request("GET", "/big.bin")  # maybe while the MD5 self-copy still runs
    assert hashlib.md5(r.content).digest() == hashlib.md5(body).digest()
    read = gw.s3_delta(after_put)
    assert read.get("COPY", 0) <= 1 and set(read) <= {"COPY"}, read
    gw.settle()
    assert gw.s3_delta(before) == {"LIST": 1, "MULTIPART": 2, "PART": 3, "COPY": 1}
    before = gw.s3_counts()
    r = gw.request("GET", "/big.bin")  # after it: from the blocks stored under the new ETag
    assert hashlib.md5(r.content).digest() == hashlib.md5(body).digest()
    assert gw.s3_delta(before) == {}


def test_range_read_fetches_only_the_blocks_needed(gw, bucket, s3):
    body = os.urandom(12 * 1024 * 1024)  # three 4 MiB blocks
    s3.put_object(Bucket=bucket, Key="r.bin", Body=body)
    assert propfind(gw, "/").status_code == 207
    before = gw.s3_counts()
    r = gw.request("GET", "/r.bin", headers={"Range": "bytes=5000000-5000099"})
    assert r.status_code == 206 and r.content == body[5000000:5000100]
    assert gw.s3_delta(before) == {"GET": 1}
    before = gw.s3_counts()
    r = gw.request("GET", "/r.bin", headers={"Range": "bytes=4194304-4194400"})
    assert r.content == body[4194304:4194401]
    assert gw.s3_delta(before) == {}, "same block again: from the cache"
    before = gw.s3_counts()
    r = gw.request("GET", "/r.bin")
    assert hashlib.md5(r.content).digest() == hashlib.md5(body).digest()
    assert gw.s3_delta(before) == {"GET": 2}, "only the two blocks not yet cached"


def test_corrupt_cache_block_is_refetched(gw, bucket, s3):
    body = os.urandom(5 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="x.bin", Body=body)
    assert gw.request("GET", "/x.bin").content == body
    gw.restart()  # a clean stop writes every block to disk; then none is held in memory
    blocks = list(Path(gw.workdir, "cache", "content").rglob("*.val"))
    assert len(blocks) == 2, "two 4 MiB blocks, stored as files"
    for p in blocks:
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
    before = gw.s3_counts()
    r = gw.request("GET", "/x.bin")
    assert r.status_code == 200 and r.content == body
    assert gw.s3_delta(before) == {"LIST": 1, "GET": 2}
    assert "failed its check" in gw.log()


def test_full_cache_never_fails_a_read(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config={"cache": {"size": "64KiB"}})
    body = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="y.bin", Body=body)
    for _ in range(2):
        r = gw.request("GET", "/y.bin")
        assert r.status_code == 200 and r.content == body


def test_move_folder_budget(gw):
    n = 50
    assert gw.request("MKCOL", "/src").status_code == 201
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: put(gw, f"/src/f{i}.txt"), range(n)))
    assert codes == [201] * n
    before = gw.s3_counts()
    r = gw.request("MOVE", "/src", headers={"Destination": gw.url + "/dst"})
    assert r.status_code == 201
    delta = gw.s3_delta(before)
    # n files + the folder marker are copied; one batched delete; listings bounded.
    assert delta.get("COPY") == n + 1
    assert delta.get("DELETE") == math.ceil((n + 1) / 1000)
    assert delta.get("LIST", 0) <= 2
    assert set(delta) <= {"COPY", "DELETE", "LIST"}
    r = propfind(gw, "/dst/")
    assert len(hrefs(r.text)) == n + 1


def wait_for_counts(gw, before: dict, want: dict, timeout: float = 10.0) -> dict:
    """Background requests land a little later: wait until the delta is `want` (or time out)."""
    seen: dict = {}

    def reached() -> bool:
        seen["delta"] = gw.s3_delta(before)
        return seen["delta"] == want

    wait_until(reached, timeout, 0.05)
    return seen["delta"]


def test_browse_reads_subfolders_ahead_once(make_gateway, bucket, s3):
    """A walk's next folders cost no LIST: the browse of their parent fetched them ahead.

    Read-ahead is bounded (`cache.readahead_folders`) and happens once per folder,
    so a client polling the parent does not pay a LIST per subfolder each time.
    """
    keys = [f"tree/d{i}/f{j}.txt" for i in range(4) for j in range(3)]
    put_straight(s3, bucket, keys)
    gw = make_gateway(bucket, config={"cache": {"readahead_folders": 3, "metadata_ttl": "2s"}})
    before = gw.s3_counts()
    assert propfind(gw, "/tree/").status_code == 207
    # /tree/ (which also resolves /tree), then 3 of the 4 subfolders ahead, in the background
    assert wait_for_counts(gw, before, {"LIST": 4}) == {"LIST": 4}
    time.sleep(0.3)  # nothing more arrives
    assert gw.s3_delta(before) == {"LIST": 4}

    before = gw.s3_counts()
    for i in range(3):
        r = propfind(gw, f"/tree/d{i}/")
        assert r.status_code == 207 and len(hrefs(r.text)) == 4
    assert gw.s3_delta(before) == {"HEAD": 9}  # listed ahead: only the unseen objects' HEADs
    before = gw.s3_counts()
    assert propfind(gw, "/tree/d3/").status_code == 207  # beyond the bound: listed now
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 3}

    time.sleep(2.2)  # every listing expired: /tree/ is listed again, no subfolder is
    before = gw.s3_counts()
    assert propfind(gw, "/tree/").status_code == 207
    time.sleep(0.5)
    assert gw.s3_delta(before) == {"LIST": 1}


def test_read_ahead_off(make_gateway, bucket, s3):
    put_straight(s3, bucket, ["tree/d0/f.txt", "tree/d1/f.txt"])
    gw = make_gateway(bucket, config={"cache": {"readahead_folders": 0}})
    assert propfind(gw, "/tree/").status_code == 207
    time.sleep(0.5)
    before = gw.s3_counts()
    assert propfind(gw, "/tree/d0/").status_code == 207
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 1}


def test_read_ahead_respects_writes_and_the_ttl(make_gateway, bucket, s3):
    """Own writes after the read-ahead still show (the overlay); a page older than the
    listing TTL is never used: its age counts from its LIST, not from its first use."""
    put_straight(s3, bucket, ["tree/d0/old.txt", "tree/d1/old.txt"])
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "1s"}})
    assert propfind(gw, "/tree/").status_code == 207
    time.sleep(0.3)  # the read-ahead of both subfolders has landed
    assert put(gw, "/tree/d0/mine.txt") == 201
    names = {h.rstrip("/").rsplit("/", 1)[-1] for h in hrefs(propfind(gw, "/tree/d0/").text)}
    assert {"old.txt", "mine.txt"} <= names
    time.sleep(1.2)  # the unused page of d1 is now older than the TTL
    s3.put_object(Bucket=bucket, Key="tree/d1/late.txt", Body=b"x")  # another tool
    before = gw.s3_counts()
    names = {h.rstrip("/").rsplit("/", 1)[-1] for h in hrefs(propfind(gw, "/tree/d1/").text)}
    assert {"old.txt", "late.txt"} <= names
    assert gw.s3_delta(before).get("LIST", 0) >= 1
