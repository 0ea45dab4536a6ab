"""Share links (issue 17, item 2) against the running gateway: made by ann, opened by anyone.

ann makes links on `/_s3dav/links` (a form with her CSRF token, sent from the
gateway's own origin); a link opens without a login, only what it names, and
stops at its expiry or revocation. S3 is checked with boto3 after each write,
and the key-logging proxy shows that a link never made the gateway touch a key
outside what it names.
"""

from __future__ import annotations

import contextlib
import time
from urllib.parse import quote, urlsplit

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from s3dav.passwords import hash_password
from tests.support.browser import launch_chromium
from tests.support.rawhttp import send_raw
from tests.support.s3proxy import KeyLoggingProxy, outside
from tests.support.security_setup import HASHES, PASSWORDS
from tests.support.sharelinks import ANN, csrf_of, make_link

LINK_KEY = "test-share-link-key-0123456789"
BOB = ("bob", PASSWORDS["bob"])
SEED = {
    "users/ann/a.txt": b"ann's file",
    "users/ann/dir/b.txt": b"ann's nested file",
    "users/ann/dir/sub/c.txt": b"deeper",
    "users/ann/dirx/secret.txt": b"beside the shared folder",
    "users/ann/drop/": b"",
    "users/bob/secret.txt": b"bob's secret",
    "public/p.txt": b"public file",
}


def share_config(proxy_url: str, bucket: str, *, key: str | None = LINK_KEY) -> dict:
    config = {
        "s3": {"endpoint_url": proxy_url, "addressing_style": "path"},
        "users": {name: {"password_hash": h} for name, h in HASHES.items()},
        "shares": [
            {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]},
            {"path": "/bob", "bucket": bucket, "prefix": "users/bob/", "users": ["bob"]},
            {
                "path": "/pub",
                "bucket": bucket,
                "prefix": "public/",
                "users": ["anonymous"],
                "read_only": True,
            },
        ],
    }
    if key:
        config["share_links"] = {"key": key, "max_expiry": "30d"}
    return config


@pytest.fixture
def links(s3, moto, make_gateway, bucket):
    for key, data in SEED.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    proxy = KeyLoggingProxy(moto.url)
    gw = make_gateway(config=share_config(proxy.url, bucket))
    proxy.start_over()
    yield gw, proxy, bucket
    proxy.stop()


