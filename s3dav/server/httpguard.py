"""cheroot, bounded: what a client may make the server hold before and while it sends a request.

Why this module exists (issue 18). cheroot hands every new connection, and
every kept-alive one that turns readable, straight to a worker thread, which
then blocks reading the request head with a per-recv timeout. A client that
sends one header byte every few seconds ("slowloris") holds a worker for ever;
`threads` such sockets stop all service. cheroot also takes a head of any size
(a 16 MiB header was read into memory), reads `Content-Length: -1` as "until
EOF", takes `-1`, `+5` or `0x5` as chunk sizes (a negative one ends the body:
a PUT stored an empty object), reads a whole chunk into memory whatever its
size, and leaves trailers on the connection to be parsed as the next request.

So:
- `HeadGate`: one thread reads request heads for all connections, without a
  worker, under a deadline for the whole head (`server.header_timeout`; a byte
  now and then does not extend it) and a size limit (`server.max_header_bytes`).
  Only a connection whose head has fully arrived goes to the worker pool, with
  the bytes read put back into its reader. Late heads get 408, big ones 431.
- `GuardedRequest`: strict framing (`framing_problem`, `StrictChunkedRFile`),
  a body read timeout (`server.body_timeout`) instead of cheroot's 60 s, and a
  `Connection: close` from the application honoured (cheroot would otherwise
  read the rest of a refused body into memory to keep the connection).

It touches cheroot internals: `_pyio.BufferedReader._read_buf/_read_pos` (the
bytes put back), `HTTPServer.process_conn`, `HTTPRequest.header_reader`,
`respond` and `send_headers`. tests/test_httpguard_units.py checks each of
them, so that a cheroot upgrade that changes them fails loudly.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import queue
import re
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from cheroot import errors, server, wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

_log = logging.getLogger(__name__)

CRLF = b"\r\n"
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
MAX_TRAILER_LINES = 100
LINGER_SECONDS = 2.0  # after a refusal, how long unread request bytes are discarded
LINGER_BYTES = 64 * 1024**2  # at most this many of them
RECV_SIZE = 64 * 1024
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r\n")
DIGITS = re.compile(rb"[0-9]{1,19}")


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    body_timeout: float = 30.0
    max_body_bytes: int = 5 * 1024**4


# -- pure checks ------------------------------------------------------------------------------


def head_length(data: bytes | bytearray) -> int | None:
    """Bytes of the request head (through its blank line) in `data`, None while incomplete.

    A head with bare LF line ends counts as complete at its first empty line:
    cheroot then answers it 400 at once instead of it waiting for a deadline.
    """
    ends = [i + n for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else None


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


# -- the head gate -----------------------------------------------------------------------------


def take_buffered(rfile) -> bytes:
    """The bytes cheroot's reader has buffered but not handed out; its buffer is left empty."""
    with rfile._read_lock:
        data = rfile._read_buf[rfile._read_pos :]
        rfile._read_buf, rfile._read_pos = b"", 0
    return bytes(data)


def put_back(rfile, data: bytes) -> None:
    """Make `data` the next bytes cheroot's reader hands out."""
    with rfile._read_lock:
        rfile._read_buf = bytes(data) + rfile._read_buf[rfile._read_pos :]
        rfile._read_pos = 0


def refusal(status: str, reason: str) -> bytes:
    body = f"{status}: {reason}\n".encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class _Waiting:
    conn: object
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    lingering: bool = False
    discarded: int = 0
    done: bool = False


