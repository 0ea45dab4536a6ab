"""A PROPFIND 207 body written straight to text, byte for byte what WsgiDAV sends.

WsgiDAV builds an ElementTree of the whole answer (`util.add_property_response`
per resource) and serialises it with the standard library's pure-Python writer:
for a folder of 2000 files that is most of the gateway's CPU. This writes the
same bytes directly: the same `ns0`, `ns1`... prefixes, assigned in document
order and declared on the root, the same escaping, `<x />` for empty elements.

Pure logic; tests/unit/test_multistatus.py checks it against WsgiDAV's own output.
Anything unusual (a comment, a processing instruction, a QName) raises
`Unrenderable` and the caller falls back to WsgiDAV's path.

Streamed (dav/propfind.py, big answers): `head()` gives the start of the body
with the namespaces seen so far declared on the root, `take()` what was added
since, `tail()` the end. A namespace first met after `head()` is declared on
each <response> that uses it (the same document to any XML reader; not
WsgiDAV's bytes, which cannot be had without holding the whole answer).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.util import to_unicode_safe
from wsgidav.xml_tools import is_etree_element

# the standard library's own escaping, so the text is exactly what it writes
from s3dav.dav.wsgidav_compat import escape_attrib, escape_cdata

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8" ?>\n'
OK = "200 OK"


class Unrenderable(Exception):
    """A value this writer does not handle; WsgiDAV's path renders it."""


