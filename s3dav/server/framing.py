"""Strict body framing for cheroot: Content-Length and Transfer-Encoding checked, chunks strictly.

cheroot reads `Content-Length: -1` as "until EOF", takes `-1`, `+5` or `0x5` as
chunk sizes (a negative one ends the body: a PUT stored an empty object), reads
a whole chunk into memory whatever its size, and leaves trailers on the
connection to be parsed as the next request. Here: `framing_problem` (RFC 9112
section 6, checked with the headers, answered 400 by cheroot), and
`StrictChunkedRFile`. `GuardedRequest` (s3dav/server/httpguard.py) puts them in place.

cheroot internals used here: `HeaderReader.__call__(rfile, hdict)` and
`ChunkedRFile`'s attributes; tests/unit/test_httpguard_units.py pins them.
"""

from __future__ import annotations

import re

from cheroot import errors, server

CRLF = b"\r\n"
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
MAX_TRAILER_LINES = 100
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r\n")
DIGITS = re.compile(rb"[0-9]{1,19}")


def framing_problem(
    lengths: list[bytes], transfer_encoding: bytes | None, *, http10: bool, odd_names: list[bytes]
) -> str | None:
    """Why a request's body framing is refused (400), or None when it is sound.

    RFC 9112 section 6: one Content-Length of digits only (repeats must agree),
    or `Transfer-Encoding: chunked` and nothing else, never both; no
    Transfer-Encoding in HTTP/1.0; no header that WSGI would read as either
    (`Content_Length` becomes CONTENT_LENGTH there while cheroot ignores it).
    """
    if odd_names:
        return f"header {odd_names[0].decode('latin-1')!r}: underscores are not allowed here"
    for value in lengths:
        if not DIGITS.fullmatch(value.strip()):
            return f"Content-Length {value[:40].decode('latin-1')!r} is not a number of bytes"
    if len({int(v) for v in lengths}) > 1:
        return "conflicting Content-Length headers"
    if transfer_encoding is None:
        return None
    if http10:
        return "Transfer-Encoding is not allowed in HTTP/1.0"
    codings = [c.strip().lower() for c in transfer_encoding.split(b",")]
    if codings != [b"chunked"]:
        return "Transfer-Encoding: only chunked is supported"
    if lengths:
        return "both Content-Length and Transfer-Encoding"
    return None


def shown_target(method: bytes, uri: bytes, limit: int = 256) -> str:
    """`METHOD /path` as sent, in printable ASCII, for a refusal's reason.

    cheroot writes its refusals' text as latin-1: a path it has percent-decoded
    (`%cc%81`, an overlong `%e0%80%ae` read as U+FFFD) cannot be written that way,
    and the refusal became an empty 500. Bytes outside printable ASCII are shown
    percent-encoded instead; the query is left out and a long path cut short.
    """
    path = uri.split(b"?", 1)[0].split(b"#", 1)[0]
    shown = "".join(_ascii(c) for c in method[:20]) + " " + "".join(_ascii(c) for c in path)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _ascii(byte: int) -> str:
    return chr(byte) if 0x21 <= byte <= 0x7E else f"%{byte:02x}"


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line; ValueError (answered 400) for anything but 1-16 hex digits."""
    m = CHUNK_SIZE_LINE.fullmatch(line)
    if m is None:
        shown = line[:40].decode("latin-1")
        raise ValueError(f"Bad chunked transfer coding: chunk size {shown!r}")
    return int(m.group(1), 16)


class FramingHeaders(dict):
    """cheroot's header dict, remembering every Content-Length line (cheroot keeps the last)."""

    def __init__(self) -> None:
        super().__init__()
        self.lengths: list[bytes] = []
        self.odd_names: list[bytes] = []
        self.http10 = False
        self.target = ""  # "PUT /path", for the refusal's reason

    def __setitem__(self, key, value) -> None:
        if key == b"Content-Length":
            self.lengths.append(value)
        elif b"_" in key and key.replace(b"_", b"-") in (b"Content-Length", b"Transfer-Encoding"):
            self.odd_names.append(key)
        super().__setitem__(key, value)


class FramingHeaderReader(server.HeaderReader):
    """cheroot's header reader, then `framing_problem`: a ValueError is cheroot's 400."""

    def __call__(self, rfile, hdict=None):
        hdict = super().__call__(rfile, hdict)
        if isinstance(hdict, FramingHeaders):
            problem = framing_problem(
                hdict.lengths,
                hdict.get(b"Transfer-Encoding"),
                http10=hdict.http10,
                odd_names=hdict.odd_names,
            )
            if problem:
                raise ValueError(f"{hdict.target}: {problem}" if hdict.target else problem)
        return hdict


class StrictChunkedRFile(server.ChunkedRFile):
    """A chunked body read strictly and in pieces.

    Chunk sizes are 1 to 16 hex digits on a bounded line (cheroot took `-1` as
    the end and read lines of any length); a chunk is read in pieces of at most
    `bufsize` (cheroot read a whole chunk, of any size, into memory); trailers
    are read off the connection (cheroot left them to be parsed as the next
    request). Errors are ValueErrors starting "Bad chunked transfer", which
    s3dav.dav.faults answers 400.
    """

    def __init__(self, rfile, maxlen, bufsize=256 * 1024, max_trailer_bytes=64 * 1024):
        super().__init__(rfile, maxlen, bufsize)
        self._left = 0  # bytes of the current chunk not read yet
        self._max_trailer_bytes = max_trailer_bytes
        self.trailers: list[bytes] = []

    def _fetch(self) -> None:
        if self.closed:
            return
        if not self._left:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            self.bytes_read += len(line)
            size = chunk_size(line)
            if size == 0:
                self._read_trailers()
                self.closed = True
                return
            if self.maxlen and self.bytes_read + size > self.maxlen:
                raise errors.MaxSizeExceeded("Request Entity Too Large", self.maxlen)
            self._left = size
        piece = self.rfile.read(min(self._left, self.bufsize))
        if not piece:
            raise ValueError("Bad chunked transfer coding: the body ended inside a chunk")
        self._left -= len(piece)
        self.bytes_read += len(piece)
        self.buffer += piece
        if not self._left:
            crlf = self.rfile.read(2)
            if crlf != CRLF:
                raise ValueError(f"Bad chunked transfer coding: expected CRLF, got {crlf!r}")

    def _read_trailers(self) -> None:
        total = 0
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            total += len(line)
            if line == CRLF:
                return
            if not line.endswith(CRLF) or total > self._max_trailer_bytes:
                raise ValueError("Bad chunked transfer coding: bad trailer")
            if len(self.trailers) >= MAX_TRAILER_LINES:
                raise ValueError("Bad chunked transfer coding: too many trailers")
            self.trailers.append(line)

    def read(self, size=None):
        if size == 0:
            return b""
        parts, have = [], 0
        while size is None or size < 0 or have < size:
            if not self.buffer:
                self._fetch()
                if not self.buffer:
                    break
            if size is None or size < 0:
                take, self.buffer = self.buffer, b""
            else:
                take, self.buffer = self.buffer[: size - have], self.buffer[size - have :]
            parts.append(take)
            have += len(take)
        return b"".join(parts)

    def read_trailer_lines(self):
        if not self.closed:
            raise ValueError("Cannot read trailers until the request body has been read.")
        yield from self.trailers
