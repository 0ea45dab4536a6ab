"""One integration test per WebDAV method, against a real gateway and moto."""

import hashlib
import os

from tests.support.helpers import hrefs, propfind


def test_options_advertises_class_1_and_2(gw):
    r = gw.request("OPTIONS", "/")
    assert r.status_code == 200
    assert {"1", "2"} <= {p.strip() for p in r.headers["DAV"].split(",")}


def test_put_get_head_and_etag_is_s3s(gw, s3, bucket):
    body = os.urandom(3000)
    r = gw.request("PUT", "/a.bin", data=body)
    assert r.status_code == 201
    obj = s3.head_object(Bucket=bucket, Key="a.bin")
    assert r.headers["ETag"].strip('"') == obj["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    assert obj["Metadata"]["mode"] == "33188" and "mtime" in obj["Metadata"]
    r = gw.request("GET", "/a.bin")
    assert r.status_code == 200 and r.content == body
    r = gw.request("HEAD", "/a.bin")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == 3000
    r = gw.request("PUT", "/a.bin", data=b"second")
    assert r.status_code == 204
    assert gw.request("GET", "/a.bin").content == b"second"


def test_range_reads(gw):
    body = bytes(range(256)) * 64
    gw.request("PUT", "/r.bin", data=body)
    r = gw.request("GET", "/r.bin", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == body[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    r = gw.request("GET", "/r.bin", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == body[-10:]
    r = gw.request("GET", "/r.bin", headers={"Range": "bytes=16000-"})
    assert r.content == body[16000:]


def test_put_without_parent_is_409_and_writes_nothing(gw, s3, bucket):
    r = gw.request("PUT", "/nope/a.txt", data=b"x")
    assert r.status_code == 409
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_new_file_is_not_first_written_empty(gw, s3, bucket):
    before = gw.s3_counts()
    gw.request("PUT", "/one.txt", data=b"hello")
    delta = gw.s3_delta(before)
    assert delta.get("PUT") == 1, delta
    assert s3.get_object(Bucket=bucket, Key="one.txt")["Body"].read() == b"hello"


def test_mkcol_writes_s3fs_compatible_marker(gw, s3, bucket):
    assert gw.request("MKCOL", "/d").status_code == 201
    obj = s3.head_object(Bucket=bucket, Key="d/")
    assert obj["ContentType"] == "application/x-directory"
    assert obj["Metadata"]["mode"] == "16877"
    assert int(obj["Metadata"]["mtime"]) > 0
    assert gw.request("MKCOL", "/d").status_code == 405
    assert gw.request("MKCOL", "/x/y").status_code == 409
    gw.request("PUT", "/f", data=b"1")
    assert gw.request("MKCOL", "/f").status_code == 405


def test_propfind_depths(gw):
    gw.request("MKCOL", "/p")
    gw.request("PUT", "/p/a.txt", data=b"aa")
    gw.request("MKCOL", "/p/sub")
    r = propfind(gw, "/p/", "0")
    assert r.status_code == 207 and hrefs(r.text) == ["/p/"]
    r = propfind(gw, "/p/", "1")
    assert sorted(hrefs(r.text)) == ["/p/", "/p/a.txt", "/p/sub/"]
    r = propfind(gw, "/p/", "infinity")
    assert r.status_code == 403 and "propfind-finite-depth" in r.text
    r = propfind(gw, "/p/a.txt", "infinity")  # a file: infinity means 0
    assert r.status_code == 207


def test_depth1_propfind_costs_list_pages_only(gw, s3, bucket):
    gw.request("MKCOL", "/many")
    for i in range(30):
        s3.put_object(Bucket=bucket, Key=f"many/f{i:02d}", Body=b"x")
    # Objects written by us are known; HEADs only go to objects s3dav never saw.
    for i in range(5):
        gw.request("PUT", f"/many/own{i}", data=b"y")
    before = gw.s3_counts()
    r = propfind(gw, "/many/", "1")
    assert len(hrefs(r.text)) == 36
    delta = gw.s3_delta(before)
    assert delta.get("LIST", 0) <= 2
    assert delta.get("HEAD", 0) <= 30  # never one for own objects
    before = gw.s3_counts()
    propfind(gw, "/many/", "1")
    assert gw.s3_delta(before) == {}


def test_delete_file_and_collection(gw, s3, bucket):
    gw.request("MKCOL", "/t")
    for i in range(5):
        gw.request("PUT", f"/t/{i}", data=b"x")
    gw.request("MKCOL", "/t/deep")
    gw.request("PUT", "/t/deep/z", data=b"z")
    assert gw.request("DELETE", "/t/0").status_code == 204
    assert gw.request("GET", "/t/0").status_code == 404
    assert gw.request("DELETE", "/t").status_code == 204
    assert s3.list_objects_v2(Bucket=bucket, Prefix="t").get("KeyCount", 0) == 0
    assert gw.request("DELETE", "/t").status_code == 404


def test_copy_and_move_files(gw, s3, bucket):
    gw.request("PUT", "/src.txt", data=b"payload")
    r = gw.request("COPY", "/src.txt", headers={"Destination": gw.url + "/copy.txt"})
    assert r.status_code == 201
    r = gw.request(
        "COPY", "/src.txt", headers={"Destination": gw.url + "/copy.txt", "Overwrite": "F"}
    )
    assert r.status_code == 412
    r = gw.request("MOVE", "/copy.txt", headers={"Destination": gw.url + "/moved.txt"})
    assert r.status_code == 201
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"src.txt", "moved.txt"}
    assert gw.request("GET", "/moved.txt").content == b"payload"
    r = gw.request("MOVE", "/src.txt", headers={"Destination": gw.url + "/moved.txt"})
    assert r.status_code == 204
    assert gw.request("GET", "/src.txt").status_code == 404


def test_copy_and_move_collections_server_side(gw, s3, bucket):
    gw.request("MKCOL", "/c")
    gw.request("MKCOL", "/c/in")
    for i in range(10):
        gw.request("PUT", f"/c/in/{i}.txt", data=str(i).encode())
    before = gw.s3_counts()
    r = gw.request("COPY", "/c/", headers={"Destination": gw.url + "/c2/"})
    assert r.status_code == 201
    delta = gw.s3_delta(before)
    assert delta.get("GET", 0) == 0 and delta.get("PUT", 0) == 0  # server-side copies only
    assert delta["COPY"] == 12  # 10 files + 2 markers
    r = gw.request("MOVE", "/c2/", headers={"Destination": gw.url + "/c3/"})
    assert r.status_code == 201
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert [k for k in keys if k.startswith("c2")] == []
    assert len([k for k in keys if k.startswith("c3/")]) == 12
    assert gw.request("GET", "/c3/in/7.txt").content == b"7"


def test_lock_unlock(gw):
    gw.request("PUT", "/l.txt", data=b"x")
    body = (
        b'<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope>'
        b"<locktype><write/></locktype><owner>me</owner></lockinfo>"
    )
    r = gw.request("LOCK", "/l.txt", data=body, headers={"Timeout": "Second-60"})
    assert r.status_code == 200
    token = r.headers["Lock-Token"]
    assert gw.request("PUT", "/l.txt", data=b"y").status_code == 423
    assert gw.request("PUT", "/l.txt", data=b"y", headers={"If": f"({token})"}).status_code == 204
    assert gw.request("UNLOCK", "/l.txt", headers={"Lock-Token": token}).status_code == 204
    assert gw.request("PUT", "/l.txt", data=b"z").status_code == 204


def test_dead_properties_survive_restart(gw):
    gw.request("PUT", "/p.txt", data=b"x")
    body = (
        b'<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:z="urn:z"><set><prop>'
        b"<z:colour>blue</z:colour></prop></set></propertyupdate>"
    )
    assert gw.request("PROPPATCH", "/p.txt", data=body).status_code == 207
    gw.restart()
    q = (
        b'<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:z="urn:z"><prop><z:colour/>'
        b"</prop></propfind>"
    )
    r = propfind(gw, "/p.txt", "0", body=q)
    assert "blue" in r.text


def test_unicode_names_are_nfc(gw, s3, bucket):
    nfd = "cafe\u0301.txt"
    r = gw.request("PUT", "/" + nfd, data=b"x")
    assert r.status_code == 201
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["caf\u00e9.txt"]
    assert gw.request("GET", "/caf\u00e9.txt").content == b"x"
    r = gw.request("PUT", "/" + nfd, data=b"y")
    assert r.status_code == 204  # the same file, not a second one


def raw_request(gw, method: str, target: str, headers: dict | None = None) -> int:
    """Send the request target exactly as written (no client-side normalisation)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    conn.putrequest(method, target, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def test_bad_paths_get_400_and_no_s3_request(gw):
    before = gw.s3_counts()
    for path in [
        "/a/%2e%2e/b",
        "/a/../b",
        "/%2E%2e/x",
        "/a%00b",
        "/x/%01",
        "/a//b",
        "/a%2f..%2fb",
        "/a%5c..%5cb",
        "/%c0%ae%c0%ae/x",
        "/bad%zz",
        "/%ff",
    ]:
        assert raw_request(gw, "GET", path) == 400, path
    dest = {"Destination": gw.url + "/a/%2e%2e/b"}
    assert raw_request(gw, "COPY", "/x", dest) == 400
    r = gw.request("PUT", "/" + "k" * 1100, data=b"x")
    assert r.status_code in (400, 414)
    assert gw.s3_delta(before) == {}


def test_large_copy_uses_upload_part_copy(make_gateway, s3, bucket):
    gw = make_gateway(bucket, config={"s3": {"copy_threshold": "5MiB", "part_size": "5MiB"}})
    body = os.urandom(12 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=body, Metadata={"mtime": "1600000000"})
    before = gw.s3_counts()
    r = gw.request("COPY", "/big.bin", headers={"Destination": gw.url + "/big2.bin"})
    assert r.status_code == 201
    delta = gw.s3_delta(before)
    assert delta.get("COPY") == 3 and delta.get("GET", 0) == 0, delta  # 3 UploadPartCopy parts
    got = s3.get_object(Bucket=bucket, Key="big2.bin")
    assert got["Body"].read() == body
    assert got["Metadata"]["mtime"] == "1600000000"
