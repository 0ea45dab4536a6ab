"""The listing page as a web client, in a real headless Chromium (Playwright), issue 17.

Upload by the file picker (several files, a whole folder), by a drop (a synthetic
DataTransfer, and a dropped folder tree walked through its entries), new folder,
rename, delete; errors per file (read-only share 403, missing folder 409, full disk
507); a 2000-entry folder from one listing; the page without script; a 200 MiB
upload with the gateway's RSS bounded. After each step the objects are checked in
S3 and a screenshot is checked for the names it must show (each name's place in the
screenshot holds ink). The page's CSP stays strict: only the gateway's script, by hash.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from s3dav.config import ConfigError, build
from s3dav.dav.browser import breadcrumbs
from s3dav.dav.webui import APP_JS
from tests.support.browser import launch_chromium
from tests.support.helpers import TEST_ENV, PeakRss, propfind
from tests.support.mounts import fill_disk, small_tmpfs
from tests.support.security_setup import HASHES, PASSWORDS

pytestmark = pytest.mark.browser  # headless Chromium through Playwright

VIEWPORT = {"width": 1100, "height": 760}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """One browser tab on the gateway, with what it logged and the screenshots it took."""

    def __init__(self, browser, tmp_path: Path, **context) -> None:
        self.context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, **context)
        self.page = self.context.new_page()
        self.tmp = tmp_path
        self.errors: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.on("request", lambda r: self.requests.append((r.method, r.url)))
        self.shots = 0

    def _console(self, msg) -> None:
        """Script errors and CSP refusals; a refused request (403, 412...) is expected here."""
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def open(self, url: str, *, script: bool = True) -> None:
        self.page.goto(url)
        if script:
            expect(self.page.locator("body[data-ready]")).to_have_count(1)

    def shot(self, label: str, names: list[str]) -> Path:
        """Screenshot of the page; each of `names` is visible and drawn where it stands."""
        for name in names:
            expect(self.page.get_by_text(name, exact=True).first).to_be_visible()
        self.shots += 1
        path = self.tmp / f"{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        img = Image.open(path).convert("L")
        assert img.size[0] == VIEWPORT["width"] and img.size[1] >= VIEWPORT["height"]
        for name in names:
            box = self.page.get_by_text(name, exact=True).first.bounding_box()
            scroll = self.page.evaluate("[window.scrollX, window.scrollY]")
            crop = img.crop(
                (
                    int(box["x"] + scroll[0]),
                    int(box["y"] + scroll[1]),
                    int(box["x"] + scroll[0] + box["width"]) + 1,
                    int(box["y"] + scroll[1] + box["height"]) + 1,
                )
            )
            dark = sum(n for value, n in enumerate(crop.histogram()) if value < 160)
            assert dark >= 10, f"{name!r} is not drawn in {path.name}"
        return path

    def names(self) -> list[str]:
        return self.page.locator("#listing a.name").all_inner_texts()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(chromium, tmp_path):
    opened: list[Page] = []

    def make(**context) -> Page:
        page = Page(chromium, tmp_path, **context)
        opened.append(page)
        return page

    yield make
    for page in opened:
        page.close()


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [o["Key"] for o in page.get("Contents", [])]
    return sorted(found)


def s3_bytes(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def wait_uploads(page, count: int) -> None:
    """Until `count` uploads are over (done or failed) and the listing was reloaded."""
    expect(page.locator("#transfer-list li.done, #transfer-list li.failed")).to_have_count(count)
    expect(page.locator("#transfer-list li.queued")).to_have_count(0)


# What a drop looks like to the page: a DataTransfer built in the page, dispatched as a
# DragEvent (dragenter shows the drop zone, drop uploads).
DROP_FILES = """([files, stop]) => {
  const dt = new DataTransfer();
  for (const [name, text] of files) dt.items.add(new File([text], name, {type: "text/plain"}));
  const target = document.querySelector("#listing");
  target.dispatchEvent(new DragEvent("dragenter", {bubbles: true, dataTransfer: dt}));
  if (stop) return;
  target.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: dt}));
}"""

# A dropped folder: the entries API (webkitGetAsEntry) as Chromium gives it for a real
# drop from the desktop, with readEntries answering in more than one batch.
DROP_TREE = """(tree) => {
  const make = (n) => n.children ? dir(n) : file(n);
  const file = (n) => ({isFile: true, isDirectory: false, name: n.name,
                        file: (ok) => ok(new File([n.text], n.name))});
  const dir = (n) => ({isFile: false, isDirectory: true, name: n.name, createReader: () => {
    const kids = n.children.map(make);
    const batches = [kids.slice(0, 1), kids.slice(1), []];
    return {readEntries: (ok) => ok(batches.shift() || [])};
  }});
  const ev = new Event("drop", {bubbles: true, cancelable: true});
  Object.defineProperty(ev, "dataTransfer", {value: {types: ["Files"], files: [],
    items: [{kind: "file", webkitGetAsEntry: () => make(tree), getAsFile: () => null}]}});
  document.body.dispatchEvent(ev);
}"""


def test_upload_by_picker_folder_and_drop(gw, s3, bucket, tab, tmp_path):
    page = tab()
    page.open(gw.url + "/")
    page.shot("empty", ["Upload files", "Upload folder", "New folder"])

    # several files by the file picker
    src = tmp_path / "src"
    src.mkdir()
    files = {
        "one.txt": b"first file\n",
        "two words.bin": os.urandom(300_000),
        "caf\u00e9.txt": b"x",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)
    page.page.set_input_files("#pick-files", [str(src / n) for n in files])
    wait_uploads(page.page, 3)
    expect(page.page.locator("#transfer-list li.done")).to_have_count(3)
    expect(page.page.locator("#overall-text")).to_have_text(re.compile(r"^3 of 3 uploaded"))
    expect(page.page.locator("#listing a.name", has_text="two words.bin")).to_have_count(1)
    page.shot(
        "picked", ["one.txt", "two words.bin", "caf\u00e9.txt", "3 of 3 uploaded · 293.0 KiB"]
    )
    for name, data in files.items():
        assert s3_bytes(s3, bucket, name) == data

    # a whole folder by the folder picker (webkitdirectory), nested
    tree = tmp_path / "photos"
    (tree / "2024" / "summer").mkdir(parents=True)
    (tree / "top.txt").write_bytes(b"top")
    (tree / "2024" / "a.txt").write_bytes(b"a" * 5000)
    (tree / "2024" / "summer" / "beach.jpg").write_bytes(os.urandom(40_000))
    page.page.locator("#transfers-close").click()
    page.page.set_input_files("#pick-folder", str(tree))
    wait_uploads(page.page, 3)
    expect(page.page.locator("#transfer-list li.done")).to_have_count(3)
    expect(page.page.locator("#listing a.name", has_text="photos/")).to_have_count(1)
    page.shot("folder", ["photos/", "photos/2024/summer/beach.jpg"])
    assert s3_bytes(s3, bucket, "photos/top.txt") == b"top"
    assert s3_bytes(s3, bucket, "photos/2024/a.txt") == b"a" * 5000
    beach = (tree / "2024" / "summer" / "beach.jpg").read_bytes()
    assert s3_bytes(s3, bucket, "photos/2024/summer/beach.jpg") == beach

    # a drop: the drop zone shows on dragenter, then the files land
    page.page.locator("#transfers-close").click()
    page.page.evaluate(DROP_FILES, [[["dropped.txt", "dropped bytes"]], True])
    expect(page.page.locator("#dropzone")).to_be_visible()
    page.shot("dragging", ["Drop to upload here"])
    page.page.evaluate(DROP_FILES, [[["dropped.txt", "dropped bytes"], ["d2.txt", "2"]], False])
    wait_uploads(page.page, 2)
    expect(page.page.locator("#dropzone")).to_be_hidden()
    expect(page.page.locator("#listing a.name", has_text="dropped.txt")).to_have_count(1)
    page.shot("dropped", ["dropped.txt", "d2.txt"])
    assert s3_bytes(s3, bucket, "dropped.txt") == b"dropped bytes"
    assert s3_bytes(s3, bucket, "d2.txt") == b"2"

    # a dropped folder tree, an empty subfolder included (made by MKCOL, parents first)
    page.page.locator("#transfers-close").click()
    dropped = {
        "name": "docs",
        "children": [
            {"name": "readme.md", "text": "# docs"},
            {"name": "empty", "children": []},
            {"name": "deep", "children": [{"name": "x.txt", "text": "deep x"}]},
        ],
    }
    page.page.evaluate(DROP_TREE, dropped)
    wait_uploads(page.page, 2)
    expect(page.page.locator("#transfer-list li.done")).to_have_count(2)
    expect(page.page.locator("#listing a.name", has_text="docs/")).to_have_count(1)
    page.shot("dropped-tree", ["docs/", "docs/deep/x.txt"])
    assert s3_bytes(s3, bucket, "docs/readme.md") == b"# docs"
    assert s3_bytes(s3, bucket, "docs/deep/x.txt") == b"deep x"
    assert gw.request("PROPFIND", "/docs/empty/", headers={"Depth": "0"}).status_code == 207

    # every change went through plain WebDAV methods to the share's own URLs
    methods = {m for m, u in page.requests if u.startswith(gw.url) and "/_s3dav/" not in u}
    assert methods == {"GET", "PUT", "MKCOL"}, methods
    assert page.errors == [], page.errors


def test_new_folder_rename_delete(gw, s3, bucket, tab):
    gw.request("PUT", "/report.txt", data=b"the report")
    gw.request("PUT", "/other.txt", data=b"other")
    assert gw.request("MKCOL", "/old dir/").status_code == 201
    assert gw.request("PUT", "/old dir/inside.txt", data=b"inside").status_code == 201
    page = tab()
    page.open(gw.url + "/")

    page.page.locator("#new-folder").click()
    expect(page.page.locator("#ask")).to_be_visible()
    page.page.locator("#ask-input").fill("Projects 2025")
    page.shot("new-folder-dialog", ["New folder in this folder:", "Create"])
    page.page.locator("#ask-ok").click()
    expect(page.page.locator("#listing a.name", has_text="Projects 2025/")).to_have_count(1)
    page.shot("made-folder", ["Projects 2025/", "Created folder Projects 2025"])
    assert gw.request("PROPFIND", "/Projects%202025/", headers={"Depth": "0"}).status_code == 207
    assert any(k.startswith("Projects 2025/") for k in keys(s3, bucket, "Projects 2025"))

    row = page.page.locator('tr[data-name="report.txt"]')
    row.locator("button.rename").click()
    page.page.locator("#ask-input").fill("final report.txt")
    page.page.locator("#ask-input").press("Enter")
    expect(page.page.locator('tr[data-name="final report.txt"]')).to_have_count(1)
    expect(page.page.locator('tr[data-name="report.txt"]')).to_have_count(0)
    page.shot("renamed", ["final report.txt", "Renamed report.txt to final report.txt"])
    assert "report.txt" not in keys(s3, bucket)
    assert s3_bytes(s3, bucket, "final report.txt") == b"the report"

    # a folder renamed with its content
    page.page.locator('tr[data-name="old dir"] button.rename').click()
    page.page.locator("#ask-input").fill("new dir")
    page.page.locator("#ask-ok").click()
    expect(page.page.locator('tr[data-name="new dir"]')).to_have_count(1)
    assert s3_bytes(s3, bucket, "new dir/inside.txt") == b"inside"
    assert not keys(s3, bucket, "old dir")

    # a rename onto an existing name is refused (Overwrite: F): the reason is shown
    page.page.locator('tr[data-name="other.txt"] button.rename').click()
    page.page.locator("#ask-input").fill("final report.txt")
    page.page.locator("#ask-ok").click()
    expect(page.page.locator("#status.bad")).to_contain_text("412")
    page.shot("rename-refused", ["other.txt", "final report.txt"])
    assert s3_bytes(s3, bucket, "final report.txt") == b"the report"
    assert s3_bytes(s3, bucket, "other.txt") == b"other"

    # delete asks first: dismissed keeps the file, accepted deletes it
    asked: list[str] = []

    def answer(accept: bool):
        def handler(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handler

    page.page.once("dialog", answer(False))
    page.page.locator('tr[data-name="other.txt"] button.delete').click()
    expect(page.page.locator("#status")).to_be_hidden()
    assert asked == ["Delete \u201cother.txt\u201d?"]
    assert s3_bytes(s3, bucket, "other.txt") == b"other"
    page.page.once("dialog", answer(True))
    page.page.locator('tr[data-name="other.txt"] button.delete').click()
    expect(page.page.locator('tr[data-name="other.txt"]')).to_have_count(0)
    page.shot("deleted", ["Deleted other.txt", "final report.txt"])
    assert "other.txt" not in keys(s3, bucket)

    page.page.once("dialog", answer(True))
    page.page.locator('tr[data-name="new dir"] button.delete').click()
    expect(page.page.locator('tr[data-name="new dir"]')).to_have_count(0)
    assert asked[-1] == "Delete the folder \u201cnew dir\u201d and everything in it?"
    assert not keys(s3, bucket, "new dir")
    assert page.names() == ["Projects 2025/", "final report.txt"]
    assert page.errors == [], page.errors


@pytest.fixture
def shares(make_gateway, s3):
    """A writable share /rw and a read-only share /ro, both on one bucket."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ro/kept.txt", Body=b"kept")
    config = {
        "shares": [
            {"path": "/rw", "bucket": bucket, "prefix": "rw/"},
            {"path": "/ro", "bucket": bucket, "prefix": "ro/", "read_only": True},
        ]
    }
    return make_gateway(config=config), bucket


