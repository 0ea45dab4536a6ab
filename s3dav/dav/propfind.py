"""PROPFIND: WsgiDAV's handler, with the 207 body written by s3dav/dav/multistatus.py.

The steps and checks are those of `RequestServer.do_PROPFIND` (wsgidav 4.4),
in the same order, except Depth infinity: `finite_depth` refuses it on a
collection and answers it as 0 on a file, before either handler runs
(tests/unit/test_wsgidav_compat.py notices when WsgiDAV's steps change). The
resources give their properties as before (`get_properties`). Only the answer
is written as text rather than built as an ElementTree and serialised, which
was most of a warm PROPFIND's CPU. A value the text writer does not handle
sends the request down WsgiDAV's own path.

Big answers are streamed (issue 15): the first `FIRST_CHUNK` responses are
written before the answer starts; if that was all of them, the body goes with
a Content-Length as before. Otherwise the answer has no length (cheroot sends
it chunked; WsgiDAV then closes the connection after it) and the rest is
written and sent `CHUNK` responses at a time, so that the XML of a folder of
100,000 entries is never held whole. An Unrenderable value in the first chunk
still sends the whole answer down WsgiDAV's path; one later (the headers are
out) has its <response> alone written by ElementTree, which declares its own
namespaces on it. A failure later (no 207 can become an error any more) cuts
the connection: the client sees a truncated answer, never a wrong one.
"""

from __future__ import annotations

import io
import itertools

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
from s3dav.dav.wsgidav_compat import evaluate_if_headers, quiet_streamed_answers

FIRST_CHUNK = 2000  # responses written before the answer starts; no more: one body
CHUNK = 500  # responses per chunk after it

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

    def answer(child) -> tuple[str, list]:
        if mode == "allprop":
            props = child.get_properties("allprop")
        elif mode == "name":
            props = child.get_properties("name")
        else:
            props = child.get_properties("named", name_list=names)
        return child.get_href(), props

    members = iter(res.get_descendants(depth=depth, add_self=True))
    if environ.get("wsgidav.dump_response_body"):
        return wsgidav_answer(environ, start_response, [answer(c) for c in members])  # debug dump
    out = Multistatus()
    first: list[tuple[str, list]] = []
    try:
        for child in members:
            first.append(answer(child))
            out.add(*first[-1])
            if len(first) >= FIRST_CHUNK:
                break
    except Unrenderable:
        return wsgidav_answer(environ, start_response, first + [answer(c) for c in members])
    following = next(members, None)
    headers = [
        ("Content-Type", "application/xml; charset=utf-8"),
        ("Date", util.get_rfc1123_time()),
    ]
    if following is None:
        body = out.to_bytes()
        start_response("207 Multi-Status", [*headers, ("Content-Length", str(len(body)))])
        return [body]
    del first
    quiet_streamed_answers()
    start_response("207 Multi-Status", headers)
    return streamed(out, following, members, answer)


def streamed(out: Multistatus, following, members, answer):
    """The body of a big answer, CHUNK responses at a time (see the top)."""
    yield out.head()
    for n, member in enumerate(itertools.chain([following], members), 1):
        href, props = answer(member)
        mark = out.mark()
        try:
            out.add(href, props)
        except Unrenderable:
            out.rollback(mark)
            out.add_text(element_response(href, props))
        if n % CHUNK == 0:
            yield out.take()
    yield out.take() + out.tail()


def element_response(href: str, props: list) -> str:
    """One <response> as WsgiDAV builds it, serialised alone (its namespaces declared on it)."""
    from wsgidav import xml_tools

    multistatus = xml_tools.make_multistatus_el()
    util.add_property_response(multistatus, href, props)
    return etree.tostring(multistatus[0], encoding="unicode")


def wsgidav_answer(environ, start_response, answers):
    """The same answer built and written the way WsgiDAV does it."""
    from wsgidav import xml_tools

    multistatus = xml_tools.make_multistatus_el()
    for href, props in answers:
        util.add_property_response(multistatus, href, props)
    return util.send_multi_status_response(environ, start_response, multistatus)
