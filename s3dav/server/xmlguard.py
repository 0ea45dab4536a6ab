"""Checking PROPFIND/PROPPATCH/LOCK bodies before WsgiDAV parses them.

WsgiDAV parses request XML with the standard library (or lxml), which will
expand internal entities ("billion laughs") and reads any size. Here the body
is read once, bounded by `server.max_xml_body`, parsed with defusedxml (no DTD,
no entities, no external references), and handed on as a fresh stream.
"""

from __future__ import annotations

import io

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})
PASSED_MAX = 256  # small bodies remembered as checked (the same bytes pass again)
PASSED_BODY_MAX = 4096
_passed: set[bytes] = set()


class XmlRefused(ValueError):
    """A body refused with `status` (400 or 413) and a short reason."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def check_xml(body: bytes) -> None:
    """Raise XmlRefused(400) unless `body` is plain, well-formed XML without a DTD.

    A client sends the same few PROPFIND bodies again and again: a small body
    that passed once is not parsed again.
    """
    if body in _passed:
        return
    _check(body)
    if len(body) <= PASSED_BODY_MAX:
        if len(_passed) >= PASSED_MAX:
            _passed.clear()
        _passed.add(body)


def _check(body: bytes) -> None:
    try:
        fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlRefused(
            "400 Bad Request", f"XML body refused: {type(exc).__name__} (no DTDs or entities)"
        ) from None
    except Exception:  # noqa: BLE001 - any parser failure on hostile input is a 400
        raise XmlRefused("400 Bad Request", "XML body is not well-formed") from None


def guard_xml_body(environ: dict, max_bytes: int) -> None:
    """Read and check the XML body of `environ` in place; raise XmlRefused to refuse it.

    A chunked body (no Content-Length) is read up to the limit too, and passed on
    with a Content-Length, which is all WsgiDAV understands.
    """
    if environ.get("REQUEST_METHOD") not in XML_METHODS:
        return
    stream = environ["wsgi.input"]
    length_text = (environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise XmlRefused("400 Bad Request", "Content-Length is not a number") from None
        if length < 0:
            raise XmlRefused("400 Bad Request", "Content-Length is negative")
        if length > max_bytes:
            raise XmlRefused(
                "413 Content Too Large", f"XML body over the limit of {max_bytes} bytes"
            )
        body = _read(stream, length)
        if len(body) != length:
            raise XmlRefused("400 Bad Request", "XML body shorter than its Content-Length")
    elif "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
        body = _read(stream, max_bytes + 1)
        if len(body) > max_bytes:
            raise XmlRefused(
                "413 Content Too Large", f"XML body over the limit of {max_bytes} bytes"
            )
    else:
        return
    if body.strip():
        check_xml(body)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _read(stream, limit: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < limit:
        chunk = stream.read(min(64 * 1024, limit - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
