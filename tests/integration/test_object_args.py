"""Storage class and server-side encryption per share (issue 16 item 3), checked on S3.

The storage class and SSE-KMS are kept by moto and read back with boto3's
head_object. moto does not enforce SSE-C (it neither stores nor asks for the
key), so the SSE-C test puts the fault proxy in front of moto as S3's stand-in:
every object request without the key (or with another one) is refused, as S3
refuses it, and the wiretap shows the key's MD5 on each.
"""

from __future__ import annotations

import base64
import hashlib
import os

from tests.support.faultproxy import Wiretap, patient_config
from tests.support.helpers import pending, propfind, wait_until

MIB = 1024 * 1024
SMALL = b"small file\n" * 100
OBJECT_OPS = (
    "GetObject",
    "HeadObject",
    "PutObject",
    "CopyObject",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
)


def share(bucket: str, **extra) -> dict:
    return {"path": "/", "bucket": bucket, **extra}


def small_parts(bucket: str, **extra) -> dict:
    """A config whose uploads go multipart above 5 MiB (S3's smallest part)."""
    return {
        "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"},
        "shares": [share(bucket, **extra)],
    }


def fill(gw, big: bytes) -> None:
    """A small file, a multipart file and a folder of both, then COPY and MOVE of the folder."""
    assert gw.request("PUT", "/small.txt", data=SMALL).status_code == 201
    assert gw.request("PUT", "/big.bin", data=big).status_code == 201
    assert gw.request("MKCOL", "/dir").status_code == 201
    assert gw.request("PUT", "/dir/a.txt", data=SMALL).status_code == 201
    assert gw.request("PUT", "/dir/b.bin", data=big).status_code == 201
    gw.settle()
    dest = {"Destination": gw.url + "/copied/"}
    assert gw.request("COPY", "/dir/", headers=dest).status_code == 201
    dest = {"Destination": gw.url + "/moved/"}
    assert gw.request("MOVE", "/copied/", headers=dest).status_code == 201
    gw.settle()


CHECKSUMS = (
    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    b"<d:prop><oc:checksums/></d:prop></d:propfind>"
)
FILES = ("small.txt", "big.bin", "dir/a.txt", "dir/b.bin", "moved/a.txt", "moved/b.bin")


def test_storage_class_survives_put_multipart_copy_and_move(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="ir.txt", Body=b"ir", StorageClass="GLACIER_IR")
    gw = make_gateway(bucket, config=small_parts(bucket, storage_class="STANDARD_IA"))
    big = os.urandom(6 * MIB + 5)
    fill(gw, big)
    for key in FILES:
        assert s3.head_object(Bucket=bucket, Key=key).get("StorageClass") == "STANDARD_IA", key
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="dir/")  # a marker: STANDARD
    assert gw.request("GET", "/moved/b.bin").content == big
    # An object of another class keeps it through a COPY (S3 alone would make it STANDARD).
    dest = {"Destination": gw.url + "/ir-copy.txt"}
    assert gw.request("COPY", "/ir.txt", headers=dest).status_code == 201
    assert s3.head_object(Bucket=bucket, Key="ir-copy.txt")["StorageClass"] == "GLACIER_IR"


