"""Access-log lines show non-ASCII paths as the UTF-8 the client sent (issue 19, item 13).

PEP 3333 hands the path over as latin-1-decoded bytes; logged as is, `café`
became `cafÃ©`.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from s3dav.server.logs import log_path
from tests.support.helpers import wait_until


def test_log_path_decodes_utf8_and_escapes_the_rest():
    assert log_path("/caf\xc3\xa9.txt") == "/café.txt"
    assert log_path("/a\nb") == "/a\\x0ab"  # one request, one line
    assert log_path("/\xff") == "/\\xff"  # not UTF-8: shown, not guessed


def wait_for_access_lines(gw, text: str, timeout: float = 10.0) -> list[str]:
    """The access-log lines holding `text` (the line is written just after the answer)."""
    return wait_until(
        lambda: [ln for ln in gw.log().splitlines() if "s3dav.access" in ln and text in ln],
        timeout,
        0.05,
    )


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_access_log_shows_cafe(make_gateway, bucket, s3, fmt):
    s3.put_object(Bucket=bucket, Key="café.txt", Body=b"coffee")
    gw = make_gateway(bucket, config={"logging": {"format": fmt}})
    r = gw.request("GET", "/" + quote("café.txt"))
    assert r.status_code == 200 and r.content == b"coffee"
    lines = wait_for_access_lines(gw, "GET /caf")
    assert len(lines) == 1, gw.log()
    if fmt == "plain":
        assert " GET /café.txt 200 6 " in lines[0]
    else:
        doc = json.loads(lines[0])
        assert doc["path"] == "/café.txt" and doc["message"].startswith("GET /café.txt 200 6 ")
    assert "Ã" not in gw.log()
