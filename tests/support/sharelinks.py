"""Making share links as a browser does (the links page, then its POST), for the tests."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from tests.support.security_setup import PASSWORDS

ANN = ("ann", PASSWORDS["ann"])


def csrf_of(page: str) -> str:
    return html.unescape(re.search(r'name="csrf" value="([^"]+)"', page).group(1))


def make_link(gw, path: str, kind: str, *, expires="7d", password="", auth=ANN) -> str:
    """Make a link as a browser would: the form's page, then its POST; the new link's URL."""
    page = gw.request("GET", "/_s3dav/links?path=" + quote(path), auth=auth)
    assert page.status_code == 200, page.text
    form = {
        "action": "create",
        "csrf": csrf_of(page.text),
        "path": path,
        "kind": kind,
        "expires": expires,
        "password": password,
    }
    made = gw.request(
        "POST",
        "/_s3dav/links",
        data=form,
        auth=auth,
        headers={"Origin": gw.url},
        allow_redirects=False,
    )
    assert made.status_code == 303, made.text
    shown = gw.request("GET", made.headers["Location"], auth=auth)
    url = html.unescape(re.search(r'id="created-url" href="([^"]+)"', shown.text).group(1))
    assert url.startswith(gw.url + "/_s3dav/s/")
    return url
