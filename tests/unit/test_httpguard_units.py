"""s3dav/server/httpguard.py: its pure checks, and the cheroot internals it relies on.

The second half fails loudly when a cheroot upgrade changes what httpguard
patches (the reader's buffer, the server's process_conn, the request's header
reader, respond and send_headers), instead of the guard silently doing nothing.
"""

from __future__ import annotations

import inspect
import io
import socket

import pytest
from cheroot import makefile, server, wsgi
from cheroot.connections import ConnectionManager

from s3dav.server import httpguard
from s3dav.server.httpguard import chunk_size, framing_problem, head_length, shown_target


def test_head_length():
    assert head_length(b"GET / HTTP/1.1\r\nHost: x\r\n") is None
    assert head_length(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27
    assert head_length(b"GET / HTTP/1.1\nHost: x\n\nbody") == 24  # cheroot answers it 400
    assert head_length(b"") is None


@pytest.mark.parametrize(
    ("lengths", "te", "http10", "problem"),
    [
        ([b"5"], None, False, None),
        ([b"5", b"5"], None, False, None),
        ([b"0"], None, False, None),
        ([], b"chunked", False, None),
        ([], b"Chunked ", False, None),
        ([b"-1"], None, False, "not a number"),
        ([b"+5"], None, False, "not a number"),
        ([b"5_0"], None, False, "not a number"),
        ([b"0x5"], None, False, "not a number"),
        ([b"5, 5"], None, False, "not a number"),
        ([b"9" * 20], None, False, "not a number"),
        ([b"5", b"6"], None, False, "conflicting"),
        ([], b"gzip", False, "only chunked"),
        ([], b"gzip, chunked", False, "only chunked"),
        ([], b"chunked, chunked", False, "only chunked"),
        ([b"5"], b"chunked", False, "both"),
        ([], b"chunked", True, "HTTP/1.0"),
    ],
)
def test_framing_problem(lengths, te, http10, problem):
    found = framing_problem(lengths, te, http10=http10, odd_names=[])
    assert (found is None) if problem is None else (problem in found)


def test_framing_problem_underscore_names():
    assert "underscores" in framing_problem([], None, http10=False, odd_names=[b"Content_Length"])


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"0\r\n", 0),
        (b"1a\r\n", 26),
        (b"A;x=y\r\n", 10),
        (b"5 ;ext\r\n", 5),
        (b"f" * 16 + b"\r\n", 2**64 - 1),
    ],
)
def test_chunk_size(line, size):
    assert chunk_size(line) == size


@pytest.mark.parametrize(
    "line",
    [
        b"-1\r\n",
        b"+5\r\n",
        b"0x5\r\n",
        b"1_0\r\n",
        b"1" * 17 + b"\r\n",
        b"zz\r\n",
        b"5\n",
        b"",
        b" 5\r\n",
    ],
)
def test_chunk_size_refused(line):
    with pytest.raises(ValueError, match="^Bad chunked transfer"):
        chunk_size(line)


@pytest.mark.parametrize(
    ("method", "uri", "shown"),
    [
        (b"PUT", b"/a/b.txt", "PUT /a/b.txt"),
        (b"PUT", b"/ann//%e0%80%ae//..//,/", "PUT /ann//%e0%80%ae//..//,/"),
        (b"GET", b"/x?q=\xc3\xa9#f", "GET /x"),
        (b"GET", "/\u00e9t\u00e9\u202e".encode(), "GET /%c3%a9t%c3%a9%e2%80%ae"),
        (b"G\xffT", b"/a\x00\x7f b", "G%ffT /a%00%7f%20b"),
        (b"GET", b"/" + b"k" * 300, "GET /" + "k" * 248 + "..."),
    ],
)
def test_shown_target_is_printable_ascii(method, uri, shown):
    assert shown_target(method, uri) == shown
    assert len(shown) <= 256


def chunked(data: bytes, bufsize: int = 4) -> httpguard.StrictChunkedRFile:
    return httpguard.StrictChunkedRFile(io.BufferedReader(io.BytesIO(data)), 0, bufsize=bufsize)


def test_strict_chunked_reads_in_pieces_and_takes_trailers():
    body = chunked(b"a\r\n0123456789\r\n3;x\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\nNEXT")
    assert body.read(3) == b"012"
    assert body.read() == b"3456789abc"
    assert body.read() == b""
    assert list(body.read_trailer_lines()) == [b"X-Sum: 1\r\n"]
    assert body.rfile.read() == b"NEXT"  # the connection is left at the next request


