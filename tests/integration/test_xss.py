"""Stored XSS across shares (issue 18, must-fix 1), in a real headless Chromium (Playwright).

bob writes an active file (HTML, SVG, an object stored as text/html) where ann can open
it; its script reads `/ann/notes.txt` and PUTs it to `/ann/stolen.txt` with ann's login.
The attack must fail: no stolen object in S3, no request of the script reaches the
gateway, the page never runs in the gateway's origin. Against the code before the fix
every one of these tests fails (the script runs and the object appears).
"""

from __future__ import annotations

import contextlib
import re
import uuid

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from tests.support.browser import launch_chromium
from tests.support.security_setup import HASHES, PASSWORDS

NOTES = b"ann's private notes"

# What the attacker's script does: mark the page, read ann's file, write it back into her share.
STEAL = (
    "document.title='pwned';"
    "var m=document.createElement('div');m.id='pwned';"
    "(document.body||document.documentElement).appendChild(m);"
    "fetch('/ann/notes.txt').then(function(r){return r.text()})"
    ".then(function(t){return fetch('/ann/stolen.txt',{method:'PUT',body:t})});"
)
EVIL_HTML = (
    "<!DOCTYPE html><html><head><title>evil</title></head><body><p id='bait'>hello</p>"
    f"<script>{STEAL}</script></body></html>"
).encode()
EVIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    '<rect width="100" height="100" fill="red"/>'
    f"<script>{STEAL}</script></svg>"
).encode()

SCRIPT_REQUEST = re.compile(r"\b(GET|PUT|HEAD|POST) /ann/(notes|stolen)\.txt\b")


