"""Key ranges of a big folder (s3dav/store/keyranges.py) and the lister that uses them
(s3dav/store/parallellist.py), against an in-memory ListObjectsV2 of pure logic
(tests/support/memlist.py)."""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from s3dav.store.keyranges import (
    KeyRange,
    alphabet,
    boundaries,
    ignored_start_after,
    range_done,
    split,
    trimmed,
)
from s3dav.store.listing import build_listing
from s3dav.store.parallellist import ParallelLister
from tests.support.memlist import PAGE
from tests.support.memlist import MemoryBucket as Bucket


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(8) as p:
        yield p


def listed(pages: list[dict]) -> list[str]:
    keys = [e["Key"] for p in pages for e in p.get("Contents", [])]
    keys += [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    return keys


# -- boundaries ---------------------------------------------------------------------


def test_alphabet_is_the_smallest_usual_one():
    assert alphabet("0123") == "0123456789"
    assert alphabet("09af") == "0123456789abcdef"
    assert alphabet("xyz") == "abcdefghijklmnopqrstuvwxyz"
    assert alphabet("_.-") == ""
    assert alphabet("z1") == "0123456789abcdefghijklmnopqrstuvwxyz"


def held(cuts: list[str], later: list[str]) -> list[int]:
    """How many of `later` names each range between consecutive cuts holds."""
    return [sum(1 for n in later if a < n <= b) for a, b in zip(cuts, cuts[1:], strict=False)]


def test_numbered_names_near_ranges_of_less_than_a_page_then_coarse_siblings():
    every = [f"f{i:05d}.txt" for i in range(100_000)]
    page, later = every[2000:3000], every[3000:]
    got = boundaries(page, page[-1], want=16)
    assert got == sorted(got) and len(got) == 16 and got[0] > page[-1]
    near = [page[-1]] + got[:8]
    assert all(700 <= n < 1000 for n in held(near, later))  # one LIST each
    assert {"f1", "f2", "f3", "f4"} <= set(got)  # the next ten thousands: cut again later


def test_hashed_names_stay_hex_and_reach_the_end_of_the_space():
    every = sorted(hashlib.sha1(str(i).encode()).hexdigest() for i in range(20_000))
    page, later = every[5000:6000], every[6000:]
    got = boundaries(page, page[-1], want=16)
    assert all(set(b) <= set("0123456789abcdef") for b in got)
    counts = held([page[-1], *got], later)
    assert all(n < 1000 for n in counts[:8])  # near: one LIST each
    assert sum(counts) + sum(1 for n in later if n > got[-1]) == len(later)
    assert sum(1 for n in later if n > got[-1]) < len(later) / 4  # wider ones cover the rest


def test_dated_names_skip_separators_and_cut_at_the_next_months():
    every = [
        f"2024-{m:02d}-{d:02d}_{i:04d}.jpg"
        for m in range(1, 13)
        for d in range(1, 29)
        for i in range(60)
    ]
    page = every[2000:3000]
    got = boundaries(page, page[-1], want=16)
    assert {"2024-04", "2024-05"} <= set(got)  # the next months, each cut again later
    assert all(len(b) <= 4 or (b[4] == "-" and (len(b) <= 7 or b[7] == "-")) for b in got)


def test_boundaries_stop_before_the_end_and_at_want():
    names = [f"f{i:05d}" for i in range(10000, 11000)]
    got = boundaries(names, names[-1], want=16, end="f2")
    assert got and all(names[-1] < b < "f2" for b in got)
    assert len(boundaries(names, names[-1], want=3)) == 3
    assert boundaries(names, names[-1], want=0) == []


def test_split_makes_contiguous_ranges():
    assert split("a", None, ["b", "c"]) == [
        KeyRange("a", "b"),
        KeyRange("b", "c"),
        KeyRange("c", None),
    ]
    r = KeyRange("b", "c")
    assert r.holds("b0") and r.holds("c") and not r.holds("b") and not r.holds("c0")


def test_a_page_that_ignores_start_after_is_noticed():
    assert ignored_start_after({"Contents": [{"Key": "p/a"}]}, "p/m")
    assert ignored_start_after({"CommonPrefixes": [{"Prefix": "p/m"}]}, "p/m")
    assert not ignored_start_after({"Contents": [{"Key": "p/n"}]}, "p/m")
    assert not ignored_start_after({"Contents": []}, "p/m")


def test_trimmed_and_done():
    page = {
        "Contents": [{"Key": "p/a"}, {"Key": "p/c"}],
        "CommonPrefixes": [{"Prefix": "p/b/"}, {"Prefix": "p/d/"}],
        "IsTruncated": True,
        "NextContinuationToken": "t",
    }
    r = KeyRange("p/", "p/c")
    assert listed([trimmed(page, r)]) == ["p/a", "p/c", "p/b/"]
    assert range_done(page, r)  # p/d/ is past p/c
    assert not range_done(page, KeyRange("p/", "p/z"))
    assert range_done({**page, "IsTruncated": False}, KeyRange("p/", None))


# -- the lister -----------------------------------------------------------------------


def numbered(n: int, prefix: str = "big/") -> list[str]:
    return [f"{prefix}f{i:05d}.txt" for i in range(n)]


@pytest.mark.parametrize("n", [1, 999, 1000, 1001, 2100, 3000])
def test_folders_of_up_to_three_pages_cost_exactly_their_pages(pool, n):
    bucket = Bucket(numbered(n))
    pages = ParallelLister(pool.submit).pages(bucket.fetch("big/"), "big/")
    assert listed(pages) == numbered(n)
    assert len(bucket.calls) == max(1, math.ceil(n / PAGE))
    assert all(c["start_after"] is None for c in bucket.calls)


@pytest.mark.parametrize("n", [3001, 5500, 20000, 100000])
def test_big_folders_list_every_key_once_in_ranges_within_the_bound(pool, n):
    keys = numbered(n)
    bucket = Bucket(keys)
    lister = ParallelLister(pool.submit, concurrency=16)
    pages = lister.pages(bucket.fetch("big/"), "big/")
    assert listed(pages) == keys  # each once, in key order
    ranges = sum(1 for c in bucket.calls if c["start_after"]) + 1  # + the first, by token
    assert ranges <= lister.max_ranges
    assert len(bucket.calls) <= math.ceil(n / PAGE) + ranges
    assert sum(1 for c in bucket.calls if c["start_after"]) >= 2


def test_hashed_names_and_subfolders(pool):
    keys = [f"h/{hashlib.sha1(str(i).encode()).hexdigest()}" for i in range(7000)]
    keys += [f"h/{d:02x}/x{j}" for d in range(0, 256, 5) for j in range(3)]  # common prefixes
    bucket = Bucket(keys)
    pages = ParallelLister(pool.submit).pages(bucket.fetch("h/"), "h/")
    listing = build_listing("h/", pages)
    assert len(listing.files) == 7000
    assert sorted(listing.dirs) == sorted(f"{d:02x}" for d in range(0, 256, 5))
    shown = listed(pages)
    assert len(shown) == len(set(shown))  # no common prefix twice
    assert len(bucket.calls) <= math.ceil(len(bucket.entries("h/", True)) / PAGE) + 64


def test_without_delimiter_every_key_below(pool):
    keys = [f"t/d{i % 7}/f{i:05d}" for i in range(6000)]
    bucket = Bucket(keys)
    pages = ParallelLister(pool.submit).pages(bucket.fetch("t/", False), "t/", delimiter=False)
    assert listed(pages) == sorted(keys)


def test_a_store_that_ignores_start_after_gets_sequential_pages(pool):
    keys = numbered(6500)
    bucket = Bucket(keys, honours_start_after=False)
    lister = ParallelLister(pool.submit, concurrency=4)
    pages = lister.pages(bucket.fetch("big/"), "big/")
    assert listed(pages) == keys
    assert not lister.start_after_works
    wasted = sum(1 for c in bucket.calls if c["start_after"])
    assert 1 <= wasted <= 4
    assert len(bucket.calls) == math.ceil(6500 / PAGE) + wasted
    bucket.calls.clear()  # and from then on, page after page
    assert listed(lister.pages(bucket.fetch("big/"), "big/")) == keys
    assert len(bucket.calls) == math.ceil(6500 / PAGE)
    assert all(c["start_after"] is None for c in bucket.calls)


def test_concurrency_one_is_sequential(pool):
    bucket = Bucket(numbered(5500))
    pages = ParallelLister(pool.submit, concurrency=1).pages(bucket.fetch("big/"), "big/")
    assert listed(pages) == numbered(5500)
    assert len(bucket.calls) == 6


def test_a_read_ahead_first_page_stands_for_the_first_request(pool):
    bucket = Bucket(numbered(2500))
    first = bucket.page("big/", True)
    bucket.calls.clear()
    pages = ParallelLister(pool.submit).pages(bucket.fetch("big/"), "big/", first=first)
    assert listed(pages) == numbered(2500)
    assert len(bucket.calls) == 2


def test_a_failing_page_fails_the_listing(pool):
    bucket = Bucket(numbered(9000))
    real = bucket.page

    def page(prefix, delimiter, token=None, start_after=None):
        if start_after:
            raise RuntimeError("S3 says no")
        return real(prefix, delimiter, token, start_after)

    bucket.page = page
    with pytest.raises(RuntimeError):
        ParallelLister(pool.submit).pages(bucket.fetch("big/"), "big/")