def test_errors_are_shown_per_file(shares, s3, tab):
    gw, bucket = shares
    page = tab()
    page.open(gw.url + "/ro/")
    # a read-only share: no write buttons, and a drop gets the gateway's 403 per file
    expect(page.page.locator("#readonly")).to_be_visible()
    assert page.page.locator("button.rename, button.delete").count() == 0
    assert page.page.locator("#pick-files").is_disabled()
    page.page.evaluate(DROP_FILES, [[["nope.txt", "no"], ["nor.txt", "no"]], False])
    wait_uploads(page.page, 2)
    failed = page.page.locator("#transfer-list li.failed .s")
    expect(failed).to_have_count(2)
    assert failed.first.inner_text() == "403 Forbidden: PUT /ro/nope.txt: this share is read-only"
    expect(page.page.locator("#status.bad")).to_have_text(
        "2 of 2 uploads failed: see the list above"
    )
    page.shot("read-only", ["read-only share", "kept.txt", "nope.txt", "nor.txt"])
    assert keys(s3, bucket) == ["ro/kept.txt"]

    # a folder removed after the page was shown: the PUT into it is a 409, the rest lands
    assert gw.request("MKCOL", "/rw/gone/").status_code == 201
    page.open(gw.url + "/rw/gone/")
    assert gw.request("DELETE", "/rw/gone/").status_code == 204
    page.page.evaluate(DROP_FILES, [[["late.txt", "late"]], False])
    wait_uploads(page.page, 1)
    reason = page.page.locator("#transfer-list li.failed .s").inner_text()
    assert reason.startswith("409 Conflict: PUT /rw/gone/late.txt: "), reason
    page.shot("conflict", ["late.txt"])
    assert not keys(s3, bucket, "rw/gone")
    assert page.errors == [], page.errors


