"""Folders written straight to S3 in every convention, as PROPFIND shows them."""

from tests.support.helpers import hrefs, propfind


def test_every_folder_convention_is_a_collection(gw, s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="s3fs/",
        Body=b"",
        ContentType="application/x-directory",
        Metadata={"mode": "493", "mtime": "1600000000"},
    )
    s3.put_object(Bucket=bucket, Key="console/", Body=b"")
    s3.put_object(Bucket=bucket, Key="hadoop_$folder$", Body=b"")
    s3.put_object(Bucket=bucket, Key="implicit/deep/file.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="clash", Body=b"file")
    s3.put_object(Bucket=bucket, Key="clash/inner.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="plain.txt", Body=b"p")
    r = propfind(gw, "/", "1")
    assert sorted(hrefs(r.text)) == [
        "/",
        "/clash (file)",  # the file beside the folder of its name (docs/SEMANTICS.md)
        "/clash/",
        "/console/",
        "/hadoop/",
        "/implicit/",
        "/plain.txt",
        "/s3fs/",
    ]
    for d in ["/s3fs/", "/console/", "/hadoop/", "/implicit/", "/clash/"]:
        r = propfind(gw, d, "0")
        assert r.status_code == 207 and "collection" in r.text, d
    assert hrefs(propfind(gw, "/implicit/", "1").text) == ["/implicit/", "/implicit/deep/"]
    assert gw.request("GET", "/clash/inner.txt").content == b"x"


def test_markers_are_never_files(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="m/", Body=b"")
    s3.put_object(Bucket=bucket, Key="m/f.txt", Body=b"x")
    assert sorted(hrefs(propfind(gw, "/m/", "1").text)) == ["/m/", "/m/f.txt"]


def test_last_member_keeps_implicit_folder(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="only/one.txt", Body=b"x")
    assert gw.request("DELETE", "/only/one.txt").status_code == 204
    r = propfind(gw, "/only/", "0")
    assert r.status_code == 207
    assert s3.head_object(Bucket=bucket, Key="only/")["ContentType"] == "application/x-directory"


def test_moving_last_member_out_keeps_folder(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src/one.txt", Body=b"x")
    r = gw.request("MOVE", "/src/one.txt", headers={"Destination": gw.url + "/one.txt"})
    assert r.status_code == 201
    assert propfind(gw, "/src/", "0").status_code == 207


def test_delete_removes_every_marker_form(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="h_$folder$", Body=b"")
    s3.put_object(Bucket=bucket, Key="h/", Body=b"")
    s3.put_object(Bucket=bucket, Key="h/x", Body=b"x")
    assert gw.request("DELETE", "/h/").status_code == 204
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_s3fs_mtime_is_shown(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"x", Metadata={"mtime": "1000000000"})
    r = propfind(gw, "/old.txt", "0")
    assert "Sun, 09 Sep 2001 01:46:40 GMT" in r.text
