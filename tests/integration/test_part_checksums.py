"""Multipart parts carry a CRC32 that S3 checks (`s3.part_checksums`, upload.py).

The fault proxy in front of moto sees every request's headers, so the tests read
what really went over the wire: the checksum of each part, the algorithm named
at creation, and that a checksummed part is not also SHA-256 signed.
"""

from __future__ import annotations

import base64
import os
import zlib

import pytest

from tests.support.faultproxy import Wiretap, patient_config

MIB = 1024 * 1024
UNSIGNED = "UNSIGNED-PAYLOAD"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_parts_carry_their_crc32_and_skip_the_sha256(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    tap = Wiretap(proxy)
    body = os.urandom(11 * MIB + 3)
    assert gw.request("PUT", "/big.bin", data=body).status_code == 201
    assert gw.request("PUT", "/small.txt", data=b"tiny").status_code == 201
    gw.settle()

    (create,) = tap.of("CreateMultipartUpload")
    assert create.headers["x-amz-checksum-algorithm"] == "CRC32"
    parts = sorted(tap.of("UploadPart"), key=lambda s: int(s.query["partNumber"][0]))
    slices = [body[0 : 5 * MIB], body[5 * MIB : 10 * MIB], body[10 * MIB :]]
    assert [p.headers["x-amz-checksum-crc32"] for p in parts] == [crc32_b64(s) for s in slices]
    assert {p.headers["x-amz-content-sha256"] for p in parts} == {UNSIGNED}
    # Requests without a CRC32 keep their signed payload over plain HTTP.
    (small,) = tap.of("PutObject")
    assert small.headers["x-amz-content-sha256"] not in ("", UNSIGNED)
    assert "content-md5" in small.headers

    # The MD5 self-copy leaves a full-object CRC32 that any reader can check.
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(body)
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == body  # boto3 validates


def test_only_a_body_of_2_mib_or_more_waits_for_100_continue(make_gateway, bucket, proxy):
    """botocore asks every PutObject body to wait for "100 Continue": one more round trip
    to S3, which doubles a small file's PUT over a far link. s3dav asks it only of bodies
    of 2 MiB or more (as the AWS SDK for Go does)."""
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    tap = Wiretap(proxy)
    for name, size in (("small.txt", 4096), ("mid.bin", 3 * MIB), ("big.bin", 11 * MIB)):
        assert gw.request("PUT", f"/{name}", data=os.urandom(size)).status_code == 201
    gw.settle()
    puts = {s.bucket_key[1]: s.headers.get("expect") for s in tap.of("PutObject")}
    assert puts == {"small.txt": None, "mid.bin": "100-continue"}
    assert {p.headers.get("expect") for p in tap.of("UploadPart")} == {None}  # bytes: never asked


def is_create_with_checksum(seen) -> bool:
    return seen.operation == "CreateMultipartUpload" and "x-amz-checksum-algorithm" in seen.headers


@pytest.mark.parametrize("status", [400, 501])
def test_a_store_that_refuses_part_checksums_gets_plain_parts(
    make_gateway, bucket, s3, proxy, status
):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket))
    proxy.fail_when, proxy.fail_status = is_create_with_checksum, status
    first, second = os.urandom(6 * MIB), os.urandom(7 * MIB)
    assert gw.request("PUT", "/one.bin", data=first).status_code == 201
    proxy.fail_when = None
    tap = Wiretap(proxy)
    assert gw.request("PUT", "/two.bin", data=second).status_code == 201
    gw.settle()

    assert proxy.faults["rule"] == 1  # refused once, then never asked again
    assert "refused part checksums" in gw.log()
    (create,) = tap.of("CreateMultipartUpload")
    assert "x-amz-checksum-algorithm" not in create.headers
    for part in tap.of("UploadPart"):
        assert "x-amz-checksum-crc32" not in part.headers
        assert part.headers["x-amz-content-sha256"] != UNSIGNED  # signed again
    assert s3.get_object(Bucket=bucket, Key="one.bin")["Body"].read() == first
    assert s3.get_object(Bucket=bucket, Key="two.bin")["Body"].read() == second


def test_part_checksums_off_sends_none(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=patient_config(proxy, bucket, part_checksums=False))
    tap = Wiretap(proxy)
    body = os.urandom(6 * MIB)
    assert gw.request("PUT", "/f.bin", data=body).status_code == 201
    gw.settle()
    assert not any("x-amz-checksum-algorithm" in s.headers for s in tap.seen)
    assert not any("x-amz-checksum-crc32" in s.headers for s in tap.seen)
    assert s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read() == body
