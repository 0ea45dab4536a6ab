"""COPY/MOVE Destination headers that WsgiDAV alone would answer with 5xx (issue 18, item 6).

A multi-share gateway (tests/support/security_setup.py); every refused request must leave the bucket
exactly as it was, and the accepted ones must do what a file system would.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pytest

from s3dav.server.pathguard import UnsafePath, parse_destination
from tests.support import security_setup
from tests.support.rawhttp import send_raw
from tests.support.security_setup import basic

ANN = {"Authorization": basic("ann")}
SHARES = ["/ann", "/bob", "/pub"]
NFC_FILE = unicodedata.normalize("NFC", "café.txt")
NFD_FILE = unicodedata.normalize("NFD", NFC_FILE)
NFC_DIR = unicodedata.normalize("NFC", "été")
NFD_DIR = unicodedata.normalize("NFD", NFC_DIR)


@pytest.fixture
def sec(s3, moto, make_gateway, bucket):
    setup = security_setup.start(s3, moto.url, make_gateway, bucket)
    s3.put_object(Bucket=bucket, Key=f"users/ann/{NFC_FILE}", Body=b"nfc cafe")
    s3.put_object(Bucket=bucket, Key=f"users/ann/{NFC_DIR}/inner.txt", Body=b"inner")
    yield setup
    setup.proxy.stop()


def bucket_state(s3, bucket: str) -> dict[str, str]:
    """Every key of the bucket with its ETag."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", []) or []}


def absolute(sec, path: str) -> str:
    return f"http://127.0.0.1:{sec.gw.port}{path}"


# (method, source, Destination as sent, status wanted)
REFUSED = [
    # RFC 4918 10.3: Destination is an absolute-URI or a path, neither has a fragment.
    ("COPY", "/ann/a.txt", "/ann/b.txt#frag", 400),
    ("MOVE", "/ann/a.txt", "/ann#frag", 400),
    ("COPY", "/ann/a.txt", "/ann/dir/#x", 400),
    # WsgiDAV would cut the name at a (decoded) '?' or at ';': it would write another name.
    ("COPY", "/ann/a.txt", "/ann/x%3Fy.txt", 400),
    ("COPY", "/ann/a.txt", "/ann/x;y.txt", 400),
    ("MOVE", "/ann/a.txt", "/ann/x%3By.txt", 400),
    # The share's root is never replaced (as DELETE or MOVE of it is refused).
    ("COPY", "/ann/a.txt", "/ann", 403),
    ("MOVE", "/ann/a.txt", "/ann", 403),
    ("MOVE", "/ann/a.txt", "/ann/", 403),
    ("MOVE", "/ann/dir", "/ANN", 403),
    ("COPY", "/ann/a.txt", "/Ann/", 403),
    # The NFD spelling of the same name is the same resource (keys are NFC).
    ("MOVE", f"/ann/{quote(NFC_FILE)}", f"/ann/{quote(NFD_FILE)}", 403),
    ("COPY", f"/ann/{quote(NFC_FILE)}", f"/ann/{quote(NFD_FILE)}", 403),
    ("MOVE", f"/ann/{quote(NFD_FILE)}", f"/ann/{quote(NFC_FILE)}", 403),
    ("MOVE", f"/ann/{quote(NFC_DIR)}", f"/ann/{quote(NFD_DIR)}/", 403),
    # ... and a folder cannot go below itself in any spelling.
    ("MOVE", f"/ann/{quote(NFC_DIR)}", f"/ann/{quote(NFD_DIR)}/sub", 403),
    ("COPY", f"/ann/{quote(NFC_DIR)}/", f"/ann/{quote(NFD_DIR)}/sub/", 403),
    ("MOVE", "/ann/dir", "/ANN/dir/below", 403),
    # Other shares and servers (kept from before, now parsed as WsgiDAV parses them).
    ("COPY", "/ann/a.txt", "/bob/x", 403),
    ("COPY", "/ann/a.txt", "/BOB/x", 403),
    ("MOVE", "/ann/a.txt", "/pub/x", 403),
]


