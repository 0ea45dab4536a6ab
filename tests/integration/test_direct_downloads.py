"""Direct downloads (issue 17, item 3): `downloads: redirect` sends big files' bytes from S3.

GET of a file of at least `redirect_threshold` answers 302 to a presigned S3
URL: the gateway sends no body byte (its access log and /metrics say 0) and
reads none from S3 (no GetObject of its own), while curl, rclone and Chromium
all get the right bytes, Range included. HEAD, small files and `proxy` shares
are served as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.support.browser import launch_chromium
from tests.support.security_setup import HASHES, PASSWORDS

ANN = ("ann", PASSWORDS["ann"])
SIZE = 3 * 1024 * 1024 + 17
BIG = os.urandom(SIZE)


@pytest.fixture
def direct(s3, moto, make_gateway, bucket):
    s3.put_object(Bucket=bucket, Key="fast/big.bin", Body=BIG)
    s3.put_object(Bucket=bucket, Key="fast/small.txt", Body=b"small")
    s3.put_object(Bucket=bucket, Key="fast/page.html", Body=BIG, ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="slow/big.bin", Body=BIG)
    config = {
        "s3": {"endpoint_url": moto.url, "addressing_style": "path"},
        "users": {"ann": {"password_hash": HASHES["ann"]}},
        "share_links": {"key": "test-share-link-key-0123456789"},
        "shares": [
            {
                "path": "/fast",
                "bucket": bucket,
                "prefix": "fast/",
                "users": ["ann"],
                "downloads": "redirect",
                "redirect_threshold": "1MiB",
                "redirect_expiry": "2m",
            },
            {"path": "/slow", "bucket": bucket, "prefix": "slow/", "users": ["ann"]},
        ],
        "logging": {"format": "json"},
    }
    return make_gateway(config=config), bucket


def bytes_down(gw) -> float:
    text = requests.get(gw.url + "/metrics", timeout=10).text
    return float(re.search(r"^s3dav_bytes_down_total (\S+)$", text, re.M).group(1))


def get_objects(gw) -> int:
    text = requests.get(gw.url + "/metrics", timeout=10).text
    found = re.findall(
        r'^s3dav_s3_requests_total\{kind="\w+",operation="GetObject"\} (\S+)$', text, re.M
    )
    return int(sum(float(v) for v in found))


def access_bytes(gw, path: str, count: int) -> list[int]:
    """The body `bytes` of the access-log lines of GET `path` (JSON log), once `count` are
    there (each line is written just after its answer)."""
    deadline = time.monotonic() + 10
    while True:
        docs = [json.loads(ln) for ln in gw.log().splitlines() if ln.startswith("{")]
        found = [
            d["bytes"]
            for d in docs
            if "s3dav.access" in d.get("logger", "")
            and d.get("path") == path
            and d.get("method") == "GET"
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_big_file_redirects_and_costs_the_gateway_no_body_bytes(direct):
    gw, bucket = direct
    down, reads = bytes_down(gw), get_objects(gw)
    first = gw.request("GET", "/fast/big.bin", auth=ANN, allow_redirects=False)
    assert first.status_code == 302 and first.content == b""
    location = first.headers["Location"]
    assert location.startswith(gw.config["s3"]["endpoint_url"] + f"/{bucket}/fast/big.bin?")
    assert "X-Amz-Signature" in location and parse_qs(urlsplit(location).query)[
        "X-Amz-Expires"
    ] == ["120"]
    whole = requests.get(location, timeout=60)
    assert whole.status_code == 200 and whole.content == BIG
    part = requests.get(location, headers={"Range": "bytes=1000-1999"}, timeout=60)
    assert part.status_code == 206 and part.content == BIG[1000:2000]
    # requests follows the 302 and drops the login on the way to another host:port
    followed = gw.request("GET", "/fast/big.bin", auth=ANN, headers={"Range": "bytes=-10"})
    assert followed.status_code == 206 and followed.content == BIG[-10:]
    assert bytes_down(gw) - down == 0
    assert get_objects(gw) - reads == 0
    assert access_bytes(gw, "/fast/big.bin", 2) == [0, 0]


def test_proxy_share_and_small_files_and_head_are_served_as_before(direct):
    gw, _ = direct
    down = bytes_down(gw)
    slow = gw.request("GET", "/slow/big.bin", auth=ANN, allow_redirects=False)
    assert slow.status_code == 200 and slow.content == BIG
    assert bytes_down(gw) - down == SIZE
    assert access_bytes(gw, "/slow/big.bin", 1) == [SIZE]
    small = gw.request("GET", "/fast/small.txt", auth=ANN, allow_redirects=False)
    assert small.status_code == 200 and small.content == b"small"
    head = gw.request("HEAD", "/fast/big.bin", auth=ANN, allow_redirects=False)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(SIZE)
    assert gw.request("GET", "/fast/big.bin", allow_redirects=False).status_code == 401


def test_active_content_is_redirected_as_an_attachment(direct):
    gw, _ = direct
    got = gw.request("GET", "/fast/page.html", auth=ANN, allow_redirects=False)
    assert got.status_code == 302
    query = parse_qs(urlsplit(got.headers["Location"]).query)
    assert query["response-content-disposition"][0].startswith("attachment;")
    # (moto ignores response-content-disposition; S3, MinIO and Ceph send it)


def test_curl_follows_the_redirect_with_range(direct, tmp_path):
    gw, _ = direct
    out = tmp_path / "big.bin"
    user = f"ann:{ANN[1]}"
    run = subprocess.run(
        ["curl", "-sS", "-L", "-u", user, "-o", str(out), "-w", "%{http_code} %{num_redirects}"]
        + [gw.url + "/fast/big.bin"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout == "200 1", run.stderr
    assert out.read_bytes() == BIG
    part = subprocess.run(
        ["curl", "-sS", "-L", "-u", user, "-r", "5-14", gw.url + "/fast/big.bin"],
        capture_output=True,
        timeout=120,
    )
    assert part.stdout == BIG[5:15]
    assert access_bytes(gw, "/fast/big.bin", 2) == [0, 0]


def test_rclone_downloads_through_the_redirect(direct, tmp_path):
    gw, _ = direct
    obscured = subprocess.run(
        ["rclone", "obscure", ANN[1]], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    flags = ["--webdav-url", gw.url + "/fast", "--webdav-vendor", "other"]
    flags += ["--webdav-user", "ann", "--webdav-pass", obscured]
    run = subprocess.run(
        ["rclone", "copyto", ":webdav:big.bin", str(tmp_path / "big.bin"), "-q", *flags],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert (
        hashlib.sha256((tmp_path / "big.bin").read_bytes()).digest() == hashlib.sha256(BIG).digest()
    )
    assert access_bytes(gw, "/fast/big.bin", 1) == [0]


def test_chromium_downloads_through_the_redirect(direct):
    gw, _ = direct
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(
                http_credentials={"username": "ann", "password": ANN[1]}, accept_downloads=True
            )
            page = context.new_page()
            page.goto(gw.url + "/fast/")
            with page.expect_download() as got:
                page.click("a.download >> nth=0")  # big.bin sorts first
            assert got.value.path().read_bytes() == BIG
            context.close()
        finally:
            browser.close()
    assert access_bytes(gw, "/fast/big.bin", 1) == [0]


def test_share_link_of_a_redirect_share_redirects_too(direct):
    gw, _ = direct
    from tests.support.sharelinks import make_link

    url = make_link(gw, "/fast/big.bin", "file")
    first = requests.get(url, allow_redirects=False, timeout=30)
    assert first.status_code == 302 and first.content == b""
    assert requests.get(url, timeout=60).content == BIG
