"""`GET /` with no share there lists the user's shares (issue 19 item 8), and a browser's
GET of a folder without its trailing slash is redirected (issue 19 item 11)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin

import pytest

from tests.support.helpers import propfind
from tests.support.security_setup import HASHES, PASSWORDS

ANN = ("ann", PASSWORDS["ann"])
BOB = ("bob", PASSWORDS["bob"])


def share_config(moto_url: str, bucket: str, *, anonymous: bool) -> dict:
    shares = [
        {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]},
        {"path": "/bob", "bucket": bucket, "prefix": "users/bob/", "users": ["bob"]},
        {"path": "/team", "bucket": bucket, "prefix": "team/", "users": ["ann", "bob"]},
    ]
    if anonymous:
        shares.append(
            {
                "path": "/pub",
                "bucket": bucket,
                "prefix": "public/",
                "users": ["anonymous"],
                "read_only": True,
            }
        )
    return {
        "s3": {"endpoint_url": moto_url, "addressing_style": "path"},
        "users": {name: {"password_hash": h} for name, h in HASHES.items()},
        "shares": shares,
    }


@pytest.fixture
def shares_gw(s3, moto, make_gateway):
    def make(*, anonymous: bool):
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="team/docs/a b.txt", Body=b"in docs")
        s3.put_object(Bucket=bucket, Key="team/docs/sub/c.txt", Body=b"in sub")
        return make_gateway(config=share_config(moto.url, bucket, anonymous=anonymous))

    return make


def listed(html: str) -> list[str]:
    return re.findall(r'<a class="name" href="([^"]+)">', html)


def test_root_lists_the_users_shares(shares_gw):
    gw = shares_gw(anonymous=True)
    anon = gw.request("GET", "/")
    assert anon.status_code == 200
    assert listed(anon.text) == ["/pub/"]
    assert 'href="/?login"' in anon.text
    assert anon.headers["X-Frame-Options"] == "DENY"

    ann = gw.request("GET", "/", auth=ANN)
    assert ann.status_code == 200 and listed(ann.text) == ["/ann/", "/pub/", "/team/"]
    assert "Logged in as ann." in ann.text
    bob = gw.request("GET", "/", auth=BOB)
    assert bob.status_code == 200 and listed(bob.text) == ["/bob/", "/pub/", "/team/"]

    # asking to log in, or a wrong password: a 401 that names the realm (and ends)
    for kw in ({}, {"auth": ("ann", "wrong")}):
        r = gw.request("GET", "/?login", **kw)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == 'Basic realm="s3dav"'
    r = gw.request("GET", "/?login", auth=ANN)
    assert r.status_code == 200 and listed(r.text) == ["/ann/", "/pub/", "/team/"]
    assert gw.request("HEAD", "/", auth=ANN).status_code == 200


def test_root_without_anonymous_shares_asks_for_a_login_once(shares_gw):
    gw = shares_gw(anonymous=False)
    r = gw.request("GET", "/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="s3dav"'
    assert r.text == "401 Unauthorized: GET /: log in (realm s3dav)\n"
    r = gw.request("GET", "/", auth=ANN)
    assert r.status_code == 200 and listed(r.text) == ["/ann/", "/team/"]
    assert gw.request("GET", "/", auth=("ann", "wrong")).status_code == 401
    # every link on the page opens for the user who saw it
    for href in listed(r.text):
        assert gw.request("GET", href, auth=ANN).status_code == 200, href


def test_folder_without_slash_redirects_browsers_only(shares_gw):
    gw = shares_gw(anonymous=False)
    r = gw.request("GET", "/team/docs", auth=ANN, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/team/docs/"
    r = gw.request("GET", "/team/docs?x=1&y", auth=ANN, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/team/docs/?x=1&y"
    r = gw.request("HEAD", "/team/docs", auth=ANN, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/team/docs/"
    r = gw.request("GET", "/team", auth=ANN, allow_redirects=False)  # a share's root
    assert r.status_code == 301 and r.headers["Location"] == "/team/"
    r = gw.request("GET", "/team/docs/a b.txt", auth=ANN, allow_redirects=False)
    assert r.status_code == 200 and r.content == b"in docs"  # files are not redirected

    # WebDAV methods keep answering the path as it was asked
    r = propfind(gw, "/team/docs", auth=ANN)
    assert r.status_code == 207
    assert gw.request("OPTIONS", "/team/docs", auth=ANN).status_code == 200

    # after the redirect, every link on the page resolves
    page = gw.request("GET", "/team/docs", auth=ANN)
    assert page.status_code == 200 and page.url == gw.url + "/team/docs/"
    hrefs = listed(page.text) + re.findall(r'href="(\.\./)"', page.text)
    assert sorted(hrefs) == ["../", "/team/docs/a%20b.txt", "/team/docs/sub/"]
    for href in hrefs:
        target = urljoin(page.url, href)
        assert gw.request("GET", target[len(gw.url) :], auth=ANN).status_code == 200, href
