"""Users, shares and hostile input against a real gateway behind a key-logging S3 proxy.

Every test ends by asking the proxy whether the gateway touched any key outside the
prefixes the caller may reach: it must not, whatever the request.
"""

from __future__ import annotations

import pytest

from tests.support import security_setup
from tests.support.rawhttp import send_raw
from tests.support.s3proxy import outside
from tests.support.security_setup import SEED_MAIN, basic
from tests.support.xmlbodies import BIG_XML, BILLION_LAUGHS, EXTERNAL_ENTITY, PROPFIND_BODY

ANN = {"Authorization": basic("ann")}


@pytest.fixture
def sec(s3, moto, make_gateway, bucket):
    setup = security_setup.start(s3, moto.url, make_gateway, bucket)
    yield setup
    setup.proxy.stop()


def assert_nothing_outside(sec) -> None:
    bad = outside(sec.proxy.snapshot(), sec.allowed_for_ann())
    assert bad == [], f"S3 was asked for keys outside ann's and the public prefixes: {bad}"


def assert_bob_untouched(s3, sec) -> None:
    for key, data in SEED_MAIN.items():
        assert s3.get_object(Bucket=sec.main, Key=key)["Body"].read() == data, key
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=sec.main, Prefix="users/bob/")["Contents"]}
    assert keys == {"users/bob/secret.txt", "users/bob/dir/c.txt"}


def test_missing_or_wrong_credentials_get_401(sec):
    port = sec.gw.port
    cases = [
        {},  # no credentials
        {"Authorization": basic("ann", "wrong")},
        {"Authorization": basic("bob")},  # right password, wrong share
        {"Authorization": "Basic " + "bm9ib2R5OnB3"},  # nobody:pw
        {"Authorization": "Bearer abc"},  # a scheme we do not speak
        {"Authorization": 'Digest username="ann"'},
    ]
    for headers in cases:
        ans = send_raw(port, "PROPFIND", "/ann/", {"Depth": "1", **headers}, PROPFIND_BODY)
        assert ans.status == 401, (headers, ans.status, ans.body[:200])
        assert ans.headers["www-authenticate"] == 'Basic realm="s3dav"'
        assert b"Traceback" not in ans.body
    ok = send_raw(port, "PROPFIND", "/ann/", {"Depth": "1", **ANN}, PROPFIND_BODY)
    assert ok.status == 207 and b"a.txt" in ok.body
    assert send_raw(port, "GET", "/bob/secret.txt", {"Authorization": basic("bob")}).status == 200
    allowed = {sec.main: ["users/ann/", "users/bob/"], sec.other: ["public/"]}
    assert outside(sec.proxy.snapshot(), allowed) == []


# Every way we know of for ann to reach bob's share (or beyond her prefix).
ANN_TO_BOB = [
    ("GET", "/bob/secret.txt", {}),
    ("HEAD", "/bob/secret.txt", {}),
    ("PROPFIND", "/bob/", {"Depth": "1"}),
    ("PROPFIND", "/bob/dir/", {"Depth": "0"}),
    ("PUT", "/bob/new.txt", {}),
    ("PUT", "/bob/secret.txt", {}),
    ("DELETE", "/bob/secret.txt", {}),
    ("DELETE", "/bob/", {}),
    ("DELETE", "/BOB/secret.txt", {}),
    ("COPY", "/ANN/a.txt", {"Destination": "/BOB/a.txt"}),
    ("MKCOL", "/bob/newdir", {}),
    ("PROPPATCH", "/bob/secret.txt", {}),
    ("LOCK", "/bob/secret.txt", {}),
    ("MOVE", "/bob/secret.txt", {"Destination": "/ann/stolen.txt"}),
    ("COPY", "/bob/secret.txt", {"Destination": "/ann/stolen.txt"}),
    ("GET", "/ann/../bob/secret.txt", {}),
    ("GET", "/ann/%2e%2e/bob/secret.txt", {}),
    ("GET", "/ann/%2E%2E/bob/secret.txt", {}),
    ("GET", "/ann/.%2e/bob/secret.txt", {}),
    ("GET", "/ann/..%2fbob%2fsecret.txt", {}),
    ("GET", "/ann/%2e%2e%2f%2e%2e%2fusers%2fbob%2fsecret.txt", {}),
    ("GET", "/ann/..%5cbob%5csecret.txt", {}),
    ("GET", "/ann/%c0%ae%c0%ae/bob/secret.txt", {}),
    ("GET", "/ann/%c0%ae%c0%ae%c0%afbob%c0%afsecret.txt", {}),
    ("GET", "//bob/secret.txt", {}),
    ("GET", "/ann//../bob/secret.txt", {}),
    ("GET", "/ann/%00/../bob/secret.txt", {}),
    ("GET", "http://127.0.0.1/ann/../bob/secret.txt", {}),
    ("PROPFIND", "/ann/..%2f", {"Depth": "1"}),
    ("PROPFIND", "/ann/%2e%2e/", {"Depth": "1"}),
    ("DELETE", "/ann/%2e%2e/bob/secret.txt", {}),
    ("PUT", "/ann/..%2fbob%2fsecret.txt", {}),
    ("PUT", "/ann/%2e%2e/ann-evil/x.txt", {}),
    ("MKCOL", "/ann/%2e%2e/bob/d", {}),
    ("COPY", "/ann/a.txt", {"Destination": "/bob/a.txt"}),
    ("MOVE", "/ann/a.txt", {"Destination": "/bob/a.txt"}),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/../bob/a.txt"}),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/%2e%2e/bob/secret.txt"}),
    ("MOVE", "/ann/a.txt", {"Destination": "/ann/..%2fbob%2fsecret.txt"}),
    ("COPY", "/ann/a.txt", {"Destination": "http://127.0.0.1:1/bob/a.txt"}),
    ("COPY", "/ann/a.txt", {"Destination": "http://evil.example/ann/a.txt"}),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/%c0%ae%c0%ae/bob/x"}),
    ("COPY", "/ann/a.txt", {"Destination": "//bob/x"}),
    ("COPY", "/ann/a.txt", {"Destination": "/pub/x"}),
]


