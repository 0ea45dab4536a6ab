"""Listed names that are not their keys (issue 19, items 3 and 6; issue 18, "Also").

Objects are written straight to S3 (as s3fs, the console or a Mac tool would); every entry
the gateway lists must be readable, movable and deletable by the name it lists, and names
it would refuse as a path are not listed at all.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import quote, unquote

import pytest

from tests.support.helpers import TEST_ENV, nfc, nfd, propfind
from tests.support.rclone import rclone, remote


def keys(s3, bucket: str) -> dict[str, bytes]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    found = [o["Key"] for p in pages for o in p.get("Contents", []) or []]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in found}


def raw_hrefs(xml: str) -> list[str]:
    """The hrefs exactly as listed (still percent-encoded)."""
    return re.findall(r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>", xml)


def listed(gw, path: str) -> dict[str, bool]:
    """Decoded href -> is a collection, for a PROPFIND Depth 1 of `path` (207 asserted)."""
    ans = propfind(gw, quote(path))
    assert ans.status_code == 207, ans.text
    out = {}
    for block in re.findall(r"<(?:\w+:)?response>(.*?)</(?:\w+:)?response>", ans.text, re.S):
        (href,) = raw_hrefs(block)
        out[unquote(href)] = "collection" in block
    return out


ETE = nfd("été")
CAFE = nfd("Cáfé nfd.txt")


def test_nfd_keys_are_listed_read_moved_and_deleted(s3, bucket, gw):
    s3.put_object(Bucket=bucket, Key=f"{ETE}/{CAFE}", Body=b"nfd in nfd")
    s3.put_object(Bucket=bucket, Key=f"{ETE}/plain.txt", Body=b"plain")
    s3.put_object(Bucket=bucket, Key=nfd("tôp.txt"), Body=b"top")
    root = listed(gw, "/")
    assert root == {"/": True, nfc("/été/"): True, nfc("/tôp.txt"): False}
    inside = propfind(gw, quote(nfc("/été/")))
    assert inside.status_code == 207
    hrefs = raw_hrefs(inside.text)
    listed_href = next(h for h in hrefs if h.endswith(".txt") and "plain" not in h)
    # The listed href, the NFC spelling and the NFD spelling all read the NFD key's bytes.
    for url in (listed_href, quote(nfc(f"/été/{CAFE}")), quote(f"/{ETE}/{CAFE}")):
        got = gw.request("GET", url)
        assert (got.status_code, got.content) == (200, b"nfd in nfd"), url
    assert gw.request("GET", quote(nfc("/tôp.txt"))).content == b"top"
    # A new file in the NFD folder lands beside its siblings (its own name in NFC).
    new_name = nfd("nëw.txt")
    assert gw.request("PUT", quote(nfc("/été/") + new_name), data=b"new").status_code == 201
    assert keys(s3, bucket)[f"{ETE}/{nfc('nëw.txt')}"] == b"new"
    # DELETE by the listed href removes the NFD key itself.
    assert gw.request("DELETE", listed_href).status_code == 204
    assert f"{ETE}/{CAFE}" not in keys(s3, bucket)
    assert gw.request("GET", listed_href).status_code == 404
    # MOVE of the NFD folder moves every key below it (stored NFC at the destination).
    ans = gw.request("MOVE", quote(nfc("/été")), headers={"Destination": gw.url + "/moved"})
    assert ans.status_code == 201, ans.text
    assert keys(s3, bucket) == {
        nfd("tôp.txt"): b"top",
        "moved/plain.txt": b"plain",
        nfc("moved/nëw.txt"): b"new",
    }
    assert listed(gw, "/moved/") == {
        "/moved/": True,
        "/moved/plain.txt": False,
        nfc("/moved/nëw.txt"): False,
    }


def test_proppatch_and_copy_of_an_nfd_key(s3, bucket, gw):
    s3.put_object(Bucket=bucket, Key=CAFE, Body=b"cafe")
    body = (
        b'<?xml version="1.0"?><propertyupdate xmlns="DAV:"><set><prop>'
        b"<getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</getlastmodified>"
        b"</prop></set></propertyupdate>"
    )
    ans = gw.request("PROPPATCH", quote(nfc("/" + CAFE)), data=body)
    assert ans.status_code == 207 and "200 OK" in ans.text, ans.text
    head = s3.head_object(Bucket=bucket, Key=CAFE)
    assert head["Metadata"]["mtime"] == "1704067200"
    ans = gw.request("COPY", quote(nfc("/" + CAFE)), headers={"Destination": "/copy.txt"})
    assert ans.status_code == 201, ans.text
    assert keys(s3, bucket) == {CAFE: b"cafe", "copy.txt": b"cafe"}


@pytest.mark.client
def test_rclone_copies_an_nfd_folder(s3, bucket, gw, tmp_path):
    s3.put_object(Bucket=bucket, Key=f"{ETE}/{CAFE}", Body=b"nfd in nfd")
    s3.put_object(Bucket=bucket, Key=f"{ETE}/sub/{nfd('ñ.txt')}", Body=b"deeper")
    out = tmp_path / "out"
    run = rclone(tmp_path, "copy", remote(gw, "other", nfc("été")), str(out))
    assert run.returncode == 0, run.stderr
    got = {nfc(str(p.relative_to(out))): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == {nfc(CAFE): b"nfd in nfd", nfc("sub/ñ.txt"): b"deeper"}


def test_nfc_and_nfd_twins_both_reachable(s3, bucket, gw):
    s3.put_object(Bucket=bucket, Key=nfc("pair/café.txt"), Body=b"nfc")
    s3.put_object(Bucket=bucket, Key=nfd("pair/café.txt"), Body=b"nfd")
    s3.put_object(Bucket=bucket, Key=nfc("été/a.txt"), Body=b"nfc folder")
    s3.put_object(Bucket=bucket, Key=f"{ETE}/b.txt", Body=b"nfd folder")
    assert listed(gw, "/pair/") == {
        "/pair/": True,
        nfc("/pair/café.txt"): False,
        nfc("/pair/café (NFD).txt"): False,
    }
    assert gw.request("GET", quote(nfc("/pair/café.txt"))).content == b"nfc"
    assert gw.request("GET", quote(nfd("/pair/café.txt"))).content == b"nfc"
    assert gw.request("GET", quote(nfc("/pair/café (NFD).txt"))).content == b"nfd"
    root = listed(gw, "/")
    assert root[nfc("/été/")] and root[nfc("/été (NFD)/")]
    assert gw.request("GET", quote(nfc("/été/a.txt"))).content == b"nfc folder"
    assert gw.request("GET", quote(nfc("/été (NFD)/b.txt"))).content == b"nfd folder"
    assert gw.request("GET", quote(nfc("/été/b.txt"))).status_code == 404
    assert gw.request("DELETE", quote(nfc("/pair/café (NFD).txt"))).status_code == 204
    left = keys(s3, bucket)
    assert nfd("pair/café.txt") not in left and left[nfc("pair/café.txt")] == b"nfc"
    assert listed(gw, "/pair/") == {"/pair/": True, nfc("/pair/café.txt"): False}


def test_file_and_folder_of_one_name(s3, bucket, gw):
    s3.put_object(Bucket=bucket, Key="x", Body=b"file x")
    s3.put_object(Bucket=bucket, Key="x/y.txt", Body=b"y")
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"file doc")
    s3.put_object(Bucket=bucket, Key="doc.txt/in.txt", Body=b"in")
    s3.put_object(Bucket=bucket, Key="k", Body=b"file k")
    s3.put_object(Bucket=bucket, Key="k/", Body=b"")
    s3.put_object(Bucket=bucket, Key="k (file)", Body=b"a real key")
    assert listed(gw, "/") == {
        "/": True,
        "/x/": True,
        "/x (file)": False,
        "/doc.txt/": True,
        "/doc (file).txt": False,
        "/k/": True,
        "/k (file)": False,  # the real key keeps its name
        "/k (file 2)": False,
    }
    assert gw.request("GET", "/x%20(file)").content == b"file x"
    assert gw.request("GET", "/k%20(file)").content == b"a real key"
    assert gw.request("GET", "/k%20(file%202)").content == b"file k"
    assert gw.request("GET", "/x/y.txt").content == b"y"
    # MOVE the file by its alternate name: the folder stays.
    ans = gw.request("MOVE", "/doc%20(file).txt", headers={"Destination": "/moved.txt"})
    assert ans.status_code == 201, ans.text
    left = keys(s3, bucket)
    assert "doc.txt" not in left and left["moved.txt"] == b"file doc"
    assert left["doc.txt/in.txt"] == b"in"
    # PUT at the alternate name replaces that file, and writes no key of that name.
    assert gw.request("PUT", "/x%20(file)", data=b"new x").status_code == 204
    left = keys(s3, bucket)
    assert left["x"] == b"new x" and "x (file)" not in left
    # Once the folder goes, the file has its own name at once (no listing expiry).
    assert gw.request("DELETE", "/x/").status_code == 204
    got = gw.request("GET", "/x")
    assert (got.status_code, got.content) == (200, b"new x")
    root = listed(gw, "/")
    assert root["/x"] is False and "/x (file)" not in root and "/x/" not in root
    assert keys(s3, bucket)["x"] == b"new x"
    # DELETE by the alternate name removes the file, not the folder.
    assert gw.request("DELETE", "/k%20(file%202)").status_code == 204
    left = keys(s3, bucket)
    assert "k" not in left and "k/" in left and left["k (file)"] == b"a real key"


def test_refused_names_are_not_listed(s3, bucket, gw):
    for key in ("..", ".", "a\\b", "c\x07d", "e//f", "sub/..", "sub/ok.txt", "ok.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    assert listed(gw, "/") == {"/": True, "/ok.txt": False, "/e/": True, "/sub/": True}
    assert listed(gw, "/sub/") == {"/sub/": True, "/sub/ok.txt": False}
    assert listed(gw, "/e/") == {"/e/": True}
    page = gw.request("GET", "/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    hrefs = set(re.findall(r'href="([^"]*)"', page.text))
    assert not {h for h in hrefs if h.rstrip("/").endswith(("..", "%2E%2E", "a%5Cb", "%07d"))}
    assert "a\\b" not in page.text and "c\x07d" not in page.text
    sub = gw.request("GET", "/sub/", headers={"Accept": "text/html"})
    assert sub.status_code == 200 and "ok.txt" in sub.text


def test_check_reports_names(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key=nfd("é.txt"), Body=b"1")
    s3.put_object(Bucket=bucket, Key=nfc("pair/é.txt"), Body=b"2")
    s3.put_object(Bucket=bucket, Key=nfd("pair/é.txt"), Body=b"3")
    s3.put_object(Bucket=bucket, Key="bad/..", Body=b"4")
    out = subprocess.run(
        [sys.executable, "-m", "s3dav", "check", "--endpoint-url", moto.url, "--bucket", bucket],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **TEST_ENV},
    )
    lines = out.stdout.splitlines()
    assert out.returncode == 1, out.stdout
    not_nfc = f"{ascii(nfd('é.txt'))}, {ascii(nfd('pair/é.txt'))}"
    assert (
        f"[note] share / (s3://{bucket}/): 2 key(s) not in NFC, shown by their NFC name: {not_nfc}"
    ) in lines
    assert (
        f"[FAIL] share / (s3://{bucket}/): 1 name(s) exist in NFC and another spelling (the NFC"
        f" one is shown, the other as 'name (NFD)'): {nfc('pair/é.txt')}"
    ) in lines
    assert (
        f"[FAIL] share / (s3://{bucket}/): 1 key(s) with names no path can name (hidden): 'bad/..'"
    ) in lines


def test_moving_a_folder_keeps_both_twins(s3, bucket, gw):
    s3.put_object(Bucket=bucket, Key=nfc("tw/café.txt"), Body=b"nfc")
    s3.put_object(Bucket=bucket, Key=nfd("tw/café.txt"), Body=b"nfd")
    s3.put_object(Bucket=bucket, Key=nfd("tw/ñ.txt"), Body=b"alone")
    ans = gw.request("MOVE", "/tw", headers={"Destination": "/tw2"})
    assert ans.status_code == 201, ans.text
    assert keys(s3, bucket) == {
        nfc("tw2/café.txt"): b"nfc",
        "tw2/" + nfd("café.txt"): b"nfd",  # its NFC form is taken: it keeps its spelling
        nfc("tw2/ñ.txt"): b"alone",  # stored NFC, as every name s3dav writes
    }
    assert gw.request("GET", quote(nfc("/tw2/café (NFD).txt"))).content == b"nfd"
