"""Changes by other tools, without events (issue 15, item 3): `cache.negative_ttl`.

A folder or file another tool makes straight in S3 (as s3fs, rclone's S3 backend
or the console do) after the gateway listed its folder is found by the first
read that names it once `negative_ttl` has passed, at the S3 cost SEMANTICS.md
gives (*Consistency*, *Emulated, and at what cost*); before that, and for
Finder's probes and every write's new destination, a miss costs nothing. Polls
go through wait_until: while the listing is younger than negative_ttl they
cost 0, so each count below is exact however long the wait.
"""

from __future__ import annotations

import pytest

from tests.integration.test_budgets import put_straight
from tests.support.helpers import hrefs, nfd, propfind, wait_until

# Listings never expire by themselves during a test: only negative_ttl can show a change.
CACHE = {"metadata_ttl": "600s", "negative_ttl": "1s", "readahead_folders": 0}
# What Finder and rclone ask of a path (allprop would also list a folder for its quota)
TYPE_ONLY = b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>'
PROBES = ("._new.txt", "._.", ".DS_Store", ".hidden", ".localized", "desktop.ini")


def listed(gw, path: str) -> list[str]:
    r = propfind(gw, path)
    assert r.status_code == 207, r.text
    return hrefs(r.text)


@pytest.fixture
def ngw(make_gateway, bucket, s3):
    """A gateway with negative_ttl 1s; /d/ listed (and cached) with one file."""
    s3.put_object(Bucket=bucket, Key="d/a.txt", Body=b"a")
    gw = make_gateway(bucket, config={"cache": dict(CACHE)})
    assert listed(gw, "/d/") == ["/d/", "/d/a.txt"]
    return gw


def test_s3fs_folder_is_found_by_propfind_depth_0(ngw, bucket, s3):
    # s3fs's mkdir: a marker `made/` with its metadata
    s3.put_object(
        Bucket=bucket,
        Key="d/made/",
        Body=b"",
        ContentType="application/x-directory",
        Metadata={"mode": "493", "mtime": "1700000000"},
    )
    before = ngw.s3_counts()
    assert wait_until(lambda: propfind(ngw, "/d/made", "0", TYPE_ONLY).status_code == 207)
    # the small folder d/ is listed again, once: the polls before negative_ttl cost 0
    assert ngw.s3_delta(before) == {"LIST": 1}
    before = ngw.s3_counts()
    assert listed(ngw, "/d/") == ["/d/", "/d/a.txt", "/d/made/"]
    assert ngw.s3_delta(before) == {}


def test_markerless_folder_is_found_by_its_own_listing(ngw, bucket, s3):
    """Depth 1 of a new implicit folder (rclone copyto, boto3): its own LIST is the check."""
    s3.put_object(Bucket=bucket, Key="d/implicit/x.txt", Body=b"x")
    before = ngw.s3_counts()
    assert wait_until(lambda: propfind(ngw, "/d/implicit/").status_code == 207)
    # one LIST of d/implicit/ (proof and listing at once), the HEAD of its unseen file
    assert ngw.s3_delta(before) == {"LIST": 1, "HEAD": 1}
    before = ngw.s3_counts()
    assert listed(ngw, "/d/implicit/") == ["/d/implicit/", "/d/implicit/x.txt"]
    # the parent learnt it without a LIST of its own
    assert listed(ngw, "/d/") == ["/d/", "/d/a.txt", "/d/implicit/"]
    assert ngw.s3_delta(before) == {}


def test_file_is_found_by_get(ngw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="d/new.txt", Body=b"new", Metadata={"mtime": "1700000000"})
    before = ngw.s3_counts()
    r = wait_until(lambda: (r := ngw.request("GET", "/d/new.txt")).status_code == 200 and r)
    assert r and r.content == b"new"
    assert r.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"  # its mtime: HEADed
    assert ngw.s3_delta(before) == {"LIST": 1, "HEAD": 1, "GET": 1}


def test_nfd_file_is_found_by_its_nfc_name(ngw, bucket, s3):
    s3.put_object(Bucket=bucket, Key=nfd("d/café.txt"), Body=b"nfd")
    assert wait_until(lambda: ngw.request("GET", "/d/café.txt").status_code == 200)
    assert ngw.request("GET", "/d/café.txt").content == b"nfd"


