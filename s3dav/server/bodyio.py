"""Reading request bodies off cheroot's socket with one copy, and counting what was read.

The gateway's PUT path reads a body into its part buffers (`readinto_direct`);
every other reader gets `CountingInput.read`, which takes the same short cut
where it can. Counted bytes feed the access log and `s3dav_bytes_up`.
"""

from __future__ import annotations


def _direct(body):
    """(rfile, raw socket) of a known-length cheroot body, or None for any other."""
    rfile = getattr(body, "rfile", None)
    raw = getattr(rfile, "raw", None)
    if not isinstance(getattr(body, "remaining", None), int) or raw is None:
        return None
    if not hasattr(rfile, "has_data") or not hasattr(rfile, "read1"):
        return None
    return rfile, raw


def direct_readinto(body, view: memoryview) -> int | None:
    """Read the next bytes of a known-length cheroot body into `view`.

    The bytes read (0 at the end of the body or with an empty `view`), or
    None for a body that cannot be read so (chunked, another server).

    cheroot's reader is the pure-Python `_pyio.BufferedReader`: a 256 KiB read
    costs three copies, and a read bigger than what has arrived allocates a
    buffer of the full size for every piece it gets (an 8 MiB part: hundreds
    of fresh 8 MiB allocations). Here the bytes cheroot buffered with the
    headers are taken alone (`read1`), and everything after comes from the
    socket with `readinto`: one copy, no allocation. A large upload reads into
    its part buffers this way.
    """
    direct = _direct(body)
    if direct is None:
        return None
    rfile, raw = direct
    want = min(len(view), body.remaining)
    if not want:
        return 0
    if rfile.has_data():
        data = rfile.read1(want)  # only what is buffered: no read from the socket
        n = len(data)
        view[:n] = data
    else:
        n = raw.readinto(view[:want]) or 0
    body.remaining -= n
    rfile.bytes_read = getattr(rfile, "bytes_read", 0) + n
    return n


def direct_read(body, size: int | None = None) -> bytearray | None:
    """`size` bytes (all that remain when None) of a known-length cheroot body,
    fewer only at its end, read with `direct_readinto`; None for another body."""
    if _direct(body) is None:
        return None
    size = body.remaining if size is None or size < 0 else min(size, body.remaining)
    buf = bytearray(size)
    got = 0
    with memoryview(buf) as view:
        while got < size:
            with view[got:] as rest:
                n = direct_readinto(body, rest)
            if not n:
                break
            got += n
    del buf[got:]
    return buf


class CountingInput:
    """wsgi.input that counts the bytes a handler reads (chunked bodies have no length)."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.count = 0

    def read(self, *args):
        data = direct_read(self._raw, *args)
        if data is None:
            data = self._raw.read(*args)
        self.count += len(data)
        return data

    def readinto_direct(self, view: memoryview) -> int | None:
        """`direct_readinto` on this body: bytes read, or None when it cannot."""
        n = direct_readinto(self._raw, view)
        if n:
            self.count += n
        return n

    def readline(self, *args):
        data = self._raw.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args):
        lines = self._raw.readlines(*args)
        self.count += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self._raw:
            self.count += len(line)
            yield line

    def __getattr__(self, name):  # cheroot's length / _consumed, used by WsgiDAV
        return getattr(self._raw, name)
