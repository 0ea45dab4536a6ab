"""A multipart PUT's MD5 self-copy and cache ingest run after its answer.

docs/SEMANTICS.md, *Consistency* (MD5 of multipart uploads).

The fault proxy stalls or fails the CopyObject, so the window between the
answer and the end of that work is wide and the checks below are not a race.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time

from tests.support.faultproxy import patient_config

MIB = 1024 * 1024


def work_pending(gw) -> float | None:
    return gw.metric("s3dav_upload_work_pending")


def is_copy(seen) -> bool:
    return seen.operation == "CopyObject"


def test_reads_during_the_md5_copy_cost_no_s3_request(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    proxy.stall_when, proxy.stall_seconds = is_copy, 3
    body = os.urandom(12 * MIB + 7)
    r = gw.request("PUT", "/big.bin", data=body)
    assert r.status_code == 201, r.text
    first_etag = r.headers["ETag"].strip('"')
    assert first_etag.endswith("-3")  # answered before the self-copy
    assert work_pending(gw) == 1
    before = gw.s3_counts()
    assert gw.request("GET", "/big.bin").content == body
    ranged = gw.request("GET", "/big.bin", headers={"Range": "bytes=6000000-6000099"})
    assert ranged.status_code == 206 and ranged.content == body[6000000:6000100]
    assert gw.request("HEAD", "/big.bin").headers["ETag"].strip('"') == first_etag
    assert set(gw.s3_delta(before)) <= {"COPY"}  # served from the upload's own copy

    gw.settle()
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    md5 = hashlib.md5(body).digest()
    assert head["Metadata"]["md5chksum"] == base64.b64encode(md5).decode()
    assert head["ETag"].strip('"') != first_etag
    assert gw.request("HEAD", "/big.bin").headers["ETag"] == head["ETag"]  # the gateway follows
    before = gw.s3_counts()
    assert gw.request("GET", "/big.bin").content == body  # from blocks under the new ETag
    assert gw.s3_delta(before) == {}


def test_a_failed_md5_copy_leaves_the_object_and_the_gateway_knows_its_md5(
    make_gateway, bucket, s3, proxy
):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    proxy.fail_when = is_copy  # 500 on every attempt
    body = os.urandom(11 * MIB)
    r = gw.request("PUT", "/f.bin", data=body)
    assert r.status_code == 201, r.text
    gw.settle()
    obj = s3.get_object(Bucket=bucket, Key="f.bin")
    assert obj["Body"].read() == body
    assert obj["ETag"] == r.headers["ETag"] and "md5chksum" not in obj["Metadata"]
    before = gw.s3_counts()
    got = gw.request("GET", "/f.bin")
    assert got.content == body
    assert got.headers["OC-Checksum"] == f"MD5:{hashlib.md5(body).hexdigest()}"
    assert gw.s3_delta(before) == {}
    assert "could not store the MD5" in gw.log()


def test_delete_right_after_a_put_waits_for_the_md5_copy(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    proxy.stall_when, proxy.stall_seconds = is_copy, 2
    assert gw.request("PUT", "/gone.bin", data=os.urandom(11 * MIB)).status_code == 201
    assert work_pending(gw) == 1
    assert gw.request("DELETE", "/gone.bin").status_code == 204
    assert work_pending(gw) == 0  # DELETE waited, so the copy cannot bring the object back
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert gw.request("GET", "/gone.bin").status_code == 404


def test_the_md5_shows_before_the_copy_is_done(make_gateway, bucket, s3, proxy):
    """The body's MD5 is hashed from the cached copy after the answer, ahead of the copy."""
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    proxy.stall_when, proxy.stall_seconds = is_copy, 4
    body = os.urandom(12 * MIB + 1)
    assert gw.request("PUT", "/m.bin", data=body).status_code == 201
    want = f"MD5:{hashlib.md5(body).hexdigest()}"
    got = None
    for _ in range(40):  # the hash of 12 MiB takes a few ms; the copy is stalled 4 s
        got = gw.request("HEAD", "/m.bin").headers.get("OC-Checksum")
        if got:
            break
        time.sleep(0.05)
    assert got == want
    assert work_pending(gw) == 1  # the copy is still on its way
    gw.settle()
    head = s3.head_object(Bucket=bucket, Key="m.bin")
    assert head["Metadata"]["md5chksum"] == base64.b64encode(hashlib.md5(body).digest()).decode()


def test_without_a_cache_copy_the_md5_is_hashed_while_streaming(
    make_gateway, bucket, s3, proxy, tmp_path
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    gw = make_gateway(
        bucket, config={**patient_config(proxy, bucket), "cache": {"dir": str(blocker)}}
    )
    body = os.urandom(11 * MIB)
    r = gw.request("PUT", "/n.bin", data=body)
    assert r.status_code == 201, r.text
    # No copy to hash later: the MD5 was computed as the parts went, the self-copy
    # ran before the answer.
    assert work_pending(gw) == 0
    head = s3.head_object(Bucket=bucket, Key="n.bin")
    assert head["Metadata"]["md5chksum"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    got = gw.request("HEAD", "/n.bin").headers.get("OC-Checksum")
    assert got == f"MD5:{hashlib.md5(body).hexdigest()}"
