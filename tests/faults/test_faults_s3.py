"""S3 failing under the gateway: retries, outages, lagging listings.

docs/SEMANTICS.md, *Under faults*.

Every test puts tests/support/faultproxy.py between a real gateway process and moto,
injects a fault, and checks the answers and then the bytes in S3 directly.
"""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from tests.support.faultproxy import fault_config
from tests.support.helpers import hrefs, propfind, s3_bytes, wait_until

MIB = 1024 * 1024


def test_every_method_succeeds_with_a_fifth_of_s3_requests_failing(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=fault_config(proxy, bucket, max_attempts=8))
    proxy.error_rate = 0.15  # 503 SlowDown / 500 InternalError
    proxy.reset_rate = 0.05  # connection reset without an answer
    small = os.urandom(100_000)
    big = os.urandom(12 * MIB)  # multipart: 3 parts
    ops = 0

    def ok(resp, *codes):
        nonlocal ops
        ops += 1
        assert resp.status_code in codes, (resp.request.method, resp.status_code, resp.text[:300])
        return resp

    ok(gw.request("OPTIONS", "/"), 200)
    ok(gw.request("MKCOL", "/d/"), 201)
    ok(gw.request("PUT", "/d/small.bin", data=small), 201)
    ok(gw.request("PUT", "/d/big.bin", data=big), 201)
    ok(gw.request("PUT", "/d/small.bin", data=small[::-1]), 204)
    assert ok(gw.request("GET", "/d/small.bin"), 200).content == small[::-1]
    assert ok(gw.request("GET", "/d/big.bin"), 200).content == big
    r = ok(gw.request("GET", "/d/big.bin", headers={"Range": "bytes=6000000-6000099"}), 206)
    assert r.content == big[6000000:6000100]
    assert ok(gw.request("HEAD", "/d/big.bin"), 200).headers["Content-Length"] == str(len(big))
    names = hrefs(ok(propfind(gw, "/d/"), 207).text)
    assert {"/d/small.bin", "/d/big.bin"} <= set(names)
    body = (
        b'<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:z="urn:z"><set><prop>'
        b"<z:color>blue</z:color></prop></set></propertyupdate>"
    )
    ok(gw.request("PROPPATCH", "/d/small.bin", data=body), 207)
    ok(gw.request("COPY", "/d/small.bin", headers={"Destination": gw.url + "/d/copy.bin"}), 201)
    ok(gw.request("MOVE", "/d/big.bin", headers={"Destination": gw.url + "/d/moved.bin"}), 201)
    ok(gw.request("COPY", "/d/", headers={"Destination": gw.url + "/e/"}), 201)
    ok(gw.request("MOVE", "/e/", headers={"Destination": gw.url + "/f/"}), 201)
    ok(gw.request("DELETE", "/d/copy.bin"), 204)
    lock = (
        b'<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope>'
        b"<locktype><write/></locktype></lockinfo>"
    )
    r = ok(gw.request("LOCK", "/d/small.bin", data=lock, headers={"Timeout": "Second-60"}), 200)
    token = r.headers["Lock-Token"]
    ok(gw.request("UNLOCK", "/d/small.bin", headers={"Lock-Token": token}), 204)
    injected = proxy.injected()
    proxy.reset_faults()

    # The bytes in S3, read directly from moto.
    assert s3_bytes(s3, bucket, "d/small.bin") == small[::-1]
    assert s3_bytes(s3, bucket, "d/moved.bin") == big
    assert s3_bytes(s3, bucket, "f/small.bin") == small[::-1]
    assert s3_bytes(s3, bucket, "f/moved.bin") == big
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert "d/big.bin" not in keys and "d/copy.bin" not in keys
    assert not any(k.startswith("e/") for k in keys)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Faults were really injected, and retried away.
    assert injected >= 5, proxy.faults
    print(
        f"\nfaults injected: {dict(proxy.faults)} in {proxy.requests} S3 requests;"
        f" WebDAV operations: {ops}; lost: 0"
    )


@pytest.mark.slow
def test_outage_answers_503_with_retry_after_quickly_then_recovers(make_gateway, bucket, s3, proxy):
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"old")
    cfg = fault_config(proxy, bucket, max_attempts=2)
    cfg["cache"] = {"metadata_ttl": 0}
    gw = make_gateway(bucket, config=cfg)
    proxy.down = True
    for method, path, kw in [
        ("GET", "/old.txt", {}),
        ("PROPFIND", "/", {"headers": {"Depth": "1"}}),
        ("PUT", "/new.txt", {"data": b"x" * 1000}),
        ("PUT", "/old.txt", {"data": b"replacement"}),
        ("DELETE", "/old.txt", {}),
        ("MKCOL", "/dir/", {}),
    ]:
        started = time.monotonic()
        r = gw.request(method, path, timeout=30, **kw)
        took = time.monotonic() - started
        assert r.status_code == 503, (method, path, r.status_code, r.text[:300])
        assert r.reason == "Service Unavailable"
        assert r.headers.get("Retry-After") == "5"
        assert "Traceback" not in r.text
        assert took < 15, (method, took)
    assert proxy.faults["down"] > 0
    assert "unhandled error" not in gw.log()
    # S3 is back: service resumes by itself, nothing lost or half-written.
    proxy.down = False
    r = gw.request("GET", "/old.txt")
    assert r.content == b"old", (r.headers, proxy.log[-5:])
    assert gw.request("PUT", "/new.txt", data=b"after").status_code == 201
    assert s3_bytes(s3, bucket, "old.txt") == b"old"
    assert s3_bytes(s3, bucket, "new.txt") == b"after"


