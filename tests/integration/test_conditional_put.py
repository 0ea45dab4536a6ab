"""No silent lost update: If-Match / If-None-Match on PUT (docs/SEMANTICS.md, *Under faults*).

WsgiDAV checks the headers against what the gateway knows; the gateway also
passes them to S3 (IfMatch / IfNoneMatch), so they hold even when another writer
changed the object behind the gateway's cached view.
"""

from __future__ import annotations

import os

from tests.support.helpers import s3_bytes

MIB = 1024 * 1024


def etag_of(s3, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"]


def gateway(make_gateway, bucket, **s3):
    return make_gateway(
        bucket,
        config={
            "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB", **s3},
            "cache": {"metadata_ttl": "1h"},  # the gateway's view may be stale
            "shares": [{"path": "/", "bucket": bucket}],
        },
    )


def test_conditions_against_the_gateways_view(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"one")
    gw = gateway(make_gateway, bucket)
    tag = etag_of(s3, bucket, "a.txt")
    r = gw.request("PUT", "/a.txt", data=b"two", headers={"If-None-Match": "*"})
    assert r.status_code == 412
    r = gw.request("PUT", "/missing.txt", data=b"two", headers={"If-Match": tag})
    assert r.status_code == 412
    r = gw.request("PUT", "/a.txt", data=b"two", headers={"If-Match": '"0123456789abcdef"'})
    assert r.status_code == 412
    assert s3_bytes(s3, bucket, "a.txt") == b"one"
    assert "missing.txt" not in str(s3.list_objects_v2(Bucket=bucket))
    r = gw.request("PUT", "/a.txt", data=b"two", headers={"If-Match": tag})
    assert r.status_code == 204
    r = gw.request("PUT", "/new.txt", data=b"new", headers={"If-None-Match": "*"})
    assert r.status_code == 201
    assert s3_bytes(s3, bucket, "a.txt") == b"two"
    assert s3_bytes(s3, bucket, "new.txt") == b"new"


def test_conditions_reach_s3_when_the_gateways_view_is_stale(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"one")
    gw = gateway(make_gateway, bucket)
    assert gw.request("PROPFIND", "/", headers={"Depth": "1"}).status_code == 207  # cached
    old_tag = etag_of(s3, bucket, "a.txt")
    # Another writer (another replica, another tool) replaces a.txt and creates b.txt.
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"theirs")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"theirs too")
    s3.put_object(Bucket=bucket, Key="c.bin", Body=b"theirs three")
    # The gateway still believes a.txt has old_tag and b.txt does not exist:
    # only S3's own check can refuse these.
    r = gw.request("PUT", "/a.txt", data=b"mine", headers={"If-Match": old_tag})
    assert r.status_code == 412, r.text[:300]
    r = gw.request("PUT", "/b.txt", data=b"mine", headers={"If-None-Match": "*"})
    assert r.status_code == 412, r.text[:300]
    big = os.urandom(11 * MIB)  # multipart: IfNoneMatch on CompleteMultipartUpload
    r = gw.request("PUT", "/c.bin", data=big, headers={"If-None-Match": "*"})
    assert r.status_code == 412, r.text[:300]
    assert s3_bytes(s3, bucket, "a.txt") == b"theirs"
    assert s3_bytes(s3, bucket, "b.txt") == b"theirs too"
    assert s3_bytes(s3, bucket, "c.bin") == b"theirs three"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_check_then_write_fallback_when_conditional_writes_are_off(make_gateway, bucket, s3):
    """With s3.conditional_writes false only the gateway's own check applies."""
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"one")
    gw = gateway(make_gateway, bucket, conditional_writes=False)
    assert gw.request("PUT", "/a.txt", data=b"x", headers={"If-None-Match": "*"}).status_code == 412
    assert gw.request("PROPFIND", "/", headers={"Depth": "1"}).status_code == 207
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"theirs")
    r = gw.request("PUT", "/b.txt", data=b"mine", headers={"If-None-Match": "*"})
    assert r.status_code == 201  # the documented window of check-then-write
    assert s3_bytes(s3, bucket, "b.txt") == b"mine"


def test_get_serves_one_version_and_follows_a_replace_after_the_ttl(make_gateway, bucket, s3):
    """Headers and bytes of one version: the known one within the TTL, the new one after.

    docs/SEMANTICS.md, *Caching*: a cached file is served without an S3 call while the
    metadata says its ETag is unchanged; a replace behind the gateway's back shows once the
    listing expires.
    """
    import time

    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"one")
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": "2s"}})
    first = gw.request("GET", "/a.txt")
    assert first.content == b"one"
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a longer second version")
    r = gw.request("GET", "/a.txt")  # within the TTL: the version the gateway knows, whole
    assert r.content == b"one" and r.headers["ETag"] == first.headers["ETag"]
    assert r.headers["Content-Length"] == "3"
    time.sleep(2.5)
    r = gw.request("GET", "/a.txt")
    assert r.status_code == 200
    assert r.content == b"a longer second version"
    assert r.headers["Content-Length"] == str(len(r.content))
    assert r.headers["ETag"].strip('"') == etag_of(s3, bucket, "a.txt").strip('"')
    s3.delete_object(Bucket=bucket, Key="a.txt")
    time.sleep(2.5)
    assert gw.request("GET", "/a.txt").status_code == 404


def test_conditional_get_answered_304_costs_no_s3_read(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"one")
    gw = gateway(make_gateway, bucket)
    etag = gw.request("GET", "/a.txt").headers["ETag"]
    before = gw.s3_counts()
    r = gw.request("GET", "/a.txt", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert gw.s3_delta(before) == {}