@pytest.fixture
def full_disk(tmp_path):
    """A 16 MiB tmpfs to hold a write-back gateway's cache (unmounted afterwards)."""
    with small_tmpfs(tmp_path / "disk") as mnt:
        yield mnt


def test_full_disk_shows_507_for_the_file(full_disk, make_gateway, bucket, s3, tab):
    cfg = {
        "cache": {"dir": str(full_disk / "cache"), "write_back": True},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    gw = make_gateway(bucket, config=cfg)
    page = tab()
    page.open(gw.url + "/")
    fill_disk(full_disk)
    page.page.evaluate(DROP_FILES, [[["big.txt", "x" * 200_000]], False])
    wait_uploads(page.page, 1)
    reason = page.page.locator("#transfer-list li.failed .s").inner_text()
    assert reason.startswith("507 Insufficient Storage: PUT /big.txt: "), reason
    page.shot("full-disk", ["big.txt"])
    assert keys(s3, bucket) == []


def test_2000_entries_from_one_listing_sorted(make_gateway, s3, bucket, tab):
    stamp = time.time()
    for i in range(2000):
        s3.put_object(Bucket=bucket, Key=f"many/f{i:04d}.txt", Body=b"x" * (i % 97))
    cfg = {"cache": {"readahead_folders": 0, "metadata_ttl": "300s"}}
    gw = make_gateway(bucket, config=cfg)
    # What a WebDAV client's browse of the folder costs (objects never seen: each one's
    # x-amz-meta-* is read once, as for any listing): the page must cost no more.
    before = gw.s3_counts()
    assert propfind(gw, "/many/").status_code == 207
    assert gw.s3_delta(before) == {"LIST": 2, "HEAD": 2000}  # its 2 pages, no parent LIST
    gw.restart()  # listings forgotten, object metadata kept
    before = gw.s3_counts()
    assert propfind(gw, "/many/").status_code == 207
    # one LIST per 1000 entries (the first also finds the folder: no LIST of its parent)
    assert gw.s3_delta(before) == {"LIST": 2}
    gw.restart()

    before = gw.s3_counts()
    page = tab()
    page.open(gw.url + "/many/")
    assert gw.s3_delta(before) == {"LIST": 2}  # the same as the PROPFIND, nothing else
    ours = [(m, u) for m, u in page.requests if u.startswith(gw.url)]
    assert [m for m, _ in ours] == ["GET", "GET"], ours  # the page and its script: that is all
    assert ours[1][1].startswith(gw.url + "/_s3dav/app.js?v=")
    rows = page.page.locator("#listing tr[data-name]")
    expect(rows).to_have_count(2000)
    assert page.names()[:3] == ["f0000.txt", "f0001.txt", "f0002.txt"]
    first = page.page.locator('tr[data-name="f0100.txt"]')
    assert first.locator("td.size").inner_text() == "3 B"  # 100 % 97
    assert first.locator("td.size").get_attribute("title") == "3 bytes"
    shown = calendar.timegm(time.strptime(first.locator("td.date").inner_text(), "%Y-%m-%d %H:%M"))
    assert stamp - 60 <= shown <= time.time()  # the object's date, in UTC, to the minute
    assert page.page.locator("#count").inner_text() == "2000 items · s3dav"
    page.shot("2000", ["f0000.txt", "2000 items · s3dav"])
    before = gw.s3_counts()
    page.open(gw.url + "/many/")
    assert gw.s3_delta(before) == {}  # shown again from the listing cache

    # sorting is done in the page: no request to the gateway, no S3 request
    before, seen = gw.s3_counts(), len(page.requests)
    page.page.locator("#listing th.size").click()  # largest first
    expect(page.page.locator("#listing th.size.desc")).to_have_count(1)
    sizes = [
        int(s)
        for s in page.page.eval_on_selector_all(
            "#listing tr[data-name]", "rows => rows.map(r => r.dataset.size)"
        )
    ]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 96
    page.page.locator("#listing th.name").click()  # names, A to Z
    page.page.locator("#listing th.name").click()  # Z to A
    assert page.names()[0] == "f1999.txt"
    assert len(page.requests) == seen and gw.s3_delta(before) == {}
    assert page.errors == [], page.errors


def test_without_script_it_lists_and_downloads(gw, tab):
    gw.request("MKCOL", "/sub/")
    gw.request("PUT", "/sub/data.csv", data=b"a,b\n1,2\n")
    gw.request("PUT", "/readme.txt", data=b"hello")
    page = tab(java_script_enabled=False)
    page.open(gw.url + "/", script=False)
    assert page.names() == ["sub/", "readme.txt"]
    expect(page.page.locator("#toolbar")).to_be_hidden()
    assert page.page.locator("button:visible, input:visible").count() == 0
    assert page.page.locator("#listing button, a.share").count() == 0  # the script adds those
    page.shot("no-script", ["sub/", "readme.txt", "download", "Mount this folder (davmount)"])
    page.page.locator("a.name", has_text="sub/").click()
    expect(page.page.locator("a.name", has_text="data.csv")).to_have_count(1)
    with page.page.expect_download() as info:
        page.page.locator('tr[data-name="data.csv"] a.download').click()
    assert Path(info.value.path()).read_bytes() == b"a,b\n1,2\n"
    page.page.locator("nav.crumbs a", has_text="/").click()
    assert page.names() == ["sub/", "readme.txt"]


def test_share_link_offered_only_when_links_are_on(make_gateway, s3, bucket, tab):
    s3.put_object(Bucket=bucket, Key="users/ann/notes.txt", Body=b"notes")
    share = {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]}
    users = {"ann": {"password_hash": HASHES["ann"]}}
    login = {"http_credentials": {"username": "ann", "password": PASSWORDS["ann"]}}
    off = make_gateway(config={"users": users, "shares": [share]})
    page = tab(**login)
    page.open(off.url + "/ann/")
    expect(page.page.locator('tr[data-name="notes.txt"] button.rename')).to_have_count(1)
    assert page.page.locator("a.share").count() == 0  # /_s3dav/links would answer 404

    on = make_gateway(
        config={
            "users": users,
            "shares": [share],
            "share_links": {"key": "test-share-link-key-0123456789"},
        }
    )
    page = tab(**login)
    page.open(on.url + "/ann/")
    link = page.page.locator('tr[data-name="notes.txt"] a.share')
    assert link.get_attribute("href") == "/_s3dav/links?path=%2Fann%2Fnotes.txt"
    link.click()
    expect(page.page.get_by_text("New link for /ann/notes.txt")).to_be_visible()
    page.shot("share-links-page", ["New link for /ann/notes.txt"])