class Multistatus:
    """Collects <response> elements, then gives the whole body as bytes."""

    def __init__(self) -> None:
        self._uris: dict[str, str] = {}  # namespace URI -> prefix, in order of appearance
        self._qnames: dict[str, str] = {}  # "{uri}local" -> "prefix:local"
        self._tags: dict[str, tuple[str, str, str]] = {}  # name -> (open, close, empty)
        self._closers: dict[str, str] = {}  # status -> end of its <propstat>
        self._parts: list[str] = []
        self._sealed = False  # head() was given: the root's declarations are out
        self._late: dict[str, str] = {}  # Clark name -> URI, of namespaces met after head()
        self._late_used: dict[str, str] = {}  # URI -> prefix, in the response being added
        self._late_uris: set[str] = set()
        # The root comes first, so the DAV: names are fixed before any property's.
        dav = {
            local: self._qname("{DAV:}" + local)
            for local in ("multistatus", "response", "href", "propstat", "prop", "status")
        }
        self._root = dav["multistatus"]
        self._response = (f"<{dav['response']}><{dav['href']}>", f"</{dav['href']}>")
        self._response_no_href = f"<{dav['response']}><{dav['href']} />"
        self._response_end = f"</{dav['response']}>"
        self._propstat = f"<{dav['propstat']}><{dav['prop']}>"
        self._propstat_end = (
            f"</{dav['prop']}><{dav['status']}>HTTP/1.1 {{}}</{dav['status']}></{dav['propstat']}>"
        )

    def _qname(self, name: str) -> str:
        """ElementTree's prefix for a Clark name, assigning the next `nsN` if new."""
        q = self._qnames.get(name)
        if q is not None:
            if self._late and name in self._late:
                self._late_used[self._late[name]] = q.split(":", 1)[0]
            return q
        if not isinstance(name, str):
            raise Unrenderable(f"tag {name!r}")
        if name[:1] == "{":
            uri, local = name[1:].rsplit("}", 1)
            prefix = self._uris.get(uri)
            if prefix is None:
                prefix = ET._namespace_map.get(uri)
                if prefix is None or (self._sealed and prefix in self._uris.values()):
                    prefix = f"ns{len(self._uris)}"
                if prefix != "xml":
                    self._uris[uri] = prefix
                    if self._sealed:
                        self._late_uris.add(uri)
            if uri in self._late_uris:
                self._late[name] = uri
                self._late_used[uri] = prefix
            q = f"{prefix}:{local}" if prefix else local
        else:
            q = name
        self._qnames[name] = q
        return q

    def _tag(self, name: str) -> tuple[str, str, str]:
        """(open, close, empty) of a property element, its prefix assigned at first use."""
        tag = self._tags.get(name)
        if tag is None:
            q = self._qname(name)
            tag = (f"<{q}>", f"</{q}>", f"<{q} />")
            if name not in self._late:  # a late one goes through _qname each time
                self._tags[name] = tag
        return tag

    def add(self, href: str, props: list[tuple[str, object]]) -> None:
        """One resource: what `util.add_property_response` adds to the tree."""
        groups: dict[str, list[tuple[str, object]]] = {}  # by status, in order of appearance
        for name, value in props:
            if isinstance(value, DAVError):
                groups.setdefault(get_http_status_string(value), []).append((name, None))
            else:
                groups.setdefault(OK, []).append((name, value))
        w = self._parts.append
        tags, tag_of = self._tags, self._tag
        start = len(self._parts)
        if href:
            w(self._response[0] + escape_cdata(href) + self._response[1])
        else:
            w(self._response_no_href)
        for status, pairs in groups.items():
            w(self._propstat)
            for name, value in pairs:
                if value.__class__ is not str:
                    if value is None:
                        w((tags.get(name) or tag_of(name))[2])
                        continue
                    if is_etree_element(value):
                        self._element(value)  # its own tag: `name` is not written
                        continue
                    value = to_unicode_safe(value)
                tag = tags.get(name) or tag_of(name)
                w(tag[0] + escape_cdata(value) + tag[1] if value else tag[2])
            closer = self._closers.get(status)
            if closer is None:
                closer = self._closers[status] = self._propstat_end.format(status)
            w(closer)
        w(self._response_end)
        if self._late_used:
            self._declare_late(start)

    def _declare_late(self, start: int) -> None:
        """Declare the namespaces met after head() on the <response> just added."""
        decls = "".join(
            f' xmlns:{p}="{escape_attrib(uri)}"' for uri, p in sorted(self._late_used.items())
        )
        self._late_used = {}
        first = self._parts[start]
        cut = first.index(">")  # the end of `<ns0:response`
        self._parts[start] = first[:cut] + decls + first[cut:]

    def _element(self, el) -> None:
        """An element value (resourcetype, lockdiscovery, a dead property) as ET writes it."""
        if not isinstance(el.tag, str):
            raise Unrenderable(f"element {el.tag!r}")
        w = self._parts.append
        tag = self._qname(el.tag)
        w("<" + tag)
        for k, v in el.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise Unrenderable(f"attribute {k!r}={v!r}")
            w(f' {self._qname(k)}="{escape_attrib(v)}"')
        text, tail = el.text, el.tail
        if not isinstance(text, str | None) or not isinstance(tail, str | None):
            raise Unrenderable(f"text {text!r} / {tail!r}")
        if text or len(el):
            w(">")
            if text:
                w(escape_cdata(text))
            for child in el:
                self._element(child)
            w(f"</{tag}>")
        else:
            w(" />")
        if tail:
            w(escape_cdata(tail))

    def _root_decls(self) -> str:
        return "".join(
            f' xmlns{":" + p if p else ""}="{escape_attrib(uri)}"'
            for uri, p in sorted(self._uris.items(), key=lambda x: x[1])
        )

    def to_bytes(self) -> bytes:
        root = self._root
        inner = "".join(self._parts)
        body = f"{XML_DECLARATION}<{root}{self._root_decls()}" + (
            f">{inner}</{root}>" if inner else " />"
        )
        return body.encode("utf-8", "xmlcharrefreplace")

    # -- streamed ---------------------------------------------------------------------
    def head(self) -> bytes:
        """The body's start: declaration, root with the namespaces so far, what was added."""
        self._sealed = True
        self._late_uris = set()
        text = f"{XML_DECLARATION}<{self._root}{self._root_decls()}>"
        return text.encode("utf-8", "xmlcharrefreplace") + self.take()

    def take(self) -> bytes:
        """What was added since the last head() or take()."""
        text, self._parts = "".join(self._parts), []
        return text.encode("utf-8", "xmlcharrefreplace")

    def tail(self) -> bytes:
        return f"</{self._root}>".encode()

    def mark(self) -> int:
        return len(self._parts)

    def rollback(self, mark: int) -> None:
        """Forget a response cut short by Unrenderable."""
        del self._parts[mark:]
        self._late_used = {}

    def add_text(self, text: str) -> None:
        """A <response> rendered elsewhere (ElementTree, for what this writer does not do)."""
        self._parts.append(text)
