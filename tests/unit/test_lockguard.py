"""LOCK Timeout lists as RFC 4918 writes them, capped; owner sizes (s3dav/server/lockguard.py).

The gateway's answers: integration/test_lock_bounds.py.
"""

from __future__ import annotations

from s3dav.server.lockguard import capped_timeout, owner_size
from tests.support.xmlbodies import LOCKINFO


def test_capped_timeout_reads_rfc4918_lists():
    assert capped_timeout("Infinite", 3600) == 3600
    assert capped_timeout("Second-60", 3600) == 60
    assert capped_timeout("Second-99999999", 3600) == 3600
    assert capped_timeout("Infinite, Second-4100000000", 3600) == 3600
    assert capped_timeout("bogus, Second-30", 3600) == 30
    assert capped_timeout(None, 3600) == 3600  # WsgiDAV's default would be a week
    assert owner_size(LOCKINFO.format(owner="ann").encode()) == len(
        b'<ns0:owner xmlns:ns0="DAV:">ann</ns0:owner>'
    )
    assert owner_size(b"<not-xml") == 0
