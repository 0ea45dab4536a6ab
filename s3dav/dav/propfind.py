"""PROPFIND: WsgiDAV's handler, with the 207 body written by s3dav/dav/multistatus.py.

The steps and checks are those of `RequestServer.do_PROPFIND` (wsgidav 4.4),
in the same order, except Depth infinity: `finite_depth` refuses it on a
collection and answers it as 0 on a file, before either handler runs
(tests/unit/test_wsgidav_compat.py notices when WsgiDAV's steps change). The
resources give their properties as before (`get_properties`). Only the answer
is written as text rather than built as an ElementTree and serialised, which
was most of a warm PROPFIND's CPU. A value the text writer does not handle
sends the request down WsgiDAV's own path.
"""

from __future__ import annotations

import io

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_NOT_FOUND,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.xml_tools import etree

from s3dav.dav.multistatus import Multistatus, Unrenderable
from s3dav.dav.wsgidav_compat import evaluate_if_headers

ALLPROP_BODY = "<D:propfind xmlns:D='DAV:'><D:allprop/></D:propfind>"
PARSED_MAX = 256  # request bodies remembered as (mode, names)
PARSED_BODY_MAX = 4096
_parsed: dict[bytes, tuple[str | None, tuple[str, ...]]] = {}


def propfind_mode(request_el, fail) -> tuple[str | None, list[str]]:
    """(mode, names) of a <propfind> body, as WsgiDAV reads it."""
    names: list[str] = []
    mode = None
    for node in request_el:
        if node.tag == "{DAV:}allprop":
            if mode:
                fail(HTTP_BAD_REQUEST)
            mode = "allprop"
        elif node.tag == "{DAV:}name":
            if mode:
                fail(HTTP_BAD_REQUEST)
            mode = "name"
        elif node.tag == "{DAV:}prop":
            if mode not in (None, "named"):
                fail(HTTP_BAD_REQUEST)
            mode = "named"
            names.extend(child.tag for child in node)
    return mode, names


def read_request(environ: dict, fail) -> tuple[str | None, list[str]]:
    """(mode, names) of the request body; the same small body is parsed once.

    xmlguard.py has read and checked the body and left it as a BytesIO.
    """
    stream = environ.get("wsgi.input")
    body = stream.getvalue() if isinstance(stream, io.BytesIO) else None
    known = _parsed.get(body) if body is not None else None
    if known is not None:
        return known[0], list(known[1])
    request_el = util.parse_xml_body(environ, allow_empty=True)
    if request_el is None:
        request_el = etree.XML(ALLPROP_BODY)
    if request_el.tag != "{DAV:}propfind":
        fail(HTTP_BAD_REQUEST)
    mode, names = propfind_mode(request_el, fail)
    if body is not None and len(body) <= PARSED_BODY_MAX:
        if len(_parsed) >= PARSED_MAX:
            _parsed.clear()
        _parsed[body] = (mode, tuple(names))
    return mode, names


def finite_depth(environ: dict, resolve) -> None:
    """Refuse PROPFIND Depth infinity (the default) on a collection: a walk of the
    whole bucket. On a file (or nothing) infinity means the same as 0: answered so.

    `resolve()` gives the request's resource; it is called only for infinity.
    """
    if environ.get("HTTP_DEPTH", "infinity").strip().lower() != "infinity":
        return
    res = resolve()
    if res is not None and res.is_collection:
        raise DAVError(
            HTTP_FORBIDDEN,
            "PROPFIND with Depth infinity is not supported: use Depth 1",
            err_condition=PRECONDITION_CODE_PropfindFiniteDepth,
        )
    environ["HTTP_DEPTH"] = "0"


def do_propfind(provider, server, environ, start_response):
    """WsgiDAV's `RequestServer.do_PROPFIND` (of `server`) for `provider`'s share,
    once finite_depth has turned Depth infinity away."""
    path = environ["PATH_INFO"]
    res = provider.get_resource_inst(path, environ)
    depth = environ.get("HTTP_DEPTH")
    if depth not in ("0", "1"):
        util.fail(HTTP_BAD_REQUEST, f"Invalid Depth header: {depth!r}.")
    if res is None:
        util.fail(HTTP_NOT_FOUND, path)
    evaluate_if_headers(server, res, environ)

    mode, names = read_request(environ, util.fail)

    answers = []
    for child in res.get_descendants(depth=depth, add_self=True):
        if mode == "allprop":
            props = child.get_properties("allprop")
        elif mode == "name":
            props = child.get_properties("name")
        else:
            props = child.get_properties("named", name_list=names)
        answers.append((child.get_href(), props))

    if environ.get("wsgidav.dump_response_body"):
        return wsgidav_answer(environ, start_response, answers)  # WsgiDAV's debug dump
    out = Multistatus()
    try:
        for href, props in answers:
            out.add(href, props)
    except Unrenderable:
        return wsgidav_answer(environ, start_response, answers)
    body = out.to_bytes()
    start_response(
        "207 Multi-Status",
        [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", util.get_rfc1123_time()),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def wsgidav_answer(environ, start_response, answers):
    """The same answer built and written the way WsgiDAV does it."""
    from wsgidav import xml_tools

    multistatus = xml_tools.make_multistatus_el()
    for href, props in answers:
        util.add_property_response(multistatus, href, props)
    return util.send_multi_status_response(environ, start_response, multistatus)