@pytest.fixture
def xss(s3, moto, make_gateway):
    """ann (/ann), bob (/bob), shared /team and /show (inline opted in), anonymous /pub."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="users/ann/notes.txt", Body=NOTES)
    team = ["ann", "bob"]
    config = {
        "s3": {"endpoint_url": moto.url, "addressing_style": "path"},
        "users": {name: {"password_hash": h} for name, h in HASHES.items()},
        "shares": [
            {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]},
            {"path": "/bob", "bucket": bucket, "prefix": "users/bob/", "users": ["bob"]},
            {"path": "/team", "bucket": bucket, "prefix": "team/", "users": team},
            {
                "path": "/show",
                "bucket": bucket,
                "prefix": "show/",
                "users": team,
                "inline_active_content": True,
            },
            {
                "path": "/pub",
                "bucket": bucket,
                "prefix": "public/",
                "users": ["anonymous"],
                "read_only": True,
            },
        ],
    }
    gw = make_gateway(config=config)
    return gw, bucket


def as_user(user: str) -> tuple[str, str]:
    return (user, PASSWORDS[user])


@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


def open_as_ann(browser, url: str) -> dict:
    """ann opens `url` in a fresh context; what the browser saw."""
    context = browser.new_context(
        http_credentials={"username": "ann", "password": PASSWORDS["ann"]},
        accept_downloads=True,
    )
    page = context.new_page()
    seen: dict = {"console": [], "requests": [], "download": None, "marker": None}
    page.on("console", lambda msg: seen["console"].append(msg.text))
    page.on("request", lambda req: seen["requests"].append((req.method, req.url)))
    page.on("download", lambda d: seen.__setitem__("download", d.suggested_filename))
    try:
        with contextlib.suppress(PlaywrightError):  # a download aborts the navigation
            page.goto(url, wait_until="load", timeout=30000)
        # whatever the page started has finished (or never began) before we look
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=10000)
        if page.url == url:
            seen["marker"] = page.locator("#pwned").count()
            seen["title"] = page.title()
    finally:
        context.close()
    return seen


def assert_attack_failed(gw, s3, bucket: str, seen: dict) -> None:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert "users/ann/stolen.txt" not in keys, keys
    assert not SCRIPT_REQUEST.search(gw.log()), "the script's request reached the gateway"
    assert not [u for _, u in seen["requests"] if "/ann/" in u], seen["requests"]
    assert seen.get("marker") in (None, 0) and seen.get("title") != "pwned", seen


def served_headers(gw, path: str, auth=None) -> list[requests.structures.CaseInsensitiveDict]:
    return [gw.request(m, path, auth=auth).headers for m in ("GET", "HEAD")]


@pytest.mark.browser
def test_html_in_a_shared_folder_does_not_run_as_ann(xss, s3, browser):
    gw, bucket = xss
    r = gw.request("PUT", "/team/evil.html", data=EVIL_HTML, auth=as_user("bob"))
    assert r.status_code == 201
    seen = open_as_ann(browser, gw.url + "/team/evil.html")
    assert_attack_failed(gw, s3, bucket, seen)
    assert seen["download"] == "evil.html"  # Chromium saved it; it did not render it

    for headers in served_headers(gw, "/team/evil.html", as_user("ann")):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"].startswith("sandbox;")
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["Content-Disposition"].startswith('attachment; filename="evil.html"')
    part = gw.request("GET", "/team/evil.html", auth=as_user("ann"), headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.browser
def test_svg_with_script_does_not_run_as_ann(xss, s3, browser):
    gw, bucket = xss
    r = gw.request("PUT", "/team/pic.svg", data=EVIL_SVG, auth=as_user("bob"))
    assert r.status_code == 201
    seen = open_as_ann(browser, gw.url + "/team/pic.svg")
    assert_attack_failed(gw, s3, bucket, seen)
    assert seen["download"] == "pic.svg"

    for headers in served_headers(gw, "/team/pic.svg", as_user("ann")):
        assert headers["Content-Type"] == "image/svg+xml"
        assert headers["Content-Disposition"].startswith("attachment;")
        assert headers["Content-Security-Policy"].startswith("sandbox;")


@pytest.mark.browser
def test_object_stored_as_html_under_pub_does_not_run(xss, s3, browser):
    """Written straight to S3: a `.txt` name, but the type served is text/html."""
    gw, bucket = xss
    s3.put_object(Bucket=bucket, Key="public/readme.txt", Body=EVIL_HTML, ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="public/page.html", Body=EVIL_HTML, ContentType="text/plain")
    for path, name in (("/pub/readme.txt", "readme.txt"), ("/pub/page.html", "page.html")):
        seen = open_as_ann(browser, gw.url + path)
        assert_attack_failed(gw, s3, bucket, seen)
        assert seen["download"] == name
        for headers in served_headers(gw, path):
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Content-Disposition"].startswith(f'attachment; filename="{name}"')
            assert headers["Content-Security-Policy"].startswith("sandbox;")


@pytest.mark.browser
def test_inline_share_renders_html_sandboxed(xss, s3, browser):
    """`inline_active_content: true`: shown in the page, yet its script never runs."""
    gw, bucket = xss
    r = gw.request("PUT", "/show/evil.html", data=EVIL_HTML, auth=as_user("bob"))
    assert r.status_code == 201
    seen = open_as_ann(browser, gw.url + "/show/evil.html")
    assert_attack_failed(gw, s3, bucket, seen)
    assert seen["download"] is None
    assert seen["title"] == "evil"  # rendered inline: the document is there
    assert any("sandboxed" in line or "Content Security Policy" in line for line in seen["console"])

    headers = gw.request("GET", "/show/evil.html", auth=as_user("ann")).headers
    assert "Content-Disposition" not in headers
    assert headers["Content-Security-Policy"].startswith("sandbox;")


def test_passive_files_still_show_inline(xss):
    gw, _ = xss
    gw.request("PUT", "/team/a.txt", data=b"plain", auth=as_user("bob"))
    gw.request("PUT", "/team/p.png", data=b"\x89PNG\r\n\x1a\n", auth=as_user("bob"))
    for path in ("/team/a.txt", "/team/p.png"):
        headers = gw.request("GET", path, auth=as_user("ann")).headers
        assert "Content-Disposition" not in headers, path
        assert headers["Content-Security-Policy"].startswith("sandbox;")
        assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.browser
def test_listing_page_has_its_own_csp_and_renders(xss, browser):
    gw, _ = xss
    gw.request("PUT", "/team/a.txt", data=b"plain", auth=as_user("bob"))
    headers = gw.request("GET", "/team/", auth=as_user("ann")).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "sandbox" not in csp
    # script: only the gateway's own /_s3dav/app.js, by its hash (tests/integration/test_webui.py)
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/]+=*';", csp)
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/]+=*'", csp)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"

    context = browser.new_context(
        http_credentials={"username": "ann", "password": PASSWORDS["ann"]}
    )
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.goto(gw.url + "/team/")
    assert page.locator("a.name").all_inner_texts() == ["a.txt"]
    # the one inline style is allowed by its hash: the table is drawn as styled
    assert page.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse") == (
        "collapse"
    )
    assert not [line for line in console if "Content Security Policy" in line], console
    context.close()