def test_bad_destinations_get_4xx_and_change_nothing(s3, sec):
    before = bucket_state(s3, sec.main)
    other_before = bucket_state(s3, sec.other)
    wrong = []
    for method, source, dest, want in REFUSED:
        for value in (dest, absolute(sec, dest)):
            ans = send_raw(sec.gw.port, method, source, {**ANN, "Destination": value})
            if ans.status != want or b"Traceback" in ans.body:
                wrong.append((method, source, value, want, ans.status, ans.body[:160]))
    assert wrong == []
    assert bucket_state(s3, sec.main) == before
    assert bucket_state(s3, sec.other) == other_before


def test_refusals_name_the_webdav_path_not_the_key(sec):
    ans = send_raw(
        sec.gw.port, "MOVE", f"/ann/{quote(NFC_DIR)}", {**ANN, "Destination": "/ann/x;y"}
    )
    assert ans.status == 400
    assert b"/ann/x;y" in ans.body and b"users/ann" not in ans.body
    ans = send_raw(
        sec.gw.port,
        "MOVE",
        f"/ann/{quote(NFC_DIR)}",
        {**ANN, "Destination": f"/ann/{quote(NFD_DIR)}/sub"},
    )
    assert ans.status == 403
    assert "/ann/été/sub".encode() in unicodedata.normalize("NFC", ans.body.decode()).encode()
    assert b"users/ann" not in ans.body


def test_share_name_in_another_case_is_the_same_share(s3, sec):
    """WsgiDAV resolves shares case-blind for the request path; the Destination now too."""
    ans = send_raw(
        sec.gw.port, "COPY", "/ann/a.txt", {**ANN, "Destination": absolute(sec, "/ANN/copy.txt")}
    )
    assert ans.status == 201, ans.body
    got = s3.get_object(Bucket=sec.main, Key="users/ann/copy.txt")["Body"].read()
    assert got == b"ann's file"
    ans = send_raw(sec.gw.port, "MOVE", "/ann/copy.txt", {**ANN, "Destination": "/Ann/moved.txt"})
    assert ans.status == 201, ans.body
    keys = bucket_state(s3, sec.main)
    assert "users/ann/moved.txt" in keys and "users/ann/copy.txt" not in keys
    # A fragment-free %23 is a name holding '#', as with PUT.
    ans = send_raw(sec.gw.port, "COPY", "/ann/a.txt", {**ANN, "Destination": "/ann/x%23y.txt"})
    assert ans.status == 201, ans.body
    assert s3.get_object(Bucket=sec.main, Key="users/ann/x#y.txt")["Body"].read() == b"ann's file"


def test_nfd_spelling_of_another_name_still_moves(s3, sec):
    """The NFC comparison refuses only the same name: an NFD destination is stored NFC."""
    dest = quote(unicodedata.normalize("NFD", "naïve.txt"))
    ans = send_raw(
        sec.gw.port, "MOVE", f"/ann/{quote(NFC_FILE)}", {**ANN, "Destination": f"/ann/{dest}"}
    )
    assert ans.status == 201, ans.body
    keys = bucket_state(s3, sec.main)
    assert "users/ann/" + unicodedata.normalize("NFC", "naïve.txt") in keys
    assert f"users/ann/{NFC_FILE}" not in keys


def test_parse_destination_follows_wsgidav():
    assert parse_destination("http://h/ann/a%20b.txt", SHARES) == ("/ann", "/a b.txt")
    assert parse_destination("/ANN/x/", SHARES) == ("/ann", "/x/")
    assert parse_destination("/ann", SHARES) == ("/ann", "/")
    assert parse_destination("/ann/", SHARES) == ("/ann", "/")
    assert parse_destination("/ann/x%23y", SHARES) == ("/ann", "/x#y")
    assert parse_destination("/ann/x?q=1", SHARES) == ("/ann", "/x")
    assert parse_destination("/elsewhere/x", SHARES) == (None, "/elsewhere/x")
    assert parse_destination("/x/y", ["/"]) == ("/", "/x/y")
    for bad in ("/ann/x#y", "/ann/x;y", "/ann/x%3Fy", "/ann#y", "/ann/a%3B"):
        with pytest.raises(UnsafePath):
            parse_destination(bad, SHARES)
