"""The one file of a `multipart/form-data` POST, streamed (the drop box form, issue 17).

A browser without script uploads through a form; its body is multipart. Only
the first part with a filename matters: its bytes are yielded as they arrive,
holding back no more than the boundary's length, so a big upload costs a few
KiB of memory. Other (small) fields before it are skipped; what follows it is
ignored. A body that ends inside the file raises FormError, and the upload it
feeds is then aborted, never stored half.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from s3dav.transfer.uploads import IncompleteBody

READ = 64 * 1024
MAX_HEADERS = 16 * 1024  # of one part
MAX_FIELD = 64 * 1024  # a non-file field, or the preamble


class FormError(IncompleteBody):
    """A form body that is not what the drop box form sends (cut short or malformed).

    An IncompleteBody, so that when it ends a PUT inside WsgiDAV the dav room answers
    400 "nothing was stored" (dav/faults.py), not a 500.
    """


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a `multipart/form-data; boundary=...` type, else FormError."""
    m = re.match(
        r'\s*multipart/form-data\s*;.*?\bboundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))',
        content_type or "",
        re.I,
    )
    if not m:
        raise FormError("expected a multipart/form-data body with a boundary")
    return (m.group(1) or m.group(2)).encode("latin-1")


def filename_of(headers: bytes) -> str | None:
    """The filename of a part's Content-Disposition (None for a plain field)."""
    text = headers.decode("utf-8", "replace")
    m = re.search(r'^content-disposition:.*?\bfilename="((?:[^"\\]|\\.)*)"', text, re.I | re.M)
    if not m:
        return None
    name = m.group(1).replace('\\"', '"')
    return name.replace("\\", "/").rsplit("/", 1)[-1]  # "C:\fakepath\x.txt" -> "x.txt"


class FormFile:
    """Reads a multipart body from `read(n)` up to its first file part."""

    def __init__(self, read: Callable[[int], bytes], boundary: bytes) -> None:
        self._read = read
        self._delim = b"\r\n--" + boundary
        self._buf = b"\r\n"  # the first delimiter then looks like all the others
        self._eof = False

    def _fill(self) -> None:
        chunk = self._read(READ) if not self._eof else b""
        if not chunk:
            self._eof = True
        self._buf += chunk

    def _take_until(self, marker: bytes, limit: int, what: str) -> bytes:
        while (at := self._buf.find(marker)) < 0:
            if len(self._buf) > limit + len(marker) or self._eof:
                raise FormError(f"form body: {what} too long or cut short")
            self._fill()
        head, self._buf = self._buf[:at], self._buf[at + len(marker) :]
        return head

    def open(self) -> str:
        """Skip to the first file part; its filename ("" if the user picked none)."""
        self._take_until(self._delim, MAX_FIELD, "preamble")
        while True:
            while len(self._buf) < 2 and not self._eof:
                self._fill()
            if self._buf.startswith(b"--"):
                raise FormError("the form holds no file")
            headers = self._take_until(b"\r\n\r\n", MAX_HEADERS, "part headers")
            name = filename_of(headers)
            if name is not None:
                return name
            self._take_until(self._delim, MAX_FIELD, "form field")

    def chunks(self) -> Iterator[bytes]:
        """The file part's bytes, as they arrive."""
        keep = len(self._delim) - 1
        while True:
            at = self._buf.find(self._delim)
            if at >= 0:
                data, self._buf = self._buf[:at], self._buf[at:]
                if data:
                    yield data
                return
            if self._eof:
                raise FormError("form body ends inside the file")
            if len(self._buf) > keep:
                data, self._buf = self._buf[:-keep], self._buf[-keep:]
                yield data
            self._fill()


class ChunkReader:
    """A `read(n)` file over an iterator of chunks (a WSGI input for WsgiDAV's PUT)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        self.count += len(data)
        return data
