"""Error lines as pure logic (s3dav/server/errorpages.py): S3 keys become WebDAV paths.

The gateway's answers: integration/test_error_pages.py.
"""

from __future__ import annotations

from s3dav.server.errorpages import error_line, scrub_keys


def test_s3_keys_become_webdav_paths():
    from wsgidav.dav_error import DAVError

    environ = {
        "REQUEST_METHOD": "DELETE",
        "SCRIPT_NAME": "/ann",
        "PATH_INFO": "/d",
        "wsgidav.provider": _Provider(),
    }
    assert scrub_keys("users/ann/d/x: AccessDenied", environ) == "/ann/d/x: AccessDenied"
    assert scrub_keys("s3://main-bucket/users/ann/d/x", environ) == "/ann/d/x"
    assert scrub_keys("bigusers/ann/x", environ) == "bigusers/ann/x"
    e = DAVError(500, "users/ann/d/x.txt: InternalError\nmore", src_exception=ValueError("k"))
    assert error_line(e, environ) == (
        "500 Internal Server Error: DELETE /ann/d: /ann/d/x.txt: InternalError more\n"
    )
    bare = DAVError(500, src_exception=ValueError("users/ann/secret-key"))
    assert error_line(bare, environ) == (
        "500 Internal Server Error: DELETE /ann/d: the gateway failed; see its log\n"
    )


def test_a_reason_that_repeats_the_request_is_not_shown_twice():
    from wsgidav.dav_error import DAVError

    environ = {"REQUEST_METHOD": "LOCK", "SCRIPT_NAME": "/ann", "PATH_INFO": "/f.txt"}
    for info in ("LOCK /f.txt: too big", "LOCK /ann/f.txt: too big", "/f.txt: too big"):
        assert (
            error_line(DAVError(400, info), environ)
            == "400 Bad Request: LOCK /ann/f.txt: too big\n"
        )
    assert error_line(DAVError(404, "/f.txt"), environ) == "404 Not Found: LOCK /ann/f.txt\n"


class _Tree:
    prefix = "users/ann/"
    bucket = "main-bucket"


class _Provider:
    share_path = "/ann"
    tree = _Tree()