def test_ann_cannot_reach_bobs_share_by_any_path(s3, sec):
    seen = []
    for method, target, headers in ANN_TO_BOB:
        if "Destination" in headers and headers["Destination"].startswith("/"):
            headers = {
                **headers,
                "Destination": f"http://127.0.0.1:{sec.gw.port}" + headers["Destination"],
            }
        body = b"overwritten by ann" if method == "PUT" else b""
        ans = send_raw(sec.gw.port, method, target, {**ANN, "Depth": "0", **headers}, body)
        seen.append((method, target, ans.status))
        assert 400 <= ans.status < 500, (method, target, headers, ans.status, ans.body[:300])
        # bob's content never comes back (the one-line error names the path asked for)
        assert b"bob's secret" not in ans.body and b"Traceback" not in ans.body
    # Every probe was refused before reaching S3 for a foreign key, and nothing changed.
    assert_nothing_outside(sec)
    assert_bob_untouched(s3, sec)
    assert s3.get_object(Bucket=sec.main, Key="users/ann/a.txt")["Body"].read() == b"ann's file"
    statuses = {s for _, _, s in seen}
    assert statuses <= {400, 401, 403}, seen


def test_anonymous_read_only_share_refuses_writes(s3, sec):
    port = sec.gw.port
    dest = f"http://127.0.0.1:{port}/pub/copy.txt"
    assert send_raw(port, "GET", "/pub/p.txt").status == 200
    assert send_raw(port, "PROPFIND", "/pub/", {"Depth": "1"}, PROPFIND_BODY).status == 207
    writes = [
        ("PUT", "/pub/new.txt", {}, b"x"),
        ("PUT", "/pub/p.txt", {}, b"replaced"),
        ("DELETE", "/pub/p.txt", {}, b""),
        ("MKCOL", "/pub/d", {}, b""),
        ("COPY", "/pub/p.txt", {"Destination": dest}, b""),
        ("MOVE", "/pub/p.txt", {"Destination": dest}, b""),
        (
            "PROPPATCH",
            "/pub/p.txt",
            {"Content-Type": "application/xml"},
            b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
            b'<x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>',
        ),
    ]
    for method, target, headers, body in writes:
        ans = send_raw(port, method, target, headers, body)
        assert ans.status == 403, (method, ans.status, ans.body[:200])
    got = {o["Key"] for o in s3.list_objects_v2(Bucket=sec.other)["Contents"]}
    assert got == {"public/p.txt", "private/x.txt"}
    assert s3.get_object(Bucket=sec.other, Key="public/p.txt")["Body"].read() == b"public file"
    writes_seen = [t for t in sec.proxy.snapshot() if t.method in ("PUT", "POST", "DELETE")]
    assert writes_seen == []
    assert_nothing_outside(sec)


EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE propfind SYSTEM "http://127.0.0.1:1/evil.dtd">
<propfind xmlns="DAV:"><allprop/></propfind>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY % pe SYSTEM "http://127.0.0.1:1/x"> %pe;]><propfind xmlns="DAV:"/>"""
XXE_PROPPATCH = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><a xmlns="urn:x">&x;</a></D:prop></D:set>
</D:propertyupdate>"""
XXE_LOCK = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/>
</D:locktype><D:owner>&x;</D:owner></D:lockinfo>"""

# (method, target, headers, body, chunked, expected status) -- item 4 of the issue.
PROBES = [
    ("GET", "/ann/../a.txt", {}, b"", False, 400),
    ("GET", "/ann/%2e%2e/ann/a.txt", {}, b"", False, 400),
    ("GET", "/ann/%2E%2e/ann/a.txt", {}, b"", False, 400),
    ("GET", "/ann/dir/%2e%2e%2fa.txt", {}, b"", False, 400),
    ("GET", "/ann/dir/..%2Fa.txt", {}, b"", False, 400),
    ("GET", "/ann/dir/..%5ca.txt", {}, b"", False, 400),
    ("GET", "/ann/dir%5c..%5ca.txt", {}, b"", False, 400),
    ("GET", "/ann/%2fa.txt", {}, b"", False, 400),
    ("GET", "/ann/%c0%ae%c0%ae/a.txt", {}, b"", False, 400),
    ("GET", "/ann/%e0%80%ae%e0%80%ae/a.txt", {}, b"", False, 400),
    ("GET", "/ann/%c0%af", {}, b"", False, 400),
    ("GET", "/ann/a%00.txt", {}, b"", False, 400),
    ("GET", "/ann/a%0d%0aX-Evil:%201", {}, b"", False, 400),
    ("GET", "/ann/a%7f", {}, b"", False, 400),
    ("GET", "/ann//a.txt", {}, b"", False, 400),
    ("GET", "/ann//x/y:/%c0%ae%c0%ae/", {}, b"", False, 400),  # "://" inside a path (fuzz find)
    ("GET", "/ann/x://../../bob/secret.txt", {}, b"", False, 400),
    ("GET", "/ann/./a.txt", {}, b"", False, 400),
    ("GET", "/ann/%2e/a.txt", {}, b"", False, 400),
    ("GET", "/ann/%zz", {}, b"", False, 400),
    ("GET", "/ann/%", {}, b"", False, 400),
    ("GET", "/ann/%4", {}, b"", False, 400),
    ("GET", "/ann/%ff%fe", {}, b"", False, 400),
    ("PUT", "/ann/" + "k" * 1100, {}, b"x", False, 400),
    ("PUT", "/ann/" + "/".join(["d" * 200] * 6), {}, b"x", False, 400),
    ("GET", "/ann/" + "k" * 3000, {}, b"", False, 400),
    ("PROPFIND", "/ann/", {"Depth": "infinity"}, PROPFIND_BODY, False, 403),
    ("PROPFIND", "/ann/", {"Depth": "infinity"}, b"", False, 403),
    ("PROPFIND", "/ann/", {"Depth": "1"}, BILLION_LAUGHS, False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, EXTERNAL_ENTITY, False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, EXTERNAL_DTD, False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, PARAMETER_ENTITY, False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, EXTERNAL_ENTITY, True, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, b"<propfind", False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, b"\xff\xfe\x00<", False, 400),
    ("PROPFIND", "/ann/", {"Depth": "1"}, BIG_XML, False, 413),
    ("PROPFIND", "/ann/", {"Depth": "1"}, BIG_XML, True, 413),
    ("PROPPATCH", "/ann/a.txt", {}, XXE_PROPPATCH, False, 400),
    ("PROPPATCH", "/ann/a.txt", {}, BIG_XML, False, 413),
    ("LOCK", "/ann/a.txt", {}, XXE_LOCK, False, 400),
    ("LOCK", "/ann/a.txt", {}, BIG_XML, False, 413),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/%2e%2e/x"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/dir/..%2fx"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/dir%5c..%5cx"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/%c0%ae%c0%ae/x"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/x%00"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann//x"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/%zz"}, b"", False, 400),
    ("COPY", "/ann/a.txt", {"Destination": "/ann/" + "k" * 1100}, b"", False, 400),
    ("MOVE", "/ann/a.txt", {"Destination": "/ann/../bob/x"}, b"", False, 400),
    ("MOVE", "/ann/a.txt", {"Destination": "http://evil.example/ann/x"}, b"", False, 403),
    ("COPY", "/ann/a.txt", {"Destination": "https://127.0.0.1/ann/x"}, b"", False, 403),
    ("COPY", "/ann/a.txt", {"Destination": "/bob/x"}, b"", False, 403),
    ("MOVE", "/ann/a.txt", {"Destination": "/pub/x"}, b"", False, 403),
    ("DELETE", "/ANN/", {}, b"", False, 403),  # the share root, in WsgiDAV's case-blind spelling
    ("MOVE", "/Ann", {"Destination": "/ann/moved"}, b"", False, 403),
    ("GET", "/ann/a.txt", {"Authorization": "Basic !!!not-base64!!!"}, b"", False, 400),
    ("GET", "/ann/a.txt", {"Authorization": "Basic bm8tY29sb24="}, b"", False, 400),
    ("GET", "/ann/a.txt", {"Authorization": "Basic /w=="}, b"", False, 400),
]


def test_every_hostile_probe_gets_its_4xx(sec):
    """One gateway, every probe of item 4; all mismatches are reported together."""
    wrong = []
    for method, target, headers, body, chunked, want in PROBES:
        headers = {**ANN, **headers}
        dest = headers.get("Destination", "")
        if dest.startswith("/"):
            headers["Destination"] = f"http://127.0.0.1:{sec.gw.port}{dest}"
        ans = send_raw(sec.gw.port, method, target, headers, body, chunked=chunked)
        if ans.status != want or b"Traceback" in ans.body or len(ans.body) > 2000:
            wrong.append(
                (method, target[:60], headers.get("Destination"), want, ans.status, ans.body[:120])
            )
    assert wrong == []
    assert_nothing_outside(sec)
    # The gateway is still well after the probes, and ann's file is untouched.
    ok = send_raw(sec.gw.port, "GET", "/ann/a.txt", ANN)
    assert (ok.status, ok.body) == (200, b"ann's file")
