"""Replays of the request sequences of clients this machine cannot run: Finder and Explorer.

macOS Finder (WebDAVFS) and the Windows mini-redirector are documented to create a
file as PUT 0 bytes -> LOCK -> PUT content -> (PROPPATCH) -> UNLOCK. Each step is
sent here as those clients send it, and the S3 cost is read from /metrics.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from tests.support.finder import FINDER_PROPS, FINDER_UA
from tests.support.helpers import propfind

WINDOWS_UA = "Microsoft-WebDAV-MiniRedir/10.0.19043"
WRITE_KINDS = ("PUT", "COPY", "DELETE", "MULTIPART", "PART")

LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype>"
    b"<D:owner><D:href>http://www.apple.com/webdav_fs/</D:href></D:owner></D:lockinfo>"
)

QUOTA_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"
)


def writes(delta: dict[str, int]) -> int:
    return sum(delta.get(k, 0) for k in WRITE_KINDS)


def lock(gw, path: str, ua: str) -> str:
    r = gw.request(
        "LOCK",
        path,
        data=LOCK_BODY,
        headers={
            "User-Agent": ua,
            "Timeout": "Second-600",
            "Depth": "0",
            "Content-Type": "text/xml; charset=utf-8",
        },
    )
    assert r.status_code == 200, r.text
    return r.headers["Lock-Token"].strip("<>")


def chunks(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_finder_new_file_costs_at_most_two_s3_writes(gw, s3, bucket):
    h = {"User-Agent": FINDER_UA}
    assert gw.request("MKCOL", "/docs", headers=h).status_code == 201
    assert propfind(gw, "/docs/", body=FINDER_PROPS, headers=h).status_code == 207
    body = b"finder content " * 5000
    before = gw.s3_counts()

    r = gw.request("PUT", "/docs/report.txt", data=b"", headers=h)
    assert r.status_code == 201
    token = lock(gw, "/docs/report.txt", FINDER_UA)
    # Finder streams the body chunked and announces its size in this header.
    r = gw.request(
        "PUT",
        "/docs/report.txt",
        data=chunks(body),
        headers={**h, "X-Expected-Entity-Length": str(len(body)), "If": f"(<{token}>)"},
    )
    assert r.status_code == 204, r.text
    assert "chunked" not in r.request.headers.get("Content-Length", "")
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    r = gw.request("UNLOCK", "/docs/report.txt", headers={**h, "Lock-Token": f"<{token}>"})
    assert r.status_code == 204

    delta = gw.s3_delta(before)
    assert writes(delta) <= 2, delta
    assert delta.get("PUT") == 2, delta
    assert s3.get_object(Bucket=bucket, Key="docs/report.txt")["Body"].read() == body
    r = gw.request("GET", "/docs/report.txt")
    assert r.content == body


def test_finder_probes_after_a_listing_cost_no_s3_request(gw):
    h = {"User-Agent": FINDER_UA}
    gw.request("MKCOL", "/photos")
    gw.request("PUT", "/photos/a.jpg", data=b"jpeg")
    r = propfind(gw, "/photos/", body=FINDER_PROPS, headers=h)
    assert r.status_code == 207
    before = gw.s3_counts()
    for probe in ("/photos/._a.jpg", "/photos/.DS_Store", "/photos/._.", "/._photos"):
        assert propfind(gw, probe, depth="0", body=FINDER_PROPS, headers=h).status_code == 404
        assert gw.request("GET", probe, headers=h).status_code == 404
    assert gw.s3_delta(before) == {}


def test_finder_quota_properties(make_gateway, bucket):
    gw = make_gateway(bucket, config={"shares": [{"path": "/", "bucket": bucket, "quota": "1MiB"}]})
    gw.request("MKCOL", "/q")
    gw.request("PUT", "/q/a.bin", data=b"x" * 1000)
    gw.request("PUT", "/q/b.bin", data=b"y" * 24)
    r = propfind(gw, "/q/", depth="0", body=QUOTA_PROPS, headers={"User-Agent": FINDER_UA})
    assert r.status_code == 207
    used = re.search(r"quota-used-bytes>(\d+)<", r.text)
    avail = re.search(r"quota-available-bytes>(\d+)<", r.text)
    assert used and int(used.group(1)) == 1024, r.text
    assert avail and int(avail.group(1)) == 1024**2 - 1024, r.text


def test_finder_metadata_files_refused_when_configured(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config={"macos": {"metadata_files": "refuse"}})
    h = {"User-Agent": FINDER_UA}
    for name in ("/._notes.txt", "/.DS_Store"):
        r = gw.request("PUT", name, data=b"\0\5\26\7", headers=h)
        assert r.status_code == 403, (name, r.status_code)
    assert gw.request("PUT", "/notes.txt", data=b"ok", headers=h).status_code == 201
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["notes.txt"]


def test_finder_metadata_files_stored_by_default(gw, s3, bucket):
    r = gw.request("PUT", "/._notes.txt", data=b"\0\5\26\7", headers={"User-Agent": FINDER_UA})
    assert r.status_code == 201
    assert s3.get_object(Bucket=bucket, Key="._notes.txt")["Body"].read() == b"\0\5\26\7"


def win32_proppatch(mtime: datetime) -> bytes:
    stamp = format_datetime(mtime, usegmt=True)
    return (
        '<?xml version="1.0" encoding="utf-8" ?>'
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">'
        "<D:set><D:prop>"
        f"<Z:Win32CreationTime>{stamp}</Z:Win32CreationTime>"
        f"<Z:Win32LastAccessTime>{stamp}</Z:Win32LastAccessTime>"
        f"<Z:Win32LastModifiedTime>{stamp}</Z:Win32LastModifiedTime>"
        "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
        "</D:prop></D:set></D:propertyupdate>"
    ).encode()


def test_windows_explorer_sequence(gw, s3, bucket):
    h = {"User-Agent": WINDOWS_UA}
    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    body = b"windows file\r\n" * 1000
    assert gw.request("PUT", "/Report.docx", data=b"", headers=h).status_code == 201
    token = lock(gw, "/Report.docx", WINDOWS_UA)
    ih = {**h, "If": f"(<{token}>)"}
    assert gw.request("PUT", "/Report.docx", data=body, headers=ih).status_code == 204
    r = gw.request(
        "PROPPATCH",
        "/Report.docx",
        data=win32_proppatch(when),
        headers={**ih, "Content-Type": "text/xml; charset=utf-8"},
    )
    assert r.status_code == 207, r.text
    statuses = re.findall(r"<(?:\w+:)?status>HTTP/1.1 (\d+)", r.text)
    assert len(re.findall(r"Win32\w+", r.text)) >= 4, r.text
    assert statuses and set(statuses) == {"200"}, r.text
    r = gw.request("UNLOCK", "/Report.docx", headers={**h, "Lock-Token": f"<{token}>"})
    assert r.status_code == 204

    head = s3.head_object(Bucket=bucket, Key="Report.docx")
    assert head["Metadata"]["mtime"] == str(int(when.timestamp()))
    assert s3.get_object(Bucket=bucket, Key="Report.docx")["Body"].read() == body
    r = propfind(gw, "/Report.docx", depth="0", headers=h)
    modified = re.search(r"getlastmodified>([^<]+)<", r.text).group(1)
    assert parsedate_to_datetime(modified) == when
    created = re.search(r"creationdate>([^<]+)<", r.text).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created), created


def test_windows_folder_times_go_to_the_marker(gw, s3, bucket):
    h = {"User-Agent": WINDOWS_UA, "Content-Type": "text/xml; charset=utf-8"}
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert gw.request("MKCOL", "/New folder", headers=h).status_code == 201
    r = gw.request("PROPPATCH", "/New folder/", data=win32_proppatch(when), headers=h)
    assert r.status_code == 207
    assert set(re.findall(r"<(?:\w+:)?status>HTTP/1.1 (\d+)", r.text)) == {"200"}, r.text
    head = s3.head_object(Bucket=bucket, Key="New folder/")
    assert head["Metadata"]["mtime"] == str(int(when.timestamp()))
    assert head["Metadata"]["mode"] == "16877"


def test_finder_large_chunked_put_is_multipart_with_md5(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config={"s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"}})
    body = os.urandom(11 * 1024**2 + 5)
    h = {"User-Agent": FINDER_UA}
    assert gw.request("PUT", "/movie.mov", data=b"", headers=h).status_code == 201
    token = lock(gw, "/movie.mov", FINDER_UA)
    before = gw.s3_counts()
    r = gw.request(
        "PUT",
        "/movie.mov",
        data=chunks(body, 256 * 1024),
        headers={**h, "X-Expected-Entity-Length": str(len(body)), "If": f"(<{token}>)"},
    )
    assert r.status_code == 204, r.text
    gw.settle()  # the MD5 self-copy runs after the answer
    delta = gw.s3_delta(before)
    # 3 parts of 5 MiB, create + complete, and the MD5 self-copy; nothing else.
    assert delta == {"MULTIPART": 2, "PART": 3, "COPY": 1}, delta
    assert r.headers["ETag"].strip('"').endswith("-3")  # answered with the multipart ETag
    gw.request("UNLOCK", "/movie.mov", headers={**h, "Lock-Token": f"<{token}>"})
    obj = s3.get_object(Bucket=bucket, Key="movie.mov")
    assert obj["Body"].read() == body
    assert gw.request("HEAD", "/movie.mov").headers["ETag"] == obj["ETag"]  # then the copy's
    assert obj["Metadata"]["md5chksum"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    assert obj["Metadata"]["mode"] == "33188" and obj["Metadata"]["mtime"].isdigit()