def test_sse_kms_survives_put_multipart_copy_and_move(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="outside.txt", Body=b"o", ServerSideEncryption="aws:kms")
    cfg = small_parts(bucket, sse="aws:kms", sse_kms_key_id="alias/s3dav-test")
    gw = make_gateway(bucket, config=cfg)
    big = os.urandom(6 * MIB + 5)
    fill(gw, big)
    # Under SSE-KMS an ETag is no MD5 (on AWS): only the MD5 of an own upload is shown.
    sums = propfind(gw, "/", body=CHECKSUMS).text
    assert f"MD5:{hashlib.md5(SMALL).hexdigest()}" in sums
    assert hashlib.md5(b"o").hexdigest() not in sums
    for key in FILES:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms", key
        assert "s3dav-test" in head.get("SSEKMSKeyId", ""), key
    assert gw.request("GET", "/moved/a.txt").content == SMALL
    r = gw.request("GET", "/dir/b.bin", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == big[100:200]


def test_sse_s3_is_asked_for(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config=small_parts(bucket, sse="AES256"))
    fill(gw, os.urandom(6 * MIB))
    for key in FILES:
        assert s3.head_object(Bucket=bucket, Key=key).get("ServerSideEncryption") == "AES256"


def test_sse_c_key_goes_with_every_object_request(make_gateway, bucket, proxy):
    key = os.urandom(32)
    key_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    cfg = patient_config(proxy, bucket)
    cfg["shares"] = [share(bucket, sse_c_key_env="S3DAV_TEST_SSE_C")]
    gw = make_gateway(bucket, config=cfg, env={"S3DAV_TEST_SSE_C": base64.b64encode(key).decode()})
    tap = Wiretap(proxy)
    proxy.fail_status = 400  # S3's answer to a read of an SSE-C object without its key

    def without_key(seen) -> bool:
        h = seen.headers
        wrong = h.get("x-amz-server-side-encryption-customer-key-md5") != key_md5
        if seen.operation in ("CopyObject", "UploadPartCopy"):
            wrong |= h.get("x-amz-copy-source-server-side-encryption-customer-key-md5") != key_md5
        return seen.operation in OBJECT_OPS and wrong

    proxy.fail_when = without_key
    big = os.urandom(6 * MIB + 5)
    fill(gw, big)
    assert gw.request("GET", "/moved/b.bin").content == big
    r = gw.request("GET", "/moved/b.bin", headers={"Range": "bytes=5000000-5000099"})
    assert r.status_code == 206 and r.content == big[5000000:5000100]
    assert gw.request("GET", "/small.txt").content == SMALL
    assert propfind(gw, "/moved/").status_code == 207
    assert gw.request("PROPPATCH", "/small.txt", data=MTIME_BODY).status_code == 207  # self-copy
    assert proxy.faults["rule"] == 0, [op for op, kind in proxy.log if kind == "rule"]
    seen = {s.operation for s in tap.seen}
    assert {"GetObject", "PutObject", "CopyObject", "UploadPart", "HeadObject"} <= seen
    for s in tap.seen:
        if s.operation in OBJECT_OPS:
            assert s.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert "S3DAV_TEST_SSE_C" not in gw.log() and base64.b64encode(key).decode() not in gw.log()


MTIME_BODY = (
    b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
    b"<d:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</d:getlastmodified>"
    b"</d:prop></d:set></d:propertyupdate>"
)


def test_sse_c_reads_come_from_the_content_cache_too(make_gateway, bucket, proxy):
    key = base64.b64encode(os.urandom(32)).decode()
    cfg = patient_config(proxy, bucket)
    cfg["shares"] = [share(bucket, sse_c_key_env="S3DAV_TEST_SSE_C")]
    gw = make_gateway(bucket, config=cfg, env={"S3DAV_TEST_SSE_C": key})
    body = os.urandom(100_000)
    assert gw.request("PUT", "/f.bin", data=body).status_code == 201
    gw.settle()
    before = gw.s3_counts()
    assert gw.request("GET", "/f.bin").content == body
    assert gw.request("GET", "/f.bin").content == body
    assert gw.s3_delta(before).get("GET", 0) == 0  # the upload's copy is in the cache


def test_bad_sse_c_key_stops_the_start_with_a_clear_error(tmp_path, bucket):
    import subprocess
    import sys

    import yaml

    from tests.support.helpers import TEST_ENV

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"shares": [share(bucket, sse_c_key_env="S3DAV_TEST_KEY")]}))
    for value in (None, "not base64!", base64.b64encode(b"short").decode()):
        env = {**os.environ, **TEST_ENV}
        env.pop("S3DAV_TEST_KEY", None)
        if value is not None:
            env["S3DAV_TEST_KEY"] = value
        r = subprocess.run(
            [sys.executable, "-m", "s3dav", "serve", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode != 0
        assert "shares[0].sse_c_key_env" in r.stderr and "Traceback" not in r.stderr, r.stderr
        if value:
            assert value not in r.stderr


def test_write_back_uploads_carry_class_and_encryption(make_gateway, bucket, s3):
    cfg = small_parts(bucket, storage_class="ONEZONE_IA", sse="AES256")
    cfg["cache"] = {"write_back": True, "write_back_delay": 0}
    gw = make_gateway(bucket, config=cfg)
    big = os.urandom(6 * MIB + 1)
    assert gw.request("PUT", "/wb-small.txt", data=SMALL).status_code == 201
    assert gw.request("PUT", "/wb-big.bin", data=big).status_code == 201
    assert wait_until(lambda: pending(gw) == 0, 60)
    for key in ("wb-small.txt", "wb-big.bin"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head.get("StorageClass") == "ONEZONE_IA", key
        assert head.get("ServerSideEncryption") == "AES256", key
    assert s3.get_object(Bucket=bucket, Key="wb-big.bin")["Body"].read() == big
