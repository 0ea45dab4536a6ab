"""S3 refuses to delete some keys of a batch (a bucket policy, Object Lock): what the
gateway then shows is what S3 holds (docs/SEMANTICS.md, *Under faults*).

DeleteObjects answers 200 with an <Error> per refused key; the proxy makes it so
(support/faultproxy.py `refuse_delete`). A refused key must stay visible and be
named in the 207; the keys that did go must be shown gone at once.
"""

from __future__ import annotations

from tests.support.faultproxy import fault_config
from tests.support.helpers import hrefs, s3_bytes

FILES = {"d/a.txt": b"alpha", "d/b.txt": b"bravo", "d/sub/c.txt": b"charlie"}
LIST_BODY = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>'


def keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def listed(gw, path: str) -> set[str]:
    r = gw.request("PROPFIND", path, headers={"Depth": "1"}, data=LIST_BODY)
    assert r.status_code == 207, r.text[:300]
    return set(hrefs(r.text)) - {path}


def start(make_gateway, bucket, s3, proxy):
    for k, v in FILES.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    return make_gateway(bucket, config=fault_config(proxy, bucket))


def test_folder_delete_with_a_refused_key_keeps_showing_it_and_names_it(
    make_gateway, bucket, s3, proxy
):
    gw = start(make_gateway, bucket, s3, proxy)
    assert listed(gw, "/d/") == {"/d/a.txt", "/d/b.txt", "/d/sub/"}  # cached before
    proxy.refuse_delete = {"d/b.txt"}
    r = gw.request("DELETE", "/d/")
    assert r.status_code == 207, r.text[:500]
    assert set(hrefs(r.text)) == {"/d/b.txt"}, r.text
    assert proxy.faults["refused delete"] == 1
    assert keys(s3, bucket) == {"d/b.txt"}
    # The refused file is still there, and shown; the others are gone, and not shown.
    assert gw.request("GET", "/d/b.txt").content == b"bravo"
    assert listed(gw, "/d/") == {"/d/b.txt"}
    assert gw.request("GET", "/d/a.txt").status_code == 404
    assert gw.request("GET", "/d/sub/c.txt").status_code == 404


def test_folder_copy_over_a_folder_whose_old_member_is_refused_names_it(
    make_gateway, bucket, s3, proxy
):
    gw = start(make_gateway, bucket, s3, proxy)
    s3.put_object(Bucket=bucket, Key="e/old.txt", Body=b"old")
    assert listed(gw, "/e/") == {"/e/old.txt"}
    proxy.refuse_delete = {"e/old.txt"}
    r = gw.request("COPY", "/d/", headers={"Destination": gw.url + "/e/"})
    # The destination is not what the source is: the member that stayed is named.
    assert r.status_code == 207, r.text[:500]
    assert set(hrefs(r.text)) == {"/e/old.txt"}, r.text
    assert s3_bytes(s3, bucket, "e/old.txt") == b"old"
    assert gw.request("GET", "/e/old.txt").content == b"old"
    assert listed(gw, "/e/") == {"/e/a.txt", "/e/b.txt", "/e/sub/", "/e/old.txt"}
    for k, v in FILES.items():
        assert s3_bytes(s3, bucket, "e/" + k[2:]) == v


def test_folder_move_with_a_refused_source_shows_the_moved_ones_gone(
    make_gateway, bucket, s3, proxy
):
    gw = start(make_gateway, bucket, s3, proxy)
    assert listed(gw, "/d/") == {"/d/a.txt", "/d/b.txt", "/d/sub/"}
    proxy.refuse_delete = {"d/b.txt"}
    r = gw.request("MOVE", "/d/", headers={"Destination": gw.url + "/e/"})
    assert r.status_code == 207, r.text[:500]
    assert set(hrefs(r.text)) == {"/d/b.txt"}, r.text
    assert keys(s3, bucket) == {"d/b.txt"} | {"e/" + k[2:] for k in FILES}
    assert listed(gw, "/d/") == {"/d/b.txt"}
    assert gw.request("GET", "/d/a.txt").status_code == 404
    assert gw.request("GET", "/d/b.txt").content == b"bravo"
    assert gw.request("GET", "/e/b.txt").content == b"bravo"
