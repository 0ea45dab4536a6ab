"""cheroot's WSGI gateway, sending a response's headers and first body chunk together.

cheroot writes the header block and then each body chunk with a socket send
of its own. For the small answers most WebDAV requests get (a PROPFIND of a
folder, a GET of a small cached file) the extra send was a fifth to a third of
the gateway's CPU per request: on loopback the kernel delivers each send at
once, in the sender's time. Here the header block is held until the first body
chunk and both go in one send. Nothing else changes: the bytes on the wire are
the same, responses without a body still send their headers at the end, and a
big first chunk is sent as before (copying it would cost more than a send).
"""

from __future__ import annotations

from cheroot import wsgi

JOIN_LIMIT = 64 * 1024  # a first chunk up to this size is joined to the headers


class _HoldFirst:
    """A stand-in for the connection's writer: holds one write, sends it with the next."""

    def __init__(self, real) -> None:
        self._real = real
        self._held: bytes | None = None

    def write(self, data: bytes) -> int:
        if self._held is None:
            self._held = bytes(data)
            return len(data)
        data, self._held = self._held + data, b""
        return self._real.write(data)

    def release(self) -> None:
        """Send what is still held (the request ended between headers and body)."""
        if self._held:
            held, self._held = self._held, b""
            self._real.write(held)

    def __getattr__(self, name):
        return getattr(self._real, name)


class OneWriteGateway(wsgi.Gateway_10):
    def write(self, chunk):
        req = self.req
        if req.sent_headers or len(chunk) > JOIN_LIMIT:
            return super().write(chunk)
        conn = req.conn
        real = conn.wfile
        conn.wfile = holder = _HoldFirst(real)
        try:
            return super().write(chunk)
        finally:
            conn.wfile = real
            holder.release()
