"""Which files are active content, and the headers they are served with (s3dav/dav/safety.py).

The attack in a real browser: integration/test_xss.py.
"""

from __future__ import annotations

from s3dav.dav.safety import content_disposition, file_headers, is_active_name, is_active_type


def test_active_by_type_or_by_name():
    for ctype in (
        "text/html; charset=utf-8",
        "TEXT/HTML",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "text/javascript",
        "application/x-javascript",
        "text/xsl",
        "application/pdf",
        "",
        None,
        "garbage",
    ):
        assert is_active_type(ctype), ctype
    for ctype in ("text/plain", "image/png", "application/json", "video/mp4", "text/css"):
        assert not is_active_type(ctype), ctype
    for name in ("a.html", "A.HTM", "x.svg", "d.xml", "s.js", "m.mjs", "p.pdf", "f.xhtml"):
        assert is_active_name(name), name
    for name in ("a.txt", "b.png", "c", "d.json", "html", "e.tar.gz"):
        assert not is_active_name(name), name


def test_file_headers_and_disposition():
    served = [("Content-Type", "text/plain"), ("Content-Length", "3")]
    out = dict(file_headers(served, "page.html", inline_active=False))
    assert (
        out["Content-Disposition"]
        == "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    )
    assert out["Content-Security-Policy"].startswith("sandbox;")
    assert "Content-Disposition" not in dict(file_headers(served, "page.html", inline_active=True))
    assert "Content-Disposition" not in dict(file_headers(served, "a.txt", inline_active=False))
    assert content_disposition('caf\u00e9 "x";.svg') == (
        "attachment; filename=\"caf_ _x__.svg\"; filename*=UTF-8''caf%C3%A9%20%22x%22%3B.svg"
    )
