"""Error answers are one line naming the WebDAV path (issue 19 item 10, issue 18 "Also").

No WsgiDAV HTML page, no WsgiDAV version, no S3 key; the RFC 4918 DAV:error XML
stays where a precondition needs it. rclone prints the body in its error lines,
so it is checked there too.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.support.rawhttp import send_raw
from tests.support.security_setup import HASHES, PASSWORDS, basic

ANN = ("ann", PASSWORDS["ann"])


@pytest.fixture
def shared(s3, moto, make_gateway):
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="users/ann/a.txt", Body=b"ann's file")
    config = {
        "s3": {"endpoint_url": moto.url, "addressing_style": "path"},
        "users": {name: {"password_hash": h} for name, h in HASHES.items()},
        "shares": [
            {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]},
            {
                "path": "/pub",
                "bucket": bucket,
                "prefix": "public/",
                "users": ["anonymous"],
                "read_only": True,
            },
        ],
    }
    return make_gateway(config=config), bucket


def assert_one_line(r, expected: str) -> None:
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8", r.headers
    assert r.text == expected + "\n", r.text
    assert "WsgiDAV" not in r.text and "users/ann" not in r.text
    assert r.headers["Server"] == "s3dav"


def test_errors_are_one_line_naming_the_webdav_path(shared):
    gw, _ = shared
    cases = [
        ("GET", "/ann/nope.txt", {"auth": ANN}, 404, "404 Not Found: GET /ann/nope.txt"),
        (
            "PUT",
            "/pub/x.txt",
            {"data": b"x"},
            403,
            "403 Forbidden: PUT /pub/x.txt: this share is read-only",
        ),
        (
            "MKCOL",
            "/ann/a/b/c",
            {"auth": ANN},
            409,
            "409 Conflict: MKCOL /ann/a/b/c: Parent must be an existing collection.",
        ),
        ("GET", "/ann/a.txt", {}, 401, "401 Unauthorized: GET /ann/a.txt: log in (realm s3dav)"),
        (
            "PUT",
            "/ann/t.txt",
            {"auth": ANN, "data": b"x", "headers": {"X-OC-Mtime": "soon"}},
            400,
            "400 Bad Request: PUT /ann/t.txt: invalid X-OC-Mtime header: 'soon'"
            " (epoch seconds from 1970 to 9999 expected)",
        ),
    ]
    for method, path, kw, status, line in cases:
        r = gw.request(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert_one_line(r, line)
    r = gw.request("GET", "/ann/a.txt")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="s3dav"'


def test_refusals_name_the_path_as_sent(shared):
    """Refused before WsgiDAV (unsafe path, bad XML): the same one line, the raw path."""
    gw, _ = shared
    ans = send_raw(gw.port, "GET", "/ann/%2e%2e/bob/x", {"Authorization": basic("ann")})
    assert ans.status == 400
    assert ans.body == b"400 Bad Request: GET /ann/%2e%2e/bob/x: path segment '..' is not allowed\n"
    r = gw.request("PROPPATCH", "/ann/a.txt", auth=ANN, data=b"<x")
    assert r.status_code == 400
    assert_one_line(r, "400 Bad Request: PROPPATCH /ann/a.txt: XML body is not well-formed")


def test_the_gateways_own_answers_say_nosniff(shared):
    """/healthz, /readyz, /metrics and the refusals before WsgiDAV: nosniff, as WsgiDAV's have."""
    gw, _ = shared
    ann = {"Authorization": basic("ann")}
    cases = {
        "/healthz": ("GET", "/healthz", {}, b""),
        "/readyz": ("GET", "/readyz", {}, b""),
        "/metrics": ("GET", "/metrics", {}, b""),
        "unsafe path": ("GET", "/ann/%2e%2e/x", ann, b""),
        "bad XML": ("PROPPATCH", "/ann/a.txt", ann, b"<x"),
        "GET with a body": ("GET", "/ann/a.txt", ann, b"x"),
        "head too big (head gate)": ("GET", "/ann/a.txt", {"X-Big": "b" * 70_000}, b""),
    }
    got = {}
    for name, (method, target, headers, body) in cases.items():
        ans = send_raw(gw.port, method, target, headers, body)
        got[name] = (ans.status, ans.headers.get("x-content-type-options"))
    assert got == {
        "/healthz": (200, "nosniff"),
        "/readyz": (200, "nosniff"),
        "/metrics": (200, "nosniff"),
        "unsafe path": (400, "nosniff"),
        "bad XML": (400, "nosniff"),
        "GET with a body": (415, "nosniff"),
        "head too big (head gate)": (431, "nosniff"),
    }


def test_success_bodies_carry_no_version(shared):
    gw, _ = shared
    r = gw.request("PUT", "/ann/new.txt", data=b"new", auth=ANN)
    assert r.status_code == 201
    assert_one_line(r, "201 Created: PUT /ann/new.txt")
    r = gw.request("MKCOL", "/ann/d", auth=ANN)
    assert r.status_code == 201 and "WsgiDAV" not in r.text


def test_precondition_errors_keep_dav_error_xml(shared):
    gw, _ = shared
    r = gw.request("PROPFIND", "/ann/", auth=ANN, headers={"Depth": "infinity"})
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert "<ns0:propfind-finite-depth />" in r.text and "WsgiDAV" not in r.text

    lock = (
        b'<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope>'
        b"<locktype><write/></locktype><owner>t</owner></lockinfo>"
    )
    r = gw.request("LOCK", "/ann/a.txt", auth=ANN, data=lock, headers={"Timeout": "Second-60"})
    assert r.status_code == 200
    r = gw.request("PUT", "/ann/a.txt", auth=ANN, data=b"other")
    assert r.status_code == 423
    assert r.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert "no-conflicting-lock" in r.text and "<ns0:href>/ann/a.txt</ns0:href>" in r.text


@pytest.mark.client
def test_rclone_error_lines_are_short(shared, tmp_path):
    """rclone prints the body in its error: one line with the path, no HTML page."""
    gw, _ = shared
    r = subprocess.run(
        [
            "rclone",
            "--config",
            "/dev/null",
            "--low-level-retries",
            "1",
            "--retries",
            "1",
            "copyto",
            str(_file(tmp_path)),
            f":webdav,url='{gw.url}/pub',vendor=other:x.txt",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line]
    assert errors, r.stderr
    assert "403 Forbidden: PUT /pub/x.txt: this share is read-only" in r.stderr, r.stderr
    assert "WsgiDAV" not in r.stderr and "<html" not in r.stderr.lower(), r.stderr


def _file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"payload")
    return path
