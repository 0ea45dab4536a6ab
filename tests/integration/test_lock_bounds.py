"""LOCK within bounds: `Timeout: Infinite` is capped, a huge <owner> is refused (issue 18).

Before, WsgiDAV kept an Infinite lock for a month and stored a 1 MiB owner.
"""

from __future__ import annotations

import re

from tests.support.xmlbodies import LOCKINFO


def lock(gw, path: str, owner: str, timeout: str | None = "Infinite"):
    headers = {"Content-Type": "application/xml", "Depth": "0"}
    if timeout is not None:
        headers["Timeout"] = timeout
    return gw.request("LOCK", path, headers=headers, data=LOCKINFO.format(owner=owner).encode())


def granted(lockdiscovery: str) -> int:
    """The seconds left on the lock, as its lockdiscovery says."""
    return int(re.search(r":timeout>Second-(\d+)<", lockdiscovery).group(1))


def test_infinite_lock_gets_the_cap(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="f.txt", Body=b"x")
    gw = make_gateway(bucket, config={"locks": {"max_timeout": "10m"}})
    r = lock(gw, "/f.txt", "ann")
    assert r.status_code == 200, r.text
    assert r.headers["Timeout"] == "Second-600"
    assert 590 <= granted(r.text) <= 600  # the lock store counts down from the cap
    token = r.headers["Lock-Token"]
    # A refresh asking for a day gets the cap too.
    r = gw.request("LOCK", "/f.txt", headers={"If": f"({token})", "Timeout": "Second-86400"})
    assert r.status_code == 200 and r.headers["Timeout"] == "Second-600"
    assert 590 <= granted(r.text) <= 600
    # No Timeout header at all: the cap, not WsgiDAV's week.
    r = lock(gw, "/g.txt", "ann", timeout=None)
    assert r.status_code == 201 and r.headers["Timeout"] == "Second-600"


def test_huge_owner_is_refused_and_no_lock_is_stored(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="f.txt", Body=b"x")
    gw = make_gateway(bucket)  # max_xml_body 1 MiB, locks.max_owner 4 KiB
    owner = "o" * (512 * 1024)  # the body is under max_xml_body: the owner cap decides
    r = lock(gw, "/f.txt", owner)
    assert r.status_code == 400
    assert r.text.startswith("400 Bad Request: LOCK /f.txt: the owner element is ")
    assert "over the limit of 4096 (locks.max_owner)" in r.text
    r = lock(gw, "/f.txt", "o" * 4000)  # just under: granted, so nothing held /f.txt
    assert r.status_code == 200, r.text
    assert ":owner>" + "o" * 4000 + "</" in r.text
    assert gw.request("PUT", "/f.txt", data=b"y").status_code == 423  # that lock holds
