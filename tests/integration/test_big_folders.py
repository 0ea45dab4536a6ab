"""Issue 15, "Huge folders": a big folder is listed in parallel key ranges (StartAfter),
each object shown once, and its 207 streamed; a folder of up to
`cache.list_parallel_after` pages still costs exactly its pages; a store that ignores
StartAfter still gets the whole folder.

Requests are seen twice: by kind in the gateway's /metrics, and one by one (with their
`start-after`, and how many were in flight at once) by tests/support/s3proxy.py between
the gateway and moto.
"""

from __future__ import annotations

import math
import uuid
from xml.etree import ElementTree as ET

import pytest

from tests.integration.test_budgets import put_straight
from tests.support.helpers import hrefs, propfind
from tests.support.rclone import rclone, remote
from tests.support.s3proxy import KeyLoggingProxy

BIG = 4500  # past the 3 pages listed one by one: the rest in ranges
SMALL = 3000  # exactly 3 pages: never split
QUIET = {"head_unseen": False, "readahead_folders": 0}


def names(n: int) -> list[str]:
    return [f"f{i:05d}.txt" for i in range(n)]


@pytest.fixture(scope="module")
def filled(s3):
    """One bucket for the module: its 7500 objects are written once."""
    bucket = f"t-big-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    put_straight(s3, bucket, [f"big/{n}" for n in names(BIG)])
    put_straight(s3, bucket, [f"small/{n}" for n in names(SMALL)])
    return bucket


@pytest.fixture
def logged(moto):
    proxies: list[KeyLoggingProxy] = []

    def make(**kw) -> KeyLoggingProxy:
        p = KeyLoggingProxy(moto.url, **kw)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()


def listing_touches(proxy: KeyLoggingProxy, prefix: str) -> tuple[int, list[str]]:
    """(LISTs of `prefix`, the start-after keys they carried)."""
    found = [t for t in proxy.start_over() if t.why == "list"]
    lists = sum(1 for t in found if t.key == prefix)
    starts = [t.key for t in found if t.key != prefix and t.key.startswith(prefix)]
    return lists, starts


def shown(text: str, folder: str) -> list[str]:
    return [h.rsplit("/", 1)[1] for h in hrefs(text) if h.rstrip("/") != folder]


@pytest.mark.slow
def test_a_big_folder_is_listed_in_parallel_ranges_each_object_once(make_gateway, filled, logged):
    proxy = logged(hold=0.2)  # requests sent together are seen together
    cfg = {"s3": {"endpoint_url": proxy.url}, "cache": {**QUIET, "list_concurrency": 8}}
    gw = make_gateway(filled, config=cfg)
    proxy.start_over()

    before = gw.s3_counts()
    r = propfind(gw, "/big/")
    assert r.status_code == 207
    got = shown(r.text, "/big")
    assert sorted(got) == names(BIG) and len(got) == BIG  # every object, exactly once
    lists = gw.s3_delta(before)["LIST"]
    # streamed: no length, sent chunked, one well-formed document
    assert "Content-Length" not in r.headers
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert ET.fromstring(r.content).tag == "{DAV:}multistatus"
    assert "Missing required Content-Length" not in gw.log()

    proxy_lists, starts = listing_touches(proxy, "big/")
    assert proxy_lists == lists
    ranges = len(starts) + 1  # the first range goes on by token
    assert len(starts) >= 2, "the rest of the folder was listed from StartAfter boundaries"
    assert len(set(starts)) == len(starts)
    assert lists <= math.ceil(BIG / 1000) + ranges  # docs/caching.md, "Big folders"
    assert ranges <= 8 * 8  # 8 x list_concurrency
    assert proxy.max_in_flight >= 2, "range LISTs were in flight together"

    before = gw.s3_counts()
    assert len(shown(propfind(gw, "/big/").text, "/big")) == BIG
    assert gw.s3_delta(before) == {}, "the merged listing is cached like any other"


@pytest.mark.slow
def test_rclone_reads_a_streamed_answer(make_gateway, filled, tmp_path):
    """A real client: rclone's WebDAV backend lists the big folder from the chunked 207."""
    gw = make_gateway(filled, config={"cache": QUIET})
    done = rclone(tmp_path, "lsf", remote(gw, "other", "big"))
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == names(BIG)


@pytest.mark.slow
def test_a_folder_of_up_to_three_pages_costs_exactly_its_pages(make_gateway, filled, logged):
    proxy = logged()
    gw = make_gateway(filled, config={"s3": {"endpoint_url": proxy.url}, "cache": QUIET})
    proxy.start_over()
    before = gw.s3_counts()
    r = propfind(gw, "/small/")
    assert r.status_code == 207 and sorted(shown(r.text, "/small")) == names(SMALL)
    assert gw.s3_delta(before) == {"LIST": math.ceil(SMALL / 1000)}
    assert listing_touches(proxy, "small/") == (3, [])


def without_start_after(method: str, target: str) -> str:
    """A store that ignores StartAfter (moto does not check signatures)."""
    path, _, query = target.partition("?")
    kept = [q for q in query.split("&") if not q.startswith("start-after=")]
    return path + ("?" + "&".join(kept) if kept else "")


@pytest.mark.slow
def test_a_store_that_ignores_start_after_is_listed_page_after_page(make_gateway, filled, logged):
    proxy = logged(rewrite=without_start_after)
    cfg = {"s3": {"endpoint_url": proxy.url}, "cache": {**QUIET, "list_concurrency": 4}}
    gw = make_gateway(filled, config=cfg)
    proxy.start_over()
    before = gw.s3_counts()
    r = propfind(gw, "/big/")
    assert r.status_code == 207
    got = shown(r.text, "/big")
    assert sorted(got) == names(BIG) and len(got) == BIG
    lists, starts = listing_touches(proxy, "big/")
    assert 1 <= len(starts) <= 4  # the ranges tried once, then dropped
    assert gw.s3_delta(before) == {"LIST": math.ceil(BIG / 1000) + len(starts)}
    assert "ignores ListObjectsV2 StartAfter" in gw.log()
