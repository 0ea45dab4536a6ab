"""The folder listing page in a real browser (headless Chromium), and ?davmount."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1000,700",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


def ink(png: Path) -> int:
    """How many pixels are not (near) white: a blank or error page has few."""
    img = Image.open(png).convert("L")
    return sum(count for value, count in enumerate(img.histogram()) if value < 200)


def fill(gw) -> None:
    for folder in ("Zeta folder", "alpha"):
        assert gw.request("MKCOL", "/" + folder).status_code == 201
    files = {
        "b.txt": b"b" * 2048,
        "A file.pdf": b"%PDF" * 10,
        "caf\u00e9.txt": b"accents",
        "Tom & Jerry.txt": b"<b>not bold</b>",
    }
    for name, body in files.items():
        assert gw.request("PUT", "/" + name, data=body).status_code == 201
    assert gw.request("PUT", "/alpha/inner.txt", data=b"inner").status_code == 201


@pytest.mark.browser
def test_listing_page_in_chromium(gw, tmp_path):
    fill(gw)
    r = chromium(tmp_path, "--dump-dom", gw.url + "/")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    names = [
        re.sub(r"<[^>]+>", "", n).replace("&amp;", "&")
        for n in re.findall(r'<a class="name" href="[^"]*">(.*?)</a>', dom)
    ]
    assert names == [
        "alpha/",
        "Zeta folder/",
        "A file.pdf",
        "b.txt",
        "caf\u00e9.txt",
        "Tom & Jerry.txt",
    ], names
    assert 'href="/?davmount"' in dom
    assert 'href="/Tom%20%26%20Jerry.txt" download' in dom
    assert re.search(r'title="2048 bytes">2\.0 KiB<', dom)
    assert re.search(r'class="date">\d{4}-\d\d-\d\d \d\d:\d\d<', dom)
    assert "<b>not bold</b>" not in dom  # content is not echoed; names are escaped

    shot = tmp_path / "listing.png"
    r = chromium(tmp_path, f"--screenshot={shot}", gw.url + "/")
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 5000
    assert Image.open(shot).size == (1000, 700)

    # The same page for an empty folder has far less on it: the rows were drawn (the
    # header and the web client's toolbar are on both).
    assert gw.request("MKCOL", "/empty").status_code == 201
    empty = tmp_path / "empty.png"
    r = chromium(tmp_path, f"--screenshot={empty}", gw.url + "/empty/")
    assert r.returncode == 0, r.stderr[-2000:]
    assert ink(shot) > 1.5 * ink(empty) > 0


def test_subfolder_page_links_and_download(gw, tmp_path):
    fill(gw)
    r = gw.request("GET", "/alpha/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert 'href="../"' in r.text
    href = re.search(r'<a class="name" href="([^"]+)">inner.txt</a>', r.text).group(1)
    assert href == "/alpha/inner.txt"
    assert gw.request("GET", href).content == b"inner"
    r = gw.request("GET", "/alpha", allow_redirects=False)  # without the slash: to the slash
    assert r.status_code == 301 and r.headers["Location"] == "/alpha/"
    assert gw.request("HEAD", "/alpha/").status_code == 200


def test_davmount(gw):
    gw.request("MKCOL", "/share")
    r = gw.request("GET", "/share/?davmount")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/davmount+xml"
    assert f"<dm:url>{gw.url}/share/</dm:url>" in r.text


def test_listing_page_costs_one_listing(gw):
    fill(gw)
    gw.request("GET", "/")
    before = gw.s3_counts()
    assert gw.request("GET", "/").status_code == 200
    assert gw.s3_delta(before) == {}