def test_strict_chunked_huge_chunk_is_not_read_whole():
    body = chunked(b"ffffffffffffffff\r\n" + b"x" * 100, bufsize=16)
    assert body.read(10) == b"x" * 10
    assert len(body.buffer) <= 16


@pytest.mark.parametrize(
    "data", [b"-1\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"5\r\nhel", b"0" * 5000]
)
def test_strict_chunked_refuses(data):
    with pytest.raises(ValueError, match="^Bad chunked transfer"):
        chunked(data, bufsize=64).read()


# -- the cheroot internals httpguard relies on -------------------------------------------------


def test_cheroot_reader_buffer_can_be_taken_and_put_back():
    a, b = socket.socketpair()
    try:
        rfile = makefile.MakeFile(a, "rb")
        assert hasattr(rfile, "_read_buf") and hasattr(rfile, "_read_pos")
        assert hasattr(rfile, "_read_lock") and hasattr(rfile, "has_data")
        b.sendall(b"line one\nrest")
        assert rfile.readline() == b"line one\n"
        assert rfile.has_data()
        assert httpguard.take_buffered(rfile) == b"rest"
        assert not rfile.has_data()
        httpguard.put_back(rfile, b"GET / HTTP/1.1\r\n")
        assert rfile.has_data()
        assert rfile.readline() == b"GET / HTTP/1.1\r\n"
    finally:
        a.close()
        b.close()


def test_cheroot_hands_connections_over_through_process_conn():
    # new connections, readable kept-alive ones and pipelined ones all go through it
    src = inspect.getsource(ConnectionManager)
    assert src.count("self.server.process_conn(") >= 3
    assert "def process_conn(self, conn)" in inspect.getsource(server.HTTPServer)
    assert issubclass(httpguard.GuardedServer, wsgi.Server)


def test_cheroot_request_internals_httpguard_overrides():
    req = inspect.getsource(server.HTTPRequest)
    # the header reader is a class attribute, called with (rfile, self.inheaders)
    assert "self.header_reader(self.rfile, self.inheaders)" in req
    # a ValueError from it is answered 400 with its message
    assert (
        "except ValueError as ex:\n            self.simple_response('400 Bad Request', ex.args[0])"
        in req
    )
    # respond() builds the body reader and calls the gateway, as GuardedRequest.respond copies
    respond = inspect.getsource(server.HTTPRequest.respond)
    for part in (
        "ChunkedRFile(self.conn.rfile, mrbs)",
        "KnownLengthRFile(self.conn.rfile, cl)",
        "self.server.gateway(self).respond()",
        "self.chunked_write",
    ):
        assert part in respond
    # send_headers drains an unread body unless close_connection is set
    assert "if (not self.close_connection) and (not self.chunked_read):" in req
    assert server.ChunkedRFile.__init__.__code__.co_varnames[:4] == (
        "self",
        "rfile",
        "maxlen",
        "bufsize",
    )
    assert server.HTTPConnection.RequestHandlerClass is server.HTTPRequest


def test_simple_response_writes_any_reason():
    # cheroot encodes a str reason as latin-1 (a path with U+0301 in it was an empty 500);
    # GuardedRequest hands it bytes, which cheroot writes as they are
    src = inspect.getsource(server.HTTPRequest.simple_response)
    assert "if isinstance(msg, str):" in src and "content_length = 'Content-Length: %s" in src
    out = io.BytesIO()

    class Conn:
        wfile = out

    class Server:
        protocol = "HTTP/1.1"

    req = httpguard.GuardedRequest.__new__(httpguard.GuardedRequest)
    req.conn, req.server, req.response_protocol = Conn, Server, "HTTP/1.1"
    req.simple_response("400 Bad Request", "PUT /e\u0301\ufffd: bad")
    head, body = out.getvalue().split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert body == b"PUT /e\\u0301\\ufffd: bad"
    assert f"Content-Length: {len(body)}".encode() in head


def test_cheroot_tls_adapter_internals():
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    assert issubclass(httpguard.DeferredHandshakeAdapter, BuiltinSSLAdapter)
    wrap = inspect.getsource(BuiltinSSLAdapter.wrap)
    assert "self.context.wrap_socket(" in wrap and "return s, self.get_environ(s)" in wrap
    conns = inspect.getsource(ConnectionManager._from_server_socket)
    assert "s, ssl_env = self.server.ssl_adapter.wrap(s)" in conns
    assert "conn.ssl_env = ssl_env" in conns
