"""Every WsgiDAV internal s3dav relies on still exists with the shape it relies on.

s3dav/dav/wsgidav_compat.py lists them. This test is the one that fails loudly,
by name, when a WsgiDAV upgrade moves one; pyproject.toml pins the minor
version so that such an upgrade is a decision, not an accident. Pure logic: the
behaviour behind each is tested over HTTP elsewhere (test_litmus, test_methods,
test_error_pages, test_multistatus, test_times).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from wsgidav import dav_provider, request_server, util
from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.request_server import RequestServer

from s3dav.dav import wsgidav_compat as compat
from s3dav.dav.files import S3File
from s3dav.dav.folders import S3Collection
from s3dav.store.listing import DirInfo

ROOT = Path(__file__).resolve().parents[2]

# sha256 of `inspect.getsource(RequestServer.do_PROPFIND)` in wsgidav 4.4.0. dav/propfind.py
# repeats its steps; when WsgiDAV changes them, read the new ones and bring propfind.py along.
PROPFIND_SOURCE_SHA256 = "c4d3df7ad982c8da16582c4abbe0e9db6ddd6e5e216368fb61b991d5349e1199"


class _Provider:
    share_path = "/ann"

    def is_readonly(self) -> bool:
        return True


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_installed_wsgidav_is_within_the_pin():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("wsgidav"))
    m = re.fullmatch(r"wsgidav>=(\d+)\.(\d+),<(\d+)\.(\d+)", pin)
    assert m, f"wsgidav is not pinned to a minor version in pyproject.toml: {pin!r}"
    low, high = (int(m[1]), int(m[2])), (int(m[3]), int(m[4]))
    installed = tuple(int(x) for x in version("wsgidav").split(".")[:2])
    assert low <= installed < high, (installed, pin)
    assert high == (low[0], low[1] + 1), f"the pin spans more than one minor version: {pin}"


def test_custom_request_handler_gets_a_bound_request_server_method():
    src = inspect.getsource(RequestServer.__call__)
    assert "provider.custom_request_handler(environ, start_response, method)" in src
    assert "getattr(self, method_name, None)" in src
    server = RequestServer(_Provider())
    assert compat.request_server(server.do_PROPFIND) is server
    assert compat.request_server(lambda environ, start_response: None) is None


def test_evaluate_if_headers_exists_with_its_arguments():
    assert _params(RequestServer._evaluate_if_headers) == ["self", "res", "environ"]


def test_do_propfind_is_the_one_propfind_py_follows():
    src = inspect.getsource(RequestServer.do_PROPFIND)
    digest = hashlib.sha256(src.encode()).hexdigest()
    assert digest == PROPFIND_SOURCE_SHA256, (
        "wsgidav's do_PROPFIND changed: compare it with s3dav/dav/propfind.py, then update "
        f"PROPFIND_SOURCE_SHA256 to {digest}"
    )


def test_put_hands_its_body_to_writelines_and_logs_a_failed_copy():
    src = inspect.getsource(RequestServer.do_PUT)
    assert 'getattr(fileobj, "writelines", None)' in src
    assert "fileobj.writelines(data_stream)" in src
    assert f'_logger.exception("{compat.PUT_FAILED_MESSAGE}")' in src
    assert request_server._logger.name == compat.PUT_FAILED_LOGGER
    assert isinstance(logging.getLogger(compat.PUT_FAILED_LOGGER), logging.Logger)


def test_the_body_read_marks_are_the_ones_wsgidav_reads():
    src = inspect.getsource(request_server) + inspect.getsource(util)
    for key in ("wsgidav.some_input_read", "wsgidav.all_input_read"):
        assert f'environ.get("{key}")' in src or f'environ["{key}"]' in src, key
    environ: dict = {}
    compat.mark_body_read(environ)
    assert environ == {"wsgidav.some_input_read": 1, "wsgidav.all_input_read": 1}


def test_status_names_fill_wsgidavs_table():
    compat.name_statuses()
    assert get_http_status_string(503) == "503 Service Unavailable"
    assert get_http_status_string(507) == "507 Insufficient Storage"
    assert get_http_status_string(408) == "408 Request Timeout"


def test_ref_url_is_what_the_base_class_gives():
    environ = {"wsgidav.provider": _Provider()}
    for path in ("/a.txt", "/dir/with space/ü.txt", "/%25/x#y"):
        res = S3File(path, environ, None, key="k")
        assert res.provider is environ["wsgidav.provider"]  # taken from the environ
        base = DAVNonCollection.get_ref_url(res)
        assert compat.ref_url("/ann", path, collection=False) == base
    for path in ("/", "/d", "/d/", "/ä b/c"):
        res = S3Collection(path, environ, DirInfo(key="k/"))
        base = DAVCollection.get_ref_url(res)
        assert compat.ref_url("/ann", path, collection=True) == base


def test_resources_take_their_provider_from_the_environ():
    src = inspect.getsource(dav_provider._DAVResource.__init__)
    assert 'self.provider: DAVProvider = environ["wsgidav.provider"]' in src


def test_win32_times_reach_set_last_modified():
    src = inspect.getsource(dav_provider._DAVResource.set_property_value)
    assert 'hotfixes.get("emulate_win32_lastmod", False)' in src
    assert "self.set_last_modified(\n                        self.path, value.text" in src


def test_elementtree_escaping():
    assert compat.escape_cdata("<a&b>\"'") == "&lt;a&amp;b&gt;\"'"
    assert compat.escape_attrib('<&>"\n') == "&lt;&amp;&gt;&quot;&#10;"


def test_error_rendering_can_be_replaced():
    assert _params(util.send_status_response) == [
        "environ",
        "start_response",
        "e",
        "add_headers",
        "is_head",
    ]
    assert _params(DAVError.get_response_page) == ["self"]


def test_a_streamed_207s_log_records_are_the_ones_the_filter_drops():
    from wsgidav import wsgidav_app

    source = inspect.getsource(wsgidav_app.WsgiDAVApp.__call__)
    assert "Missing required Content-Length header in {statusCode}-response" in source
    assert compat.NO_LENGTH_207.replace("207", "{statusCode}") in source
    assert f'_logger.warning("{compat.ADDING_CLOSE}")' in source
    assert wsgidav_app._logger.name == compat.APP_LOGGER
    f = compat.StreamedAnswerFilter()

    def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord(compat.APP_LOGGER, level, "x", 1, msg, None, None)

    assert not f.filter(record(compat.NO_LENGTH_207 + ": closing connection"))
    assert not f.filter(record(compat.ADDING_CLOSE, logging.WARNING))
    assert f.filter(record(compat.ADDING_CLOSE, logging.WARNING))  # not after a 207: kept
    assert f.filter(record("Missing required Content-Length header in 200-response: x"))
