"""Archived objects (GLACIER, DEEP_ARCHIVE) through the gateway (issue 16 item 2).

moto's server keeps the storage class, answers a GET of an unrestored archived
object 403 InvalidObjectState as S3 does, and completes a RestoreObject at once:
so the whole path (listed, refused with a clear 409, restored, read) runs here.
"""

from __future__ import annotations

import re

from tests.support.faultproxy import Wiretap, fault_config
from tests.support.helpers import propfind

PROPS = (
    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:s="urn:s3dav:"><d:prop>'
    b"<d:getcontentlength/><d:getlastmodified/><s:storage-class/></d:prop></d:propfind>"
)
BODY = bytes(range(256)) * 40  # 10240 bytes


def restore_body(value: str) -> bytes:
    return (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:s="urn:s3dav:">'
        f"<d:set><d:prop><s:restore>{value}</s:restore></d:prop></d:set></d:propertyupdate>"
    ).encode()


def responses(xml: str) -> dict[str, str]:
    """href -> that response's XML."""
    out = {}
    for block in re.findall(r"<(?:\w+:)?response\b.*?</(?:\w+:)?response>", xml, re.S):
        href = re.search(r"<(?:\w+:)?href>([^<]*)<", block).group(1)
        out[href] = block
    return out


def prop(block: str, name: str) -> str | None:
    m = re.search(rf"<(?:\w+:)?{name}\b[^>]*>([^<]*)</", block)
    return m.group(1) if m else None


def archived_bucket(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cold/frozen.bin", Body=BODY, StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="cold/deep.bin", Body=b"deep", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="cold/warm.txt", Body=b"warm")


def test_archived_files_are_listed_with_their_class_from_one_list(make_gateway, bucket, s3):
    archived_bucket(s3, bucket)
    gw = make_gateway(bucket, config={"cache": {"head_unseen": False}})
    before = gw.s3_counts()
    r = propfind(gw, "/cold/", body=PROPS)
    assert r.status_code == 207
    assert gw.s3_delta(before) == {"LIST": 1}  # no HEAD for the class: the listing has it
    got = responses(r.text)
    assert prop(got["/cold/frozen.bin"], "storage-class") == "GLACIER"
    assert prop(got["/cold/frozen.bin"], "getcontentlength") == str(len(BODY))
    assert prop(got["/cold/frozen.bin"], "getlastmodified")
    assert prop(got["/cold/deep.bin"], "storage-class") == "DEEP_ARCHIVE"
    assert prop(got["/cold/warm.txt"], "storage-class") == "STANDARD"
    # allprop names the class only where it is not STANDARD
    every = responses(propfind(gw, "/cold/").text)
    assert prop(every["/cold/frozen.bin"], "storage-class") == "GLACIER"
    assert "storage-class" not in every["/cold/warm.txt"]


def test_get_of_archived_file_is_409_naming_class_and_restore(make_gateway, bucket, s3):
    archived_bucket(s3, bucket)
    gw = make_gateway(bucket)
    for headers in ({}, {"Range": "bytes=10-19"}):
        r = gw.request("GET", "/cold/frozen.bin", headers=headers)
        assert r.status_code == 409, (headers, r.status_code, r.text)
        assert "GLACIER" in r.text and "s3dav:restore" in r.text
    r = gw.request("GET", "/cold/deep.bin")
    assert r.status_code == 409 and "DEEP_ARCHIVE" in r.text
    assert gw.request("HEAD", "/cold/frozen.bin").status_code == 200  # HEAD reads no bytes
    assert gw.request("GET", "/cold/warm.txt").content == b"warm"
    assert "Traceback" not in gw.log()


def test_restore_by_proppatch_then_the_file_reads(make_gateway, bucket, s3):
    archived_bucket(s3, bucket)
    gw = make_gateway(bucket)
    assert gw.request("GET", "/cold/frozen.bin").status_code == 409
    before = gw.s3_counts()
    r = gw.request("PROPPATCH", "/cold/frozen.bin", data=restore_body("2 Bulk"))
    assert r.status_code == 207 and "200 OK" in r.text, r.text
    assert gw.s3_delta(before) == {"OTHER": 1}  # one RestoreObject
    assert (
        'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="cold/frozen.bin")["Restore"]
    )
    assert gw.request("GET", "/cold/frozen.bin").content == BODY
    r = gw.request("GET", "/cold/frozen.bin", headers={"Range": "bytes=300-309"})
    assert r.status_code == 206 and r.content == BODY[300:310]
    # the class does not change with a restore
    got = responses(propfind(gw, "/cold/", body=PROPS).text)
    assert prop(got["/cold/frozen.bin"], "storage-class") == "GLACIER"


def test_restore_refusals_are_clear(make_gateway, bucket, s3):
    archived_bucket(s3, bucket)
    gw = make_gateway(bucket)
    before = gw.s3_counts()
    for path, value, status in (
        ("/cold/warm.txt", "1", "409"),  # STANDARD: nothing to restore
        ("/cold/frozen.bin", "soon", "400"),
        ("/cold/frozen.bin", "1 Fastest", "400"),
        ("/cold/frozen.bin", "0", "400"),
    ):
        r = gw.request("PROPPATCH", path, data=restore_body(value))
        assert r.status_code == 207, r.text
        assert f"HTTP/1.1 {status}" in r.text, (path, value, r.text)
    assert gw.s3_delta(before).get("OTHER", 0) == 0  # refused before any RestoreObject
    assert gw.request("GET", "/cold/frozen.bin").status_code == 409


def test_store_refusing_restore_status_is_asked_once(make_gateway, bucket, s3, proxy):
    """A store that refuses OptionalObjectAttributes costs one failed LIST, then never again."""
    archived_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="other/x.txt", Body=b"x")
    gw = make_gateway(bucket, config=fault_config(proxy, bucket))
    tap = Wiretap(proxy)
    proxy.fail_status = 400
    proxy.fail_when = lambda seen: "x-amz-optional-object-attributes" in seen.headers
    for path in ("/cold/", "/other/", "/"):
        assert propfind(gw, path, body=PROPS).status_code == 207
    assert proxy.faults["rule"] == 1
    lists = [s for s in tap.seen if s.operation == "ListObjects"]
    assert all("x-amz-optional-object-attributes" not in s.headers for s in lists)
    got = responses(propfind(gw, "/cold/", body=PROPS).text)
    assert prop(got["/cold/frozen.bin"], "storage-class") == "GLACIER"


def test_restore_status_is_asked_for_in_listings(make_gateway, bucket, s3, proxy):
    archived_bucket(s3, bucket)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket))
    tap = Wiretap(proxy)
    assert propfind(gw, "/cold/", body=PROPS).status_code == 207
    (listed,) = [s for s in tap.seen if s.operation == "ListObjects"]
    assert listed.headers["x-amz-optional-object-attributes"] == "RestoreStatus"
