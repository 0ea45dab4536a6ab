"""Pure logic of issue 6: XML checks, Destination rules, credentials (throttle: test_throttle)."""

from __future__ import annotations

import io

import pytest

from s3dav.server.auth import basic_credentials_problem
from s3dav.server.pathguard import foreign_destination, share_of
from s3dav.server.xmlguard import XmlRefused, check_xml, guard_xml_body
from tests.support.s3proxy import Touch, outside, touches


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
        b'<!DOCTYPE a SYSTEM "http://x/y.dtd"><a/>',
        b'<!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]><a>&b;</a>',
        b"<!DOCTYPE a><a/>",
        b"<a>",
        b"\x00\x01",
        b'<?xml version="1.0" encoding="no-such"?><a/>',
    ],
)
def test_check_xml_refuses_dtds_entities_and_garbage(body):
    with pytest.raises(XmlRefused) as exc:
        check_xml(body)
    assert exc.value.status == "400 Bad Request"


def test_guard_passes_good_xml_on_and_limits_size():
    body = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'
    env = {
        "REQUEST_METHOD": "PROPFIND",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    guard_xml_body(env, 1024)
    assert env["wsgi.input"].read() == body
    chunked = {
        "REQUEST_METHOD": "LOCK",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    guard_xml_body(chunked, 1024)
    assert chunked["CONTENT_LENGTH"] == str(len(body))
    for env in (
        {
            "REQUEST_METHOD": "PROPPATCH",
            "CONTENT_LENGTH": "2000",
            "wsgi.input": io.BytesIO(b"x" * 2000),
        },
        {
            "REQUEST_METHOD": "PROPFIND",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(b"x" * 2000),
        },
    ):
        with pytest.raises(XmlRefused) as exc:
            guard_xml_body(env, 1024)
        assert exc.value.status.startswith("413")
    put = {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"<!DOC")}
    guard_xml_body(put, 1)  # not an XML method: untouched
    assert put["wsgi.input"].read() == b"<!DOC"


def test_foreign_destination():
    shares = ["/ann", "/bob", "/"]
    kw = {"hosts": {"gw:8080"}, "schemes": {"http"}, "share_paths": shares}
    assert share_of("/ann/x", shares) == "/ann" and share_of("/annx", shares) == "/"
    assert share_of("/ANN/x", shares) == "/ann"
    assert foreign_destination("http://gw:8080/ann/y", path="/ann/x", **kw) is None
    assert foreign_destination("/ann/y", path="/ann/x", **kw) is None
    assert "another server" in foreign_destination("http://evil/ann/y", path="/ann/x", **kw)
    assert "another scheme" in foreign_destination("ftp://gw:8080/ann/y", path="/ann/x", **kw)
    assert "another share" in foreign_destination("http://gw:8080/bob/y", path="/ann/x", **kw)
    assert "another share" in foreign_destination("/annx", path="/ann/x", **kw)
    assert "another share" in foreign_destination("/%62ob/y", path="/ann/x", **kw)


def test_basic_credentials_problem():
    assert basic_credentials_problem("Basic YW5uOnB3") is None
    assert basic_credentials_problem("Bearer x") is None  # not ours to judge
    assert basic_credentials_problem("Basic !!!") is not None
    assert basic_credentials_problem("Basic YW5u") is not None  # "ann", no colon
    assert basic_credentials_problem("Basic /w==") is not None  # not UTF-8


def test_proxy_touches_and_outside():
    assert touches("GET", "/b/users/ann/x%20y", {}, b"") == [
        Touch("GET", "b", "users/ann/x y", "object")
    ]
    assert touches("GET", "/b?list-type=2&prefix=users%2Fann%2F&delimiter=%2F", {}, b"") == [
        Touch("GET", "b", "users/ann/", "list")
    ]
    assert touches("GET", "/b?list-type=2", {}, b"")[0].key == ""  # whole bucket
    got = touches(
        "POST", "/b?delete", {}, b"<Delete><Object><Key>users/bob/s</Key></Object></Delete>"
    )
    assert got == [Touch("POST", "b", "users/bob/s", "delete-batch")]
    copy = touches("PUT", "/b/users/ann/c", {"x-amz-copy-source": "/b/users/bob/s"}, b"")
    assert outside(copy, {"b": ["users/ann/"]}) == [Touch("PUT", "b", "users/bob/s", "copy-source")]
    assert outside(touches("HEAD", "/b", {}, b""), {"b": ["users/ann/"]}) == []
    assert outside(touches("GET", "/b/users/ann-evil/x", {}, b""), {"b": ["users/ann/"]})