def keys(s3, bucket: str) -> dict[str, bytes]:
    out = {}
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        out[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def link_path(url: str) -> str:
    return urlsplit(url).path


def test_file_link_opens_without_login_only_its_file(links, s3):
    gw, proxy, bucket = links
    url = make_link(gw, "/ann/a.txt", "file")
    before = keys(s3, bucket)
    proxy.start_over()
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == b"ann's file"
    assert got.headers["Content-Security-Policy"].startswith("sandbox")
    part = requests.get(url, headers={"Range": "bytes=6-9"}, timeout=30)
    assert part.status_code == 206 and part.content == b"file"
    assert requests.head(url, timeout=30).headers["Content-Length"] == "10"
    assert requests.get(url + "/x", timeout=30).status_code == 404
    assert requests.put(url, data=b"overwritten", timeout=30).status_code == 405
    assert requests.delete(url, timeout=30).status_code == 405
    assert keys(s3, bucket) == before
    assert not outside(proxy.snapshot(), {bucket: ["users/ann/a.txt"]})
    # the token never reaches the log; the link's id does
    token = link_path(url).rsplit("/", 1)[-1]
    assert token not in gw.log() and token.split(".")[0] in gw.log()


def test_link_survives_a_restart(links):
    gw, _, _ = links
    url = make_link(gw, "/ann/a.txt", "file")
    gw.restart()
    assert requests.get(url, timeout=30).content == b"ann's file"


def test_forged_or_edited_tokens_open_nothing(links):
    gw, _, _ = links
    url = make_link(gw, "/ann/a.txt", "file", expires="1d")
    path = link_path(url)
    link_id, expires, sig = path.rsplit("/", 1)[-1].split(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (
        f"/_s3dav/s/{link_id}.{expires}.{flipped}",
        f"/_s3dav/s/{link_id}.{int(expires) + 86400}.{sig}",  # a later expiry
        f"/_s3dav/s/{link_id}",
        "/_s3dav/s/" + "A" * 22 + f".{expires}.{sig}",
        "/_s3dav/s/",
    ):
        got = requests.get(gw.url + bad, timeout=30)
        assert got.status_code == 404, (bad, got.text)
        assert "ann's file" not in got.text and "users/ann" not in got.text


def test_posts_need_the_users_csrf_token_and_our_origin(links, s3):
    gw, _, bucket = links
    page = gw.request("GET", "/_s3dav/links?path=/ann/a.txt", auth=ANN).text
    good = {"action": "create", "path": "/ann/a.txt", "kind": "file", "csrf": csrf_of(page)}
    bob_csrf = csrf_of(gw.request("GET", "/_s3dav/links?path=/bob/secret.txt", auth=BOB).text)
    origin = {"Origin": gw.url}
    cases = [
        ({**good, "csrf": ""}, origin, ANN, 403),
        ({**good, "csrf": "x" * 32}, origin, ANN, 403),
        ({**good, "csrf": bob_csrf}, origin, ANN, 403),  # bob's token is not ann's
        (good, {}, ANN, 403),  # neither Origin nor Referer
        (good, {"Origin": "http://evil.example"}, ANN, 403),
        (good, {"Origin": "null"}, ANN, 403),
        (good, {"Referer": "http://evil.example/_s3dav/links"}, ANN, 403),
        (good, origin, None, 401),
        (good, origin, ("ann", "wrong-password"), 401),
        ({**good, "path": "/bob/secret.txt"}, origin, ANN, 403),  # not her share
        ({**good, "path": "/ann/nope.txt"}, origin, ANN, 404),
        ({**good, "kind": "folder"}, origin, ANN, 400),  # a.txt is a file
        ({**good, "expires": "400d"}, origin, ANN, 400),  # over max_expiry
    ]
    for form, headers, auth, status in cases:
        got = gw.request(
            "POST", "/_s3dav/links", data=form, headers=headers, auth=auth, allow_redirects=False
        )
        assert got.status_code == status, (form, headers, got.text)
    listed = gw.request("GET", "/_s3dav/links", auth=ANN).text
    assert 'class="link"' not in listed  # no link was made
    # the right form from a Referer of this server works
    ok = gw.request(
        "POST",
        "/_s3dav/links",
        data=good,
        headers={"Referer": gw.url + "/_s3dav/links"},
        auth=ANN,
        allow_redirects=False,
    )
    assert ok.status_code == 303
    assert set(keys(s3, bucket)) == set(SEED)


def test_password_link_wants_its_password(links):
    gw, _, _ = links
    url = make_link(gw, "/ann/a.txt", "file", password="open sesame")
    bare = requests.get(url, timeout=30)
    assert bare.status_code == 403 and "ann's file" not in bare.text
    assert 'type="password"' in bare.text
    assert requests.get(url, auth=("", "wrong"), timeout=30).status_code == 403
    assert requests.get(url, auth=("", "open sesame"), timeout=30).content == b"ann's file"
    wrong = requests.post(url, data={"password": "nope"}, timeout=30, allow_redirects=False)
    assert wrong.status_code == 403 and "Wrong password" in wrong.text
    session = requests.Session()
    right = session.post(url, data={"password": "open sesame"}, timeout=30, allow_redirects=False)
    assert right.status_code == 303 and "s3dav_link" in right.headers["Set-Cookie"]
    assert session.get(url, timeout=30).content == b"ann's file"
    # that cookie proves nothing for another link
    other = make_link(gw, "/ann/a.txt", "file", password="open sesame")
    assert session.get(other, timeout=30).status_code == 403


def test_expired_link_is_gone(links):
    gw, _, _ = links
    url = make_link(gw, "/ann/a.txt", "file", expires="2s")
    assert requests.get(url, timeout=30).status_code == 200
    expires = int(link_path(url).rsplit("/", 1)[-1].split(".")[1])
    while time.time() < expires + 0.2:
        time.sleep(0.2)
    got = requests.get(url, timeout=30)
    assert got.status_code == 410 and "expired" in got.text
    assert "ann's file" not in got.text


def test_revoked_link_stops_and_only_its_maker_revokes(links):
    gw, _, _ = links
    url = make_link(gw, "/ann/a.txt", "file")
    link_id = link_path(url).rsplit("/", 1)[-1].split(".")[0]
    bob_csrf = csrf_of(gw.request("GET", "/_s3dav/links?path=/bob/secret.txt", auth=BOB).text)
    by_bob = gw.request(
        "POST",
        "/_s3dav/links",
        data={"action": "revoke", "id": link_id, "csrf": bob_csrf},
        headers={"Origin": gw.url},
        auth=BOB,
        allow_redirects=False,
    )
    assert by_bob.status_code == 404
    assert requests.get(url, timeout=30).status_code == 200
    page = gw.request("GET", "/_s3dav/links", auth=ANN).text
    assert f'data-id="{link_id}"' in page
    revoked = gw.request(
        "POST",
        "/_s3dav/links",
        data={"action": "revoke", "id": link_id, "csrf": csrf_of(page)},
        headers={"Origin": gw.url},
        auth=ANN,
        allow_redirects=False,
    )
    assert revoked.status_code == 303
    got = requests.get(url, timeout=30)
    assert got.status_code == 404 and "ann's file" not in got.text
    assert f'data-id="{link_id}"' not in gw.request("GET", "/_s3dav/links", auth=ANN).text


def test_folder_link_lists_and_serves_only_below_its_folder(links, s3):
    gw, proxy, bucket = links
    url = make_link(gw, "/ann/dir", "folder")
    before = keys(s3, bucket)
    proxy.start_over()
    listing = requests.get(url, timeout=30)
    assert listing.status_code == 200
    assert "b.txt" in listing.text and "sub/" in listing.text
    assert "a.txt" not in listing.text and "secret" not in listing.text
    assert "form-action" in listing.headers["Content-Security-Policy"]
    assert "<script" not in listing.text
    assert requests.get(url + "b.txt", timeout=30).content == b"ann's nested file"
    assert requests.get(url + "sub/c.txt", timeout=30).content == b"deeper"
    assert "c.txt" in requests.get(url + "sub/", timeout=30).text
    nosl = requests.get(url + "sub", timeout=30, allow_redirects=False)
    assert nosl.status_code == 301 and nosl.headers["Location"].endswith("/sub/")
    path = link_path(url)
    for target in (
        path + "../a.txt",
        path + "..%2fa.txt",
        path + "%2e%2e/a.txt",
        path + "%2E%2E%2Fa.txt",
        path + "sub/../../a.txt",
        path + "sub/%2e%2e/%2e%2e/dirx/secret.txt",
        path + "..%5ca.txt",
        path + "%00/a.txt",
        path + "./b.txt",
        path + "/b.txt",
    ):
        got = send_raw(gw.port, "GET", target)
        assert got.status in (400, 404), (target, got.status, got.body)
        assert b"ann's file" not in got.body and b"beside" not in got.body, target
    # a name that only starts like the folder is no member of it
    assert requests.get(url + "x/secret.txt", timeout=30).status_code == 404
    for method in ("PUT", "DELETE", "PROPFIND", "MKCOL"):
        body = b"x" if method == "PUT" else None
        got = requests.request(method, url + "new.txt", data=body, timeout=30)
        assert got.status_code == 405, (method, got.text)
    assert keys(s3, bucket) == before
    assert not outside(proxy.snapshot(), {bucket: ["users/ann/dir/"]}), proxy.snapshot()


def test_dropbox_takes_uploads_and_shows_nothing(links, s3):
    gw, _, bucket = links
    url = make_link(gw, "/ann/drop", "dropbox")
    assert requests.put(url + "new.txt", data=b"dropped", timeout=30).status_code == 201
    assert keys(s3, bucket)["users/ann/drop/new.txt"] == b"dropped"
    again = requests.put(url + "new.txt", data=b"overwrite", timeout=30)
    assert again.status_code == 412 and "users/ann" not in again.text
    assert keys(s3, bucket)["users/ann/drop/new.txt"] == b"dropped"
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "new.txt" not in page.text
    assert 'enctype="multipart/form-data"' in page.text
    for method, target in (("GET", "new.txt"), ("HEAD", "new.txt"), ("PROPFIND", "")):
        got = requests.request(method, url + target, timeout=30)
        assert got.status_code in (403, 405), (method, target)
        assert b"dropped" not in got.content
    sent = requests.post(
        url, files={"file": ("form.txt", b"from the form\r\n--not-a-boundary")}, timeout=30
    )
    assert sent.status_code == 200 and "Uploaded form.txt" in sent.text
    assert keys(s3, bucket)["users/ann/drop/form.txt"] == b"from the form\r\n--not-a-boundary"
    for bad in ("sub/x.txt", "..%2fx.txt"):
        got = send_raw(gw.port, "PUT", link_path(url) + bad, body=b"x")
        assert got.status in (400, 403), (bad, got.status)
    bad_form = requests.post(url, files={"file": ("..", b"x")}, timeout=30)
    assert bad_form.status_code == 400
    assert sorted(k for k in keys(s3, bucket) if k.startswith("users/ann/drop/")) == [
        "users/ann/drop/",
        "users/ann/drop/form.txt",
        "users/ann/drop/new.txt",
    ]


def test_no_dropbox_on_a_read_only_share(links, s3, bucket):
    gw, _, _ = links
    page = gw.request("GET", "/_s3dav/links?path=/pub/", auth=ANN)
    assert page.status_code == 200 and "dropbox" not in page.text
    form = {"action": "create", "csrf": csrf_of(page.text), "path": "/pub/", "kind": "dropbox"}
    got = gw.request(
        "POST",
        "/_s3dav/links",
        data=form,
        headers={"Origin": gw.url},
        auth=ANN,
        allow_redirects=False,
    )
    assert got.status_code == 403


def test_links_off_without_a_key(s3, moto, make_gateway, bucket):
    gw = make_gateway(config=share_config(moto.url, bucket, key=None))
    got = gw.request("GET", "/_s3dav/links", auth=ANN)
    assert got.status_code == 404 and "share_links.key is not set" in got.text
    assert gw.request("GET", "/_s3dav/s/" + "A" * 22 + ".1.x").status_code == 404


def test_link_dies_with_its_makers_access(s3, moto, make_gateway, bucket, tmp_path):
    for key, data in SEED.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    config = share_config(moto.url, bucket)
    gw = make_gateway(config=config)
    url = make_link(gw, "/ann/a.txt", "file")
    gw.stop()
    config["shares"][0]["users"] = ["bob"]
    config["users"]["carl"] = {"password_hash": hash_password("carl-pw-123456")}
    gw.config_path.write_text(__import__("yaml").safe_dump(config))
    gw.start()
    assert requests.get(url, timeout=30).status_code == 404


def test_browser_makes_a_link_and_a_fresh_context_opens_it(links, s3):
    gw, _, bucket = links
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            ann = browser.new_context(http_credentials={"username": "ann", "password": ANN[1]})
            page = ann.new_page()
            page.goto(gw.url + "/_s3dav/links?path=" + quote("/ann/dir/b.txt"))
            page.fill('input[name="expires"]', "1h")
            page.click("#create button[type=submit]")
            page.wait_for_selector("#created-url")
            url = page.get_attribute("#created-url", "href")
            page.goto(gw.url + "/_s3dav/links?path=" + quote("/ann/dir"))
            page.select_option('select[name="kind"]', "folder")
            page.fill('input[name="password"]', "folder-pw")
            page.click("#create button[type=submit]")
            page.wait_for_selector("#created-url")
            folder_url = page.get_attribute("#created-url", "href")
            ann.close()

            guest = browser.new_context(accept_downloads=True)
            page = guest.new_page()
            with page.expect_download() as got, contextlib.suppress(PlaywrightError):
                page.goto(url)  # stored as binary/octet-stream: a download
            assert got.value.path().read_bytes() == b"ann's nested file"
            page.goto(folder_url)
            page.fill('input[name="password"]', "folder-pw")
            page.click("#password button[type=submit]")
            page.wait_for_selector("#listing")
            assert page.locator("a.name", has_text="b.txt").count() == 1
            assert page.locator("a.name", has_text="a.txt").count() == 0
            page.click("a.name >> text=sub/")
            page.wait_for_selector("a.name >> text=c.txt")
            with page.expect_download() as got:
                page.click("a.download")
            assert got.value.path().read_bytes() == b"deeper"
            guest.close()
        finally:
            browser.close()
    assert set(keys(s3, bucket)) == set(SEED)


def test_link_password_guesses_are_throttled(s3, moto, make_gateway, bucket):
    for key, data in SEED.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    config = share_config(moto.url, bucket)
    config["server"] = {"login_max_failures": 3, "login_delay": "0.01s", "login_block": "1h"}
    gw = make_gateway(config=config)
    url = make_link(gw, "/ann/a.txt", "file", password="right one")
    answers = [requests.get(url, auth=("", f"guess-{i}"), timeout=30).status_code for i in range(4)]
    assert answers == [403, 403, 403, 429]
    # blocked: even the right password waits now, from this address
    assert requests.get(url, auth=("", "right one"), timeout=30).status_code == 429


def test_a_gateway_login_sent_to_a_password_link_is_no_guess(s3, moto, make_gateway, bucket):
    """A browser logged in to the gateway sends that login to every path, the link's too:
    it must not count as wrong guesses at the link's password (nor block the address)."""
    for key, data in SEED.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    config = share_config(moto.url, bucket)
    config["server"] = {"login_max_failures": 3, "login_delay": "0.01s", "login_block": "1h"}
    gw = make_gateway(config=config)
    url = make_link(gw, "/ann/a.txt", "file", password="right one")
    answers = [requests.get(url, auth=ANN, timeout=30).status_code for _ in range(5)]
    assert answers == [403] * 5  # the password form, never 429
    assert requests.get(url, auth=("", "right one"), timeout=30).content == b"ann's file"
    logged_in = requests.request(
        "PROPFIND", gw.url + "/ann/", auth=ANN, headers={"Depth": "1"}, timeout=30
    )
    assert logged_in.status_code == 207  # ann's own logins were never blocked


def test_a_drop_box_form_cut_short_is_400_and_stores_nothing(links, s3):
    gw, _, bucket = links
    url = make_link(gw, "/ann/drop", "dropbox")
    boundary = "b0undary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="cut.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    body = head + b"the start of the file, and no closing boundary"
    got = send_raw(
        gw.port,
        "POST",
        link_path(url),
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        body,
    )
    assert got.status == 400, (got.status, got.body[:200])
    assert b"Traceback" not in got.body
    assert "users/ann/drop/cut.txt" not in keys(s3, bucket)
    assert "Traceback" not in gw.log()