def test_page_csp_allows_only_the_gateways_script(gw):
    r = gw.request("GET", "/")
    csp = r.headers["Content-Security-Policy"]
    assert f"script-src '{APP_JS.sri}';" in csp
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp
    assert "'self' " not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "unsafe" not in csp and "sandbox" not in csp
    assert f'<script src="{APP_JS.url}" integrity="{APP_JS.sri}" defer></script>' in r.text
    assert "<script>" not in r.text  # nothing inline

    js = gw.request("GET", "/_s3dav/app.js")
    assert js.status_code == 200 and js.content == APP_JS.body
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in js.headers and "Content-Security-Policy" not in js.headers
    assert gw.request("HEAD", "/_s3dav/app.js").headers["Content-Length"] == str(len(APP_JS.body))

    # a user's file keeps the sandbox: the same JS stored in a share does not get our headers
    gw.request("PUT", "/app.js", data=APP_JS.body)
    user = gw.request("GET", "/app.js").headers
    assert user["Content-Security-Policy"].startswith("sandbox;")
    assert user["Content-Disposition"].startswith("attachment;")


def test_s3dav_namespace_is_reserved_at_the_root(gw, s3, bucket):
    for method, path, headers in (
        ("PUT", "/_s3dav", {}),
        ("PUT", "/_s3dav/app.js", {}),
        ("MKCOL", "/_s3dav/", {}),
        ("MKCOL", "/_s3dav/links/", {}),
    ):
        r = gw.request(method, path, data=b"x" if method == "PUT" else None, headers=headers)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert "is reserved for the gateway itself" in r.text
    gw.request("PUT", "/mine.txt", data=b"mine")
    r = gw.request("MOVE", "/mine.txt", headers={"Destination": gw.url + "/_s3dav"})
    assert r.status_code == 403, r.text
    r = gw.request("COPY", "/mine.txt", headers={"Destination": gw.url + "/_s3dav/x"})
    assert r.status_code == 403, r.text
    assert keys(s3, bucket) == ["mine.txt"]
    # a name that only starts the same is an ordinary name
    assert gw.request("PUT", "/_s3davx.txt", data=b"ok").status_code == 201


