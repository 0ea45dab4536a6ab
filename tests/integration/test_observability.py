"""Health, readiness, metrics and the access log of a real gateway after a real session."""

from __future__ import annotations

import json
import re
import time

from s3dav.passwords import hash_password
from tests.support.helpers import metric, propfind


def test_metrics_after_a_session(make_gateway, s3, bucket):
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "1s"}})
    s3.put_object(Bucket=bucket, Key="e/outside.txt", Body=b"written by someone else")
    body = b"x" * 100_000
    assert gw.request("MKCOL", "/d").status_code == 201
    assert gw.request("PUT", "/d/a.bin", data=body).status_code == 201
    # A chunked PUT (no Content-Length), as Finder sends them.
    assert gw.request("PUT", "/d/b.bin", data=iter([b"y" * 3000, b"z" * 2000])).status_code == 201
    assert gw.request("GET", "/d/a.bin").content == body
    assert gw.request("GET", "/nothing-here").status_code == 404
    for _ in range(3):  # one LIST (a listing miss, a metadata miss, a HEAD), then two hits
        assert propfind(gw, "/e/").status_code == 207
    time.sleep(1.2)  # the listing expires; the object's metadata is still known
    assert propfind(gw, "/e/").status_code == 207
    text = gw.metrics()
    print("\n".join(line for line in text.splitlines() if not line.startswith("#")))

    assert metric(text, "s3dav_http_requests_total", method="PUT", status="201") == 2
    assert metric(text, "s3dav_http_requests_total", method="PROPFIND", status="207") == 4
    assert metric(text, "s3dav_http_requests_total", method="GET", status="404") == 1
    assert metric(text, "s3dav_http_request_duration_seconds_count", method="PUT") == 2
    assert metric(text, "s3dav_http_request_duration_seconds_sum", method="PUT") > 0
    assert metric(text, "s3dav_http_request_duration_seconds_bucket", method="PUT", le="+Inf") == 2
    assert metric(text, "s3dav_bytes_up_total") == len(body) + 5000  # the chunked one too
    assert metric(text, "s3dav_bytes_down_total") >= len(body)
    assert metric(text, "s3dav_uploads_pending") == 0
    assert metric(text, "s3dav_s3_requests_total", kind="PUT", operation="PutObject") == 3
    assert metric(text, "s3dav_s3_requests_total", kind="HEAD", operation="HeadObject") == 1
    assert metric(text, "s3dav_cache_misses_total", cache="metadata") == 1
    assert metric(text, "s3dav_cache_hits_total", cache="metadata") >= 1  # after the expiry
    assert metric(text, "s3dav_cache_hits_total", cache="listing") >= 2
    assert metric(text, "s3dav_cache_misses_total", cache="listing") >= 2
    assert metric(text, "s3dav_cache_bytes") > 0
    assert metric(text, "s3dav_s3_request_duration_seconds_count", kind="PUT") == 3
    assert metric(text, "s3dav_s3_request_duration_seconds_count", kind="HEAD") == 2  # + bucket


def test_health_readiness_and_reserved_names(gw, s3, bucket):
    assert gw.request("GET", "/healthz").text == "ok\n"
    assert gw.request("HEAD", "/healthz").status_code == 200
    r = gw.request("GET", "/readyz")
    assert (r.status_code, r.text) == (200, "ready\n")
    # The reserved names cannot be created in a root share, so they never collide.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert gw.request("PUT", path, data=b"x").status_code == 403
        assert gw.request("MKCOL", path).status_code == 403
    assert gw.request("PUT", "/metrics.txt", data=b"fine").status_code == 201
    for method in ("COPY", "MOVE"):
        r = gw.request(method, "/metrics.txt", headers={"Destination": gw.url + "/readyz"})
        assert r.status_code == 403, (method, r.status_code)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_readyz_fails_when_the_bucket_goes(make_gateway, s3):
    s3.create_bucket(Bucket="t-goes-away")
    gw = make_gateway("t-goes-away")
    s3.delete_bucket(Bucket="t-goes-away")
    r = gw.request("GET", "/readyz")
    assert r.status_code == 503 and "t-goes-away" in r.text
    assert r.headers["Retry-After"] == "5"
    assert gw.request("GET", "/healthz").status_code == 200  # alive, just not ready


def test_access_log_json_has_the_fields_and_no_secret(make_gateway, bucket):
    password = "s3cr3t-Pa55word"
    cfg = {
        "server": {"auth": "basic"},
        "users": {"ann": {"password_hash": hash_password(password)}},
        "logging": {"format": "json"},
        "s3": {"access_key_id": "${KEY_ID}", "secret_access_key": "${SECRET_KEY}"},
    }
    gw = make_gateway(bucket, config=cfg, env={"KEY_ID": "testing", "SECRET_KEY": "s3-secret-Key"})
    auth = ("ann", password)
    assert gw.request("PUT", "/f.txt", data=b"12345", auth=auth).status_code == 201
    assert gw.request("GET", "/f.txt", auth=auth).status_code == 200
    assert gw.request("GET", "/f.txt", auth=("ann", "wrong-password")).status_code == 401
    gw.stop()
    log = gw.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(records) == len(log.splitlines()), log  # every line is JSON
    access = [r for r in records if r["logger"] == "s3dav.access"]
    put = next(r for r in access if r["method"] == "PUT")
    assert (put["path"], put["status"], put["user"], put["bytes_in"]) == ("/f.txt", "201", "ann", 5)
    assert put["client"] == "127.0.0.1"
    assert isinstance(put["duration_ms"], float) and put["duration_ms"] > 0
    get = next(r for r in access if r["method"] == "GET" and r["status"] == "200")
    assert get["bytes"] == 5
    assert any(r["status"] == "401" for r in access)
    for secret in (password, "wrong-password", "s3-secret-Key", "YW5uOn"):  # base64 "ann:"
        assert secret not in log


def test_access_log_plain_line(gw):
    assert gw.request("PUT", "/p.txt", data=b"abc").status_code == 201
    gw.stop()
    line = next(line for line in gw.log().splitlines() if "s3dav.access" in line)
    assert re.search(
        r"s3dav\.access: PUT /p\.txt 201 \d+ [0-9.]+ms user=- client=127\.0\.0\.1$", line
    ), line
