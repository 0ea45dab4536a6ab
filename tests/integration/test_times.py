"""Modification times: only representable ones are written, any stored value is read safely.

issue 18 (must-fix 4): `lastmodified` 1e308 through PROPPATCH or `X-OC-Mtime: 1e308`
was accepted, and afterwards GET, HEAD, PROPFIND and the listing page of the file
(and of its folder, for every user) answered 500 (OverflowError). The rule is one
pure function, objmeta.representable_time: 1970-01-01 .. 9999-12-31, no NaN/inf.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest

from tests.support.helpers import propfind

BAD_TIMES = ["1e308", "nan", "inf", "-1e308"]
TIME_PROPS = ["D:getlastmodified", "D:lastmodified", "oc:lastmodified", "Z:Win32LastModifiedTime"]


def proppatch_body(tag: str, value: str) -> bytes:
    return (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
        'xmlns:oc="http://owncloud.org/ns" xmlns:Z="urn:schemas-microsoft-com:">'
        f"<D:set><D:prop><{tag}>{value}</{tag}></D:prop></D:set></D:propertyupdate>"
    ).encode()


def s3_state(s3, bucket: str, key: str) -> tuple:
    head = s3.head_object(Bucket=bucket, Key=key)
    return head["ETag"], head["LastModified"], head["Metadata"]


def getlastmodified(xml_text: str) -> float:
    return parsedate_to_datetime(
        re.search(r"getlastmodified>([^<]+)<", xml_text).group(1)
    ).timestamp()


def test_representable_range_is_one_pure_rule():
    from s3dav.store.metastore import _valid_meta
    from s3dav.store.objmeta import MAX_TIME, parse_mtime, representable_time

    assert representable_time(0) == 0.0
    assert representable_time(MAX_TIME) == MAX_TIME
    for bad in (-1, MAX_TIME + 1, float("nan"), float("inf"), float("-inf"), 10**400):
        assert representable_time(bad) is None, bad
    for text in ("1e308", "nan", "inf", "-1e308", "1e30", "abc", "-5", ""):
        assert parse_mtime(text) is None, text
    assert parse_mtime("1500000000") == 1500000000.0
    # a disk entry written by an older s3dav with an unshowable time is not used
    assert not _valid_meta({"mtime": 1e30})
    assert _valid_meta({"mtime": 1500000000.0})


@pytest.mark.parametrize("tag", TIME_PROPS)
def test_proppatch_of_unrepresentable_time_is_refused(gw, s3, bucket, tag):
    assert gw.request("PUT", "/f.txt", data=b"body", headers={"X-OC-Mtime": "1500000000"}).ok
    assert gw.request("MKCOL", "/dir", headers={"X-OC-Mtime": "1500000000"}).status_code == 201
    file_before = s3_state(s3, bucket, "f.txt")
    dir_before = s3_state(s3, bucket, "dir/")
    for value in BAD_TIMES:
        for path in ("/f.txt", "/dir/"):
            r = gw.request(
                "PROPPATCH",
                path,
                data=proppatch_body(tag, value),
                headers={"Content-Type": "text/xml", "User-Agent": "Microsoft-WebDAV-MiniRedir/10"},
            )
            # RFC 4918: the answer is a multistatus; the property's own status is 400.
            assert r.status_code == 207, (tag, value, r.text)
            statuses = re.findall(r"<(?:\w+:)?status>HTTP/1.1 (\d+)", r.text)
            assert statuses == ["400"], (tag, value, path, r.text)
            assert path.strip("/") in r.text, r.text  # the reason names the WebDAV path
    assert s3_state(s3, bucket, "f.txt") == file_before
    assert s3_state(s3, bucket, "dir/") == dir_before
    for method in ("GET", "HEAD"):
        assert gw.request(method, "/f.txt").status_code == 200
    r = propfind(gw, "/f.txt", depth="0")
    assert r.status_code == 207 and getlastmodified(r.text) == 1500000000
    assert gw.request("GET", "/").status_code == 200


@pytest.mark.parametrize("value", BAD_TIMES)
def test_x_oc_mtime_out_of_range_is_refused(gw, s3, bucket, value):
    assert gw.request("PUT", "/old.txt", data=b"old", headers={"X-OC-Mtime": "1500000000"}).ok
    before = s3_state(s3, bucket, "old.txt")
    for path in ("/old.txt", "/new.txt"):
        r = gw.request("PUT", path, data=b"new", headers={"X-OC-Mtime": value})
        assert r.status_code == 400, r.text
        assert path in r.text and "X-OC-Mtime" in r.text
    r = gw.request("MKCOL", "/newdir", headers={"X-OC-Mtime": value})
    assert r.status_code == 400
    for method in ("COPY", "MOVE"):
        r = gw.request(
            method, "/old.txt", headers={"Destination": gw.url + "/dst.txt", "X-OC-Mtime": value}
        )
        assert r.status_code == 400, (method, r.text)
    assert s3_state(s3, bucket, "old.txt") == before
    assert s3.get_object(Bucket=bucket, Key="old.txt")["Body"].read() == b"old"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["old.txt"]
    r = propfind(gw, "/", depth="1")
    assert r.status_code == 207 and "new.txt" not in r.text and "newdir" not in r.text


@pytest.mark.parametrize("stored", ["1e30", "nan", "abc", "inf", "-5", "1e308"])
def test_unusable_stored_mtime_falls_back_to_last_modified(gw, s3, bucket, stored):
    # written by another tool, straight to S3, in a folder and at the top
    for key in ("w.txt", "sub/w.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"weird", Metadata={"mtime": stored})
    s3.put_object(Bucket=bucket, Key="sub/", Body=b"", Metadata={"mtime": stored})
    last_modified = s3.head_object(Bucket=bucket, Key="sub/w.txt")["LastModified"].timestamp()
    for path in ("/w.txt", "/sub/w.txt"):
        head = s3.head_object(Bucket=bucket, Key=path[1:])
        r = gw.request("GET", path)
        assert r.status_code == 200 and r.content == b"weird"
        r = gw.request("HEAD", path)
        assert r.status_code == 200
        shown = parsedate_to_datetime(r.headers["Last-Modified"])
        assert shown == head["LastModified"].replace(microsecond=0)
    for path in ("/", "/sub/"):
        r = propfind(gw, path, depth="1")
        assert r.status_code == 207, r.text
        dates = re.findall(r"getlastmodified>([^<]+)<", r.text)
        assert dates, r.text
        for d in dates:
            assert abs(parsedate_to_datetime(d).timestamp() - last_modified) < 5, r.text
        page = gw.request("GET", path)
        assert page.status_code == 200 and "w.txt" in page.text