def test_cached_listing_during_outage_gives_503_for_reads_never_a_cut_200(
    make_gateway, bucket, s3, proxy
):
    """A file whose listing is cached: GET must fail before the answer starts."""
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a" * 5000)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket))
    assert propfind(gw, "/").status_code == 207  # listing now cached
    proxy.down = True
    r = gw.request("GET", "/a.txt")
    assert r.status_code == 503 and r.headers.get("Retry-After") == "5"
    # Metadata the gateway holds still answers.
    assert propfind(gw, "/a.txt", depth="0").status_code == 207
    assert gw.request("HEAD", "/a.txt").status_code == 200
    proxy.down = False
    assert gw.request("GET", "/a.txt").content == b"a" * 5000


def test_reads_the_cache_can_answer_keep_working_during_an_outage(make_gateway, bucket, s3, proxy):
    """Content read once (in the content cache) is served while S3 is down."""
    body = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="kept.bin", Body=body)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket))
    assert gw.request("GET", "/kept.bin").content == body  # listing and blocks now cached
    proxy.down = True
    before = dict(proxy.faults)
    r = gw.request("GET", "/kept.bin")
    assert r.status_code == 200 and r.content == body
    r = gw.request("GET", "/kept.bin", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == body[100:200]
    assert dict(proxy.faults) == dict(before)  # nothing even tried to reach S3
    proxy.down = False


def test_stalled_s3_answers_503_within_the_read_timeout(make_gateway, bucket, s3, proxy):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    cfg = fault_config(proxy, bucket, read_timeout=1, max_attempts=2)
    cfg["cache"] = {"metadata_ttl": 0}
    gw = make_gateway(bucket, config=cfg)
    proxy.stall_rate, proxy.stall_seconds = 1.0, 4.0
    started = time.monotonic()
    r = gw.request("GET", "/a.txt")
    assert r.status_code == 503, r.text[:300]
    assert time.monotonic() - started < 12
    assert proxy.faults["stall"] >= 2  # retried once
    proxy.reset_faults()
    assert gw.request("GET", "/a.txt").content == b"a"


def test_lagging_listing_own_writes_and_deletes_show_at_once(make_gateway, bucket, s3, proxy):
    s3.put_object(Bucket=bucket, Key="d/gone.txt", Body=b"gone")
    cfg = fault_config(proxy, bucket)
    cfg["cache"] = {"metadata_ttl": 0}  # every request asks S3's (lagging) listing
    gw = make_gateway(bucket, config=cfg)
    assert "/d/gone.txt" in hrefs(propfind(gw, "/d/").text)  # seen before the lag starts
    proxy.list_lag = 60.0
    assert gw.request("PUT", "/d/new.txt", data=b"fresh").status_code == 201
    assert gw.request("MKCOL", "/d/sub/").status_code == 201
    assert gw.request("DELETE", "/d/gone.txt").status_code == 204
    # S3's own listing lags: it hides the new keys and still shows the deleted one.
    raw = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    listed = requests.get(f"{proxy.url}/{bucket}?list-type=2&prefix=d/&delimiter=/").text
    assert "d/new.txt" not in listed and "d/gone.txt" in listed
    assert {o["Key"] for o in raw.get("Contents", [])} >= {"d/new.txt"}
    for _ in range(2):
        names = set(hrefs(propfind(gw, "/d/").text))
        assert "/d/new.txt" in names and "/d/sub/" in names
        assert "/d/gone.txt" not in names
        assert gw.request("GET", "/d/new.txt").content == b"fresh"
        assert gw.request("GET", "/d/gone.txt").status_code == 404
    assert (
        hashlib.md5(s3_bytes(s3, bucket, "d/new.txt")).hexdigest()
        == hashlib.md5(b"fresh").hexdigest()
    )


def test_negative_ttl_check_during_an_outage_answers_from_the_cached_listing(
    make_gateway, bucket, s3, proxy
):
    """A read's check of a missing path (cache.negative_ttl) that S3 cannot answer leaves the
    cached answer (404), not a 503; and the folder's listing stays cached meanwhile."""
    s3.put_object(Bucket=bucket, Key="d/a.txt", Body=b"a")
    cfg = fault_config(proxy, bucket, max_attempts=2)
    cfg["cache"] = {"metadata_ttl": "600s", "negative_ttl": "1s", "readahead_folders": 0}
    gw = make_gateway(bucket, config=cfg)
    assert propfind(gw, "/d/").status_code == 207
    proxy.down = True
    down_before = proxy.faults["down"]
    statuses = []

    def checked() -> bool:
        statuses.append(gw.request("GET", "/d/missing.txt").status_code)
        return proxy.faults["down"] > down_before  # the check, once negative_ttl has passed

    assert wait_until(checked, 30)
    assert set(statuses) == {404}, statuses
    assert "answered from the cached listing" in gw.log()
    assert propfind(gw, "/d/a.txt", depth="0").status_code == 207  # the listing is still cached
    proxy.down = False
    s3.put_object(Bucket=bucket, Key="d/missing.txt", Body=b"here now")
    assert wait_until(lambda: gw.request("GET", "/d/missing.txt").status_code == 200)
