"""Every folder answers a date, the same on every listing (issue 19 item 4).

After MKCOL, a Depth 1 PROPFIND of the parent showed the new folder without
`getlastmodified`; folders lost their date when the listing cache expired
(cadaver showed 1970, the listing page blanks). The rule (docs/SEMANTICS.md):
the marker's time, else the newest member's, else the date last shown, else the
parent's; never an extra S3 request.
"""

from __future__ import annotations

import re
import subprocess
import time
from email.utils import parsedate_to_datetime

import pytest

from tests.support.helpers import propfind

TTL = 1.0
WHEN = 1500000000
Y2020 = 1600000000


def dates(xml_text: str) -> dict[str, float | None]:
    """href -> getlastmodified (epoch seconds, None when missing) of a multistatus."""
    out: dict[str, float | None] = {}
    for m in re.finditer(
        r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>(.*?)</(?:\w+:)?response>", xml_text, re.S
    ):
        found = re.search(r"getlastmodified>([^<]+)<", m.group(2))
        out[m.group(1)] = parsedate_to_datetime(found.group(1)).timestamp() if found else None
    return out


def expire_listings() -> None:
    time.sleep(TTL + 0.3)


def test_mkcol_then_parent_listing_shows_the_folder_date(gw):
    assert gw.request("MKCOL", "/made", headers={"X-OC-Mtime": str(WHEN)}).status_code == 201
    assert gw.request("MKCOL", "/made/sub").status_code == 201
    shown = dates(propfind(gw, "/").text)
    assert shown["/made/"] == WHEN
    shown = dates(propfind(gw, "/made/").text)
    assert shown["/made/"] == WHEN
    assert shown["/made/sub/"] is not None and abs(shown["/made/sub/"] - time.time()) < 60


def test_folder_dates_stay_the_same_across_listings_and_restarts(make_gateway, bucket, s3):
    # an implicit folder (objects only), a marker written by another tool, one made by MKCOL
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"t", Metadata={"mtime": str(WHEN)})
    s3.put_object(Bucket=bucket, Key="imp/a.txt", Body=b"a", Metadata={"mtime": str(Y2020)})
    s3.put_object(Bucket=bucket, Key="imp2/deep/b.txt", Body=b"b")
    s3.put_object(Bucket=bucket, Key="mark/", Body=b"", Metadata={"mtime": str(WHEN + 5)})
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": f"{TTL}s"}})
    assert gw.request("MKCOL", "/made", headers={"X-OC-Mtime": str(WHEN + 9)}).status_code == 201

    first = dates(propfind(gw, "/").text)
    assert None not in first.values(), first
    assert first["/made/"] == WHEN + 9
    expire_listings()
    assert dates(propfind(gw, "/").text) == first  # (costs 2 LISTs, as before this change)
    expire_listings()
    before = gw.s3_counts()
    again = dates(propfind(gw, "/").text)
    assert gw.s3_delta(before) == {"LIST": 1}, "a Depth 1 PROPFIND costs no request for dates"
    assert again == first

    # Listing a folder learns its own date (marker, else newest member) ...
    assert dates(propfind(gw, "/imp/").text)["/imp/"] == Y2020
    assert dates(propfind(gw, "/mark/").text)["/mark/"] == WHEN + 5
    learnt = dates(propfind(gw, "/").text)
    assert learnt["/imp/"] == Y2020 and learnt["/mark/"] == WHEN + 5
    # ... and keeps it when the listings expire and after a restart.
    expire_listings()
    assert dates(propfind(gw, "/").text) == learnt
    gw.restart()
    assert dates(propfind(gw, "/").text) == learnt
    page = gw.request("GET", "/")
    assert page.status_code == 200
    assert '<td class="date"></td>' not in page.text, page.text


@pytest.mark.client
def test_cadaver_ls_shows_no_1970(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="imp/a.txt", Body=b"a", Metadata={"mtime": str(Y2020)})
    gw = make_gateway(bucket, config={"cache": {"metadata_ttl": f"{TTL}s"}})
    assert gw.request("MKCOL", "/made", headers={"X-OC-Mtime": str(WHEN)}).status_code == 201
    outputs = []
    for _ in range(2):  # before and after the listings expired
        r = subprocess.run(
            ["cadaver", gw.url + "/"],
            input="ls\nquit\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs.append(r.stdout)
        assert "made" in r.stdout and "imp" in r.stdout, r.stdout + r.stderr
        assert "1970" not in r.stdout, r.stdout
        expire_listings()
    assert outputs[0] == outputs[1]
