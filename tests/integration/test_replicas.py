"""Two gateways on one bucket sharing locks, dead properties and listing changes via Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.support.helpers import TEST_ENV, free_port, hrefs, propfind, stop_process

LOCK_BODY = (
    b'<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope>'
    b"<locktype><write/></locktype><owner>replica test</owner></lockinfo>"
)
# Without invalidation a replica would show a stale listing for metadata_ttl (30 s
# here); with it, the other replica sees the change within this bound.
LISTING_BOUND = 2.0


@pytest.fixture
def pair(make_gateway, bucket, redis_url):
    def config() -> dict:
        return {"cache": {"metadata_ttl": "30s"}, "locks": {"storage": redis_url}}

    a = make_gateway(bucket, config=config(), name="a")
    b = make_gateway(bucket, config=config(), name="b")
    return a, b


def listed(gw, path: str) -> list[str]:
    r = propfind(gw, path)
    assert r.status_code == 207, r.text
    return hrefs(r.text)


def wait_listed(gw, folder: str, href: str, present: bool = True) -> float:
    started = time.monotonic()
    while (href in listed(gw, folder)) != present:
        if time.monotonic() - started > LISTING_BOUND:
            raise AssertionError(f"{href} {'not ' if present else ''}listed after {LISTING_BOUND}s")
        time.sleep(0.05)
    return time.monotonic() - started


def test_lock_through_one_replica_holds_on_the_other(pair):
    a, b = pair
    assert a.request("PUT", "/doc.txt", data=b"v1").status_code == 201
    r = a.request(
        "LOCK", "/doc.txt", data=LOCK_BODY, headers={"Timeout": "Second-600", "Depth": "0"}
    )
    assert r.status_code == 200, r.text
    token = r.headers["Lock-Token"]
    assert b.request("PUT", "/doc.txt", data=b"v2").status_code == 423
    assert b.request("DELETE", "/doc.txt").status_code == 423
    # The lock holder may write through either replica.
    r = b.request("PUT", "/doc.txt", data=b"v3", headers={"If": f"({token})"})
    assert r.status_code == 204, r.text
    assert a.request("UNLOCK", "/doc.txt", headers={"Lock-Token": token}).status_code == 204
    assert b.request("PUT", "/doc.txt", data=b"v4").status_code == 204
    assert a.request("GET", "/doc.txt").content == b"v4"


def test_changes_through_one_replica_are_listed_by_the_other(pair):
    a, b = pair
    assert a.request("MKCOL", "/dir").status_code == 201
    assert "/dir/" in listed(b, "/")
    assert listed(b, "/dir/") == ["/dir/"]  # b now holds /dir/'s listing for 30 s
    assert a.request("PUT", "/dir/new.txt", data=b"hello").status_code == 201
    seen_after = wait_listed(b, "/dir/", "/dir/new.txt")
    assert b.request("GET", "/dir/new.txt").content == b"hello"
    assert a.request("DELETE", "/dir/new.txt").status_code == 204
    gone_after = wait_listed(b, "/dir/", "/dir/new.txt", present=False)
    # A whole tree deleted through b disappears from a's cached listings too.
    assert a.request("MKCOL", "/dir/sub").status_code == 201
    assert a.request("PUT", "/dir/sub/x.txt", data=b"x").status_code == 201
    assert "/dir/sub/x.txt" in listed(a, "/dir/sub/")
    wait_listed(b, "/dir/sub/", "/dir/sub/x.txt")
    assert b.request("DELETE", "/dir/sub").status_code == 204
    wait_listed(a, "/dir/", "/dir/sub/", present=False)
    print(
        f"\nlisted by the other replica after {seen_after * 1000:.0f} ms (write), "
        f"{gone_after * 1000:.0f} ms (delete); bound {LISTING_BOUND:.0f} s, metadata_ttl 30 s"
    )


def test_dead_property_set_through_one_replica_is_read_through_the_other(pair):
    a, b = pair
    assert a.request("PUT", "/p.txt", data=b"p").status_code == 201
    patch = (
        b'<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:z="urn:test">'
        b"<set><prop><z:color>teal</z:color></prop></set></propertyupdate>"
    )
    assert a.request("PROPPATCH", "/p.txt", data=patch).status_code == 207
    ask = (
        b'<?xml version="1.0"?><propfind xmlns="DAV:">'
        b'<prop><color xmlns="urn:test"/></prop></propfind>'
    )
    r = propfind(b, "/p.txt", depth="0", body=ask)
    assert r.status_code == 207 and "teal" in r.text, r.text
    # MOVE through b carries it; a reads it at the new name.
    r = b.request("MOVE", "/p.txt", headers={"Destination": b.url + "/q.txt"})
    assert r.status_code == 201
    r = propfind(a, "/q.txt", depth="0", body=ask)
    assert "teal" in r.text, r.text


def test_redis_outage_answers_503_not_500(make_gateway, bucket, redis_server):
    url, proc = redis_server
    gw = make_gateway(bucket, config={"locks": {"storage": url}})
    assert gw.request("PUT", "/a.txt", data=b"a").status_code == 201
    stop_process(proc)
    for method in ("PUT", "LOCK", "PROPPATCH"):
        r = gw.request(method, "/a.txt", data=b"b" if method == "PUT" else LOCK_BODY)
        assert r.status_code == 503, (method, r.status_code, r.text)
    assert gw.request("GET", "/a.txt").content == b"a"  # reads need no Redis
    assert propfind(gw, "/").status_code == 503  # it reports locks and dead properties
    assert "Traceback" not in gw.log()


def test_unreachable_redis_is_one_config_line(moto, bucket):
    port = free_port()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3dav",
            "serve",
            "--endpoint-url",
            moto.url,
            "--bucket",
            bucket,
            "--port",
            str(free_port()),
            "--lock-storage",
            f"redis://:hunter2@127.0.0.1:{port}/0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **TEST_ENV},
    )
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == (
        f"s3dav: config error: locks.storage: cannot reach redis://127.0.0.1:{port}/0:"
        " ConnectionError"
    )
    assert "hunter2" not in out.stderr + out.stdout
