"""cheroot, bounded: what a client may make the server hold before and while it sends a request.

Why (issue 18): cheroot lets a slow client hold a worker while it trickles a
request head ("slowloris"), takes a head of any size, and reads body framing
loosely (`Content-Length: -1` as "until EOF", `-1` as a chunk size ending the
body, a whole chunk into memory, trailers left to be parsed as the next
request). The pieces, by concern:

- s3dav/server/headgate.py, `HeadGate`: request heads (and TLS handshakes) read
  off the worker pool, under `server.header_timeout` and `server.max_header_bytes`;
- s3dav/server/framing.py: `framing_problem`, `StrictChunkedRFile`;
- here, cheroot's classes wired to them: `GuardedRequest` (strict framing, a
  body read timeout `server.body_timeout` instead of cheroot's 60 s, an
  application's `Connection: close` honoured, since cheroot would otherwise read
  the rest of a refused body into memory to keep the connection, refusal texts
  that always encode), `GuardedConnection`, `DeferredHandshakeAdapter` and
  `GuardedServer`.

It touches cheroot internals: `_pyio.BufferedReader._read_buf/_read_pos` (the
bytes put back), `HTTPServer.process_conn`, `HTTPRequest.header_reader`,
`respond`, `simple_response` and `send_headers`. tests/unit/test_httpguard_units.py
checks each of them, so that a cheroot upgrade that changes them fails loudly.
"""

from __future__ import annotations

import ssl

from cheroot import server, wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from s3dav.server.framing import (
    FramingHeaderReader,
    FramingHeaders,
    StrictChunkedRFile,
    chunk_size,
    framing_problem,
    shown_target,
)
from s3dav.server.headgate import HeadGate, Limits, head_length, put_back, take_buffered

__all__ = [  # the pieces, importable from here as before the split
    "DeferredHandshakeAdapter",
    "GuardedConnection",
    "GuardedRequest",
    "GuardedServer",
    "HeadGate",
    "Limits",
    "StrictChunkedRFile",
    "chunk_size",
    "framing_problem",
    "head_length",
    "put_back",
    "shown_target",
    "take_buffered",
]


class GuardedRequest(server.HTTPRequest):
    header_reader = FramingHeaderReader()

    def read_request_headers(self):
        self.inheaders = FramingHeaders()
        self.inheaders.http10 = getattr(self, "request_protocol", b"") == b"HTTP/1.0"
        self.inheaders.target = shown_target(
            getattr(self, "method", b""), getattr(self, "uri", b"")
        )
        return super().read_request_headers()

    def simple_response(self, status, msg=""):
        """cheroot's simple_response, with text it cannot write as latin-1 escaped, not a 500."""
        if isinstance(msg, str):
            msg = msg.encode("latin-1", "backslashreplace")
        return super().simple_response(status, msg)

    def respond(self):
        """cheroot's respond with StrictChunkedRFile (413s were checked with the headers)."""
        if self.chunked_read:
            self.rfile = StrictChunkedRFile(
                self.conn.rfile,
                self.server.max_request_body_size,
                max_trailer_bytes=self.server.max_request_header_size or 64 * 1024,
            )
        else:
            length = int(self.inheaders.get(b"Content-Length", 0))
            self.rfile = server.KnownLengthRFile(self.conn.rfile, length)
        self.server.gateway(self).respond()
        if self.ready:
            self.ensure_headers_sent()
        if self.chunked_write:
            self.conn.wfile.write(b"0\r\n\r\n")

    def send_headers(self):
        """Honour an application's `Connection: close`; never read much of a body left unread.

        cheroot reads the unread rest of a body (in one piece, into memory) to keep
        the connection; after a refused upload that can be gigabytes.
        """
        if any(k.lower() == b"connection" and v.lower() == b"close" for k, v in self.outheaders):
            self.close_connection = True
        unread = getattr(self.rfile, "remaining", 0)
        if unread > 64 * 1024 or (unread and self.status[:1] in (b"4", b"5")):
            self.close_connection = True  # (a timed-out body cannot be read on at all)
        if self.chunked_read and not getattr(self.rfile, "closed", True):
            self.close_connection = True
        return super().send_headers()


class GuardedConnection(server.HTTPConnection):
    RequestHandlerClass = GuardedRequest

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # a TLS socket from DeferredHandshakeAdapter: the gate does its handshake
        sock = self.socket
        self.tls_pending = isinstance(sock, ssl.SSLSocket) and sock.cipher() is None


class DeferredHandshakeAdapter(BuiltinSSLAdapter):
    """cheroot's builtin TLS adapter, leaving the handshake to the HeadGate.

    cheroot does the handshake in its one accepting thread, blocking for up to
    the socket timeout (60 s): one client that connects and stays silent stops
    every new connection meanwhile. Here the gate does it without blocking,
    under `server.header_timeout`, and sets the connection's TLS environ after.
    """

    def wrap(self, sock):
        return self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True), {}


class GuardedServer(wsgi.Server):
    """cheroot's WSGI server with the HeadGate in front of its workers."""

    ConnectionClass = GuardedConnection

    def __init__(self, *args, limits: Limits, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.max_request_header_size = limits.max_header_bytes
        self.max_request_body_size = limits.max_body_bytes
        self.gate = HeadGate(
            limits,
            forward=super().process_conn,
            tls_environ=lambda sock: self.ssl_adapter.get_environ(sock),
        )

    def prepare(self) -> None:
        super().prepare()
        self.gate.start()

    def process_conn(self, conn) -> None:
        self.gate.admit(conn)

    def stop(self) -> None:
        super().stop()
        self.gate.stop()