class HeadGate:
    """Reads request heads off worker threads; see the module docstring."""

    def __init__(self, limits: Limits, forward, tls_environ=None) -> None:
        self.limits = limits
        self.forward = forward  # conn -> None: hand a connection with a whole head to a worker
        self.tls_environ = tls_environ  # TLS socket -> its WSGI environ entries
        self._selector = selectors.DefaultSelector()
        self._incoming: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._deadlines: list[tuple[float, int, _Waiting]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="s3dav-headgate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(5)

    def admit(self, conn) -> None:
        """Called for every request a connection is about to make (any thread)."""
        try:
            self._admit(conn)
        except Exception:  # noqa: BLE001 - never into cheroot's accepting loop
            _log.exception("while taking a connection's request head")
            with contextlib.suppress(OSError):
                conn.close()

    def _admit(self, conn) -> None:
        buffered = take_buffered(conn.rfile)
        if head_length(buffered) is None and not getattr(conn, "tls_pending", False):
            buffered += self._read_now(conn)  # usually the whole head: no trip to the gate
        n = head_length(buffered)
        if n is not None and n <= self.limits.max_header_bytes:
            put_back(conn.rfile, buffered)
            self._to_worker(conn)
            return
        self._incoming.put((conn, buffered))
        self._wake()

    @staticmethod
    def _read_now(conn) -> bytes:
        """What has arrived on the connection's socket, without waiting."""
        try:
            conn.socket.settimeout(0.0)
            return conn.socket.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return b""
        except OSError:
            return b""  # the gate's own read sees the error again and closes

    # -- the gate's thread ----------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = 0.5
                if self._deadlines:
                    timeout = max(0.0, min(timeout, self._deadlines[0][0] - time.monotonic()))
                for key, _ in self._selector.select(timeout):
                    if key.data is None:
                        self._take_incoming()
                    else:
                        self._guarded(self._readable, key.data)
                self._expire(time.monotonic())
        finally:
            for key in list(self._selector.get_map().values()):
                if key.data is not None:
                    self._close(key.data)
            self._selector.close()

    def _guarded(self, step, w: _Waiting) -> None:
        """One connection's step; its failure closes that connection, not the gate."""
        try:
            step(w)
        except Exception:  # noqa: BLE001 - the gate serves every other connection
            _log.exception("while reading a request head")
            self._close(w)

    def _take_incoming(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        while True:
            try:
                conn, buffered = self._incoming.get_nowait()
            except queue.Empty:
                return
            w = _Waiting(conn, time.monotonic() + self.limits.header_timeout, bytearray(buffered))
            try:
                conn.socket.settimeout(0.0)
                self._selector.register(conn.socket, selectors.EVENT_READ, w)
            except (OSError, ValueError):
                conn.close()
                continue
            heapq.heappush(self._deadlines, (w.deadline, next(self._seq), w))
            if getattr(conn, "tls_pending", False):
                self._guarded(self._handshake, w)
            elif w.data:
                self._guarded(self._check, w)

    def _handshake(self, w: _Waiting) -> bool:
        """Go on with a TLS handshake without blocking; True once it is done."""
        sock = w.conn.socket
        try:
            sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                plain = refusal("400 Bad Request", "this port speaks HTTPS only")
                with contextlib.suppress(OSError):
                    socket.socket.send(sock, plain)  # the plain socket under the TLS one
            self._close(w)
            return False
        except OSError:
            self._close(w)
            return False
        w.conn.tls_pending = False
        if self.tls_environ is not None:
            w.conn.ssl_env = self.tls_environ(sock)
        return True

    def _readable(self, w: _Waiting) -> None:
        sock = w.conn.socket
        if getattr(w.conn, "tls_pending", False) and not self._handshake(w):
            return
        while True:
            try:
                got = sock.recv(RECV_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError:
                self._close(w)
                return
            if not got:
                self._close(w)  # the client went away (or finished after a refusal)
                return
            if w.lingering:
                w.discarded += len(got)
                if w.discarded > LINGER_BYTES:
                    self._close(w)
                    return
                continue
            w.data += got
            if len(w.data) > self.limits.max_header_bytes or head_length(w.data) is not None:
                break
        if not w.lingering:
            self._check(w)

    def _check(self, w: _Waiting) -> None:
        n = head_length(w.data)
        if n is not None and n <= self.limits.max_header_bytes:
            self._unregister(w)
            put_back(w.conn.rfile, bytes(w.data))
            self._to_worker(w.conn)
        elif n is not None or len(w.data) > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._refuse(
                w,
                "431 Request Header Fields Too Large",
                f"the request head is over {limit} bytes",
            )

    def _expire(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, w = heapq.heappop(self._deadlines)
            if w.done or deadline != w.deadline:
                continue  # forwarded or closed, or given a new deadline (lingering)
            if w.lingering:
                self._close(w)
            elif w.data.strip():
                self._guarded(self._late, w)
            else:
                self._close(w)  # a connection that never sent anything: just dropped

    def _late(self, w: _Waiting) -> None:
        limit = self.limits.header_timeout
        self._refuse(w, "408 Request Timeout", f"the request head took over {limit:g}s")

    def _refuse(self, w: _Waiting, status: str, reason: str) -> None:
        sock = w.conn.socket
        with contextlib.suppress(OSError, ssl.SSLError):
            sock.send(refusal(status, reason))
        if not isinstance(sock, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        # Read and drop what the client still sends for a while, so that it can
        # finish sending and read the answer rather than get a reset.
        w.lingering, w.data = True, bytearray()
        w.deadline = time.monotonic() + LINGER_SECONDS
        heapq.heappush(self._deadlines, (w.deadline, next(self._seq), w))

    def _to_worker(self, conn) -> None:
        try:
            conn.socket.settimeout(self.limits.body_timeout)
        except OSError:
            conn.close()
            return
        self.forward(conn)

    def _unregister(self, w: _Waiting) -> None:
        w.done = True
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(w.conn.socket)

    def _close(self, w: _Waiting) -> None:
        self._unregister(w)
        with contextlib.suppress(OSError):
            w.conn.close()


# -- requests: strict framing, bounded body reads ------------------------------------------------


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