def test_check_reports_an_s3dav_key_at_the_root(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key="_s3dav/app.js", Body=b"put by another tool")
    out = subprocess.run(
        [sys.executable, "-m", "s3dav", "check", "--endpoint-url", moto.url, "--bucket", bucket],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **TEST_ENV},
    )
    assert out.returncode == 1
    assert f"[FAIL] share / (s3://{bucket}/): _s3dav exist(s) in the bucket" in out.stdout


def test_share_under_s3dav_is_refused():
    for path in ("/_s3dav", "/_s3dav/links", "/_S3DAV/x"):
        with pytest.raises(ConfigError, match="reserved for the gateway's web UI"):
            build({"shares": [{"path": path, "bucket": "b"}]}, environ={})
    assert build({"shares": [{"path": "/_s3davx", "bucket": "b"}]}, environ={}).shares


def test_breadcrumbs_escape_and_link():
    html = breadcrumbs("/a b/<x>/")
    assert html == (
        '<a href="/">/</a><a href="/a%20b/">a b</a>'
        '<span class="sep">/</span><span aria-current="page">&lt;x&gt;</span>'
    )
    assert breadcrumbs("/") == "<span>/</span>"


@pytest.mark.timeout(600)
def test_200mib_upload_from_the_page(gw, s3, bucket, tab, tmp_path):
    size = 200 * MIB
    big = tmp_path / "big.bin"
    want = hashlib.md5()  # noqa: S324 - a checksum, not security
    block = hashlib.sha256(b"s3dav").digest() * (MIB // 32)
    with open(big, "wb") as f:
        for i in range(size // MIB):
            chunk = block[i % 7 :] + block[: i % 7]
            f.write(chunk)
            want.update(chunk)
    page = tab()
    with PeakRss(gw.pid) as rss:
        page.open(gw.url + "/")
        page.page.set_input_files("#pick-files", str(big))
        # mid-way: the file's bar and the overall one move (the browser streams the file)
        moving = re.compile(r"^[\d.]+ [KM]iB of 200\.0 MiB \([1-9]\d?%\)$")
        expect(page.page.locator("#transfer-list li .s")).to_have_text(moving, timeout=120_000)
        expect(page.page.locator("#overall-text")).to_contain_text("0 of 1 uploaded · ")
        page.shot("200mib-uploading", ["big.bin"])
        expect(page.page.locator("#transfer-list li.done, #transfer-list li.failed")).to_have_count(
            1, timeout=540_000
        )
    expect(page.page.locator("#transfer-list li.done")).to_have_count(1)
    expect(page.page.locator('tr[data-name="big.bin"] td.size')).to_have_text("200.0 MiB")
    page.shot("200mib", ["big.bin", "200.0 MiB"])
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == size
    got = hashlib.md5()  # noqa: S324
    for chunk in s3.get_object(Bucket=bucket, Key="big.bin")["Body"].iter_chunks(MIB):
        got.update(chunk)
    assert got.hexdigest() == want.hexdigest()
    print(f"peak gateway RSS during a 200 MiB upload from the page: {rss.peak / MIB:.0f} MiB")
    assert rss.peak < 200 * MIB
