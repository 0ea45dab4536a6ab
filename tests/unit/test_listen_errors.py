"""A listen error as one line naming the fix (s3dav/app.py).

The process on a busy port: integration/test_startup.py.
"""

from __future__ import annotations

from s3dav.server.serve import describe_listen_error, errno_in


def test_listen_errors_are_one_line_naming_the_fix():
    assert describe_listen_error(98, "h", 8080) == "port 8080 is in use; pick another with --port"
    assert "pick another with --host" in describe_listen_error(99, "10.9.9.9", 80)
    assert errno_in("No socket could be created -- (('h', 1): [Errno 98] Address in use)") == 98
    assert errno_in("no errno here") is None
