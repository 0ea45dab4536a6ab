"""Reading a PUT body from cheroot's socket (server/bodyio.py: direct_readinto / direct_read).

Real cheroot readers over a real socket pair; no gateway needed. The case
that matters: cheroot has already buffered the start of the body along with
the headers. Those bytes must be taken alone, after which the reader is empty
and every later read goes straight to the socket. (Reading more than was
buffered through cheroot's reader left it buffering for good, and made it
allocate a buffer the size of each read for every piece that arrived: an
upload's CPU doubled from its second PUT on.)
"""

from __future__ import annotations

import os
import socket
import threading

import pytest
from cheroot.makefile import StreamReader
from cheroot.server import ChunkedRFile, KnownLengthRFile

from s3dav.server.bodyio import CountingInput, direct_read, direct_readinto

HEAD = b"PUT /f HTTP/1.1\r\nContent-Length: %d\r\n\r\n"


@pytest.fixture
def conn():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def body_after_headers(conn, body: bytes, first: int):
    """A cheroot body whose first `first` bytes arrived with the headers."""
    client, server = conn
    client.sendall(HEAD % len(body) + body[:first])
    rfile = StreamReader(server, "rb", 64 * 1024)
    while rfile.readline() not in (b"\r\n", b""):  # cheroot reads the headers so
        pass

    def rest():
        client.sendall(body[first:])

    sender = threading.Thread(target=rest)
    sender.start()
    return KnownLengthRFile(rfile, len(body)), rfile, sender


def test_buffered_start_is_taken_alone_then_socket_reads(conn):
    body = os.urandom(3 * 1024 * 1024 + 17)
    wrapped, rfile, sender = body_after_headers(conn, body, first=1000)
    assert rfile.has_data()  # the start of the body came with the headers
    buf = bytearray(len(body) + 10)
    with memoryview(buf) as view:
        n = direct_readinto(wrapped, view)
        assert n == 1000  # only what was buffered: nothing read through cheroot's reader
        assert not rfile.has_data()
        got = n
        while True:
            with view[got:] as rest:
                n = direct_readinto(wrapped, rest)
            if not n:
                break
            assert not rfile.has_data()  # never buffering again
            got += n
    sender.join()
    assert bytes(buf[:got]) == body
    assert wrapped.remaining == 0
    assert rfile.bytes_read >= len(body)


def test_direct_read_returns_full_reads(conn):
    body = os.urandom(2 * 1024 * 1024)
    wrapped, rfile, sender = body_after_headers(conn, body, first=5000)
    counted = CountingInput(wrapped)
    parts = [counted.read(256 * 1024) for _ in range(8)]
    sender.join()
    assert [len(p) for p in parts] == [256 * 1024] * 8  # a read is short only at the end
    assert b"".join(parts) == body
    assert counted.read(10) == b""
    assert counted.count == len(body)


def test_readinto_direct_counts_and_ends_at_the_length(conn):
    body = os.urandom(100_000)
    wrapped, _, sender = body_after_headers(conn, body, first=0)
    counted = CountingInput(wrapped)
    buf = bytearray(200_000)
    got = 0
    with memoryview(buf) as view:
        while n := counted.readinto_direct(view[got:]):
            got += n
    sender.join()
    assert got == len(body) and bytes(buf[:got]) == body
    assert counted.count == len(body)
    assert counted.readinto_direct(memoryview(bytearray(1))) == 0


def test_chunked_body_is_not_read_directly(conn):
    client, server = conn
    client.sendall(b"5\r\nhello\r\n0\r\n\r\n")
    chunked = ChunkedRFile(StreamReader(server, "rb", 64 * 1024), 1024)
    assert direct_readinto(chunked, memoryview(bytearray(10))) is None
    assert direct_read(chunked, 10) is None
    assert CountingInput(chunked).read() == b"hello"