def test_folder_answered_404_before_it_was_made(ngw, bucket, s3):
    """A 404 answered from the folder's own (empty) listing does not hide it once made."""
    for top in ("cold1", "cold2"):
        assert propfind(ngw, f"/{top}/later/").status_code == 404  # lists it, empty
        s3.put_object(Bucket=bucket, Key=f"{top}/later/y.txt", Body=b"y")
    assert wait_until(lambda: propfind(ngw, "/cold1/later/").status_code == 207)
    assert listed(ngw, "/cold1/later/") == ["/cold1/later/", "/cold1/later/y.txt"]
    # found by a Depth 0 (its parent listed again): its empty listing is not kept either
    assert wait_until(lambda: propfind(ngw, "/cold2/later", depth="0").status_code == 207)
    assert listed(ngw, "/cold2/later/") == ["/cold2/later/", "/cold2/later/y.txt"]


def test_off_at_zero(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="z/a.txt", Body=b"a")
    gw = make_gateway(bucket, config={"cache": {**CACHE, "negative_ttl": "0"}})
    assert listed(gw, "/z/") == ["/z/", "/z/a.txt"]
    s3.put_object(Bucket=bucket, Key="z/new.txt", Body=b"new")
    before = gw.s3_counts()
    # more than negative_ttl would be: misses stay answered from the listing, at no cost
    assert not wait_until(lambda: gw.request("GET", "/z/new.txt").status_code == 200, 2.5)
    assert gw.s3_delta(before) == {}


@pytest.mark.slow
def test_big_folder_checks_one_name_and_writes_never_check(make_gateway, bucket, s3):
    """A folder of 1000+ entries is not listed again: the name alone is asked for.

    `name-NNNN` keys sort before `name/` and fill the first page, so the folder
    `name/` costs one LIST more. Probes and writes (PUT, MKCOL, COPY of new
    names) cost nothing even with the listing older than negative_ttl.
    """
    put_straight(s3, bucket, [f"big/name-{i:04d}.txt" for i in range(1000)])
    gw = make_gateway(bucket, config={"cache": {**CACHE, "negative_ttl": "4s"}})
    assert propfind(gw, "/big/", depth="0").status_code == 207  # lists big/: 1000 entries
    s3.put_object(Bucket=bucket, Key="big/name/", Body=b"")  # s3fs's mkdir
    s3.put_object(Bucket=bucket, Key="big/new.txt", Body=b"new")
    before = gw.s3_counts()
    assert wait_until(lambda: propfind(gw, "/big/name", "0", TYPE_ONLY).status_code == 207, 20)
    assert gw.s3_delta(before) == {"LIST": 2}

    # the listing is now older than negative_ttl, and stays cached (600 s)
    before = gw.s3_counts()
    for name in PROBES:
        assert gw.request("GET", f"/big/{name}").status_code == 404
        assert propfind(gw, f"/big/{name}", depth="0").status_code == 404
    assert gw.s3_delta(before) == {}

    before = gw.s3_counts()
    for i in range(20):
        assert gw.request("PUT", f"/big/up-{i:02d}.txt", data=b"up").status_code == 201
    assert gw.request("MKCOL", "/big/newdir").status_code == 201
    copied = gw.request("COPY", "/big/up-00.txt", headers={"Destination": gw.url + "/big/copy.txt"})
    assert copied.status_code == 201
    assert gw.s3_delta(before) == {"PUT": 21, "COPY": 1}, "a write's destination costs no LIST"

    before = gw.s3_counts()
    r = gw.request("GET", "/big/new.txt")
    assert r.status_code == 200 and r.content == b"new"
    assert gw.s3_delta(before) == {"LIST": 1, "HEAD": 1, "GET": 1}  # one LIST of the name

    before = gw.s3_counts()
    assert gw.request("GET", "/big/still-missing.txt").status_code == 404
    assert gw.s3_delta(before) == {"LIST": 1}
    for _ in range(3):  # within negative_ttl (4 s) of its check
        assert gw.request("GET", "/big/still-missing.txt").status_code == 404
        assert propfind(gw, "/big/still-missing.txt", depth="0").status_code == 404
    assert gw.s3_delta(before) == {"LIST": 1}

    s3.put_object(Bucket=bucket, Key=nfd("big/été.txt"), Body=b"nfd")
    before = gw.s3_counts()
    assert gw.request("GET", "/big/été.txt").content == b"nfd"
    assert gw.s3_delta(before) == {"LIST": 2, "HEAD": 1, "GET": 1}  # NFC, then NFD
    before = gw.s3_counts()
    # learnt: name/, new.txt, été.txt; own writes: 20 files, newdir/, copy.txt
    assert len(hrefs(propfind(gw, "/big/").text)) == 1 + 1000 + 3 + 22
    assert gw.s3_delta(before) == {}
