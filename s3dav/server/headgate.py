"""The head gate: request heads read off cheroot's worker threads, under a deadline and a size.

cheroot hands every new connection, and every kept-alive one that turns
readable, straight to a worker thread, which then blocks reading the request
head with a per-recv timeout: a client that sends one header byte every few
seconds ("slowloris") holds a worker for ever, and `threads` such sockets stop
all service. So one thread (`HeadGate`) reads the heads of all connections,
without a worker, under a deadline for the whole head (`server.header_timeout`;
a byte now and then does not extend it) and a size limit
(`server.max_header_bytes`). Only a connection whose head has fully arrived
goes to the worker pool, with the bytes read put back into its reader. Late
heads get 408, big ones 431. With TLS the gate also does the handshake, without
blocking (see `DeferredHandshakeAdapter` in s3dav/server/httpguard.py).

cheroot internals used here: `_pyio.BufferedReader._read_buf/_read_pos/_read_lock`
(the bytes put back); tests/unit/test_httpguard_units.py pins them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

_log = logging.getLogger(__name__)

LINGER_SECONDS = 2.0  # after a refusal, how long unread request bytes are discarded
LINGER_BYTES = 64 * 1024**2  # at most this many of them
RECV_SIZE = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The server.* bounds on a request (s3dav/config.py): its head, and waits for its body."""

    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    body_timeout: float = 30.0
    max_body_bytes: int = 5 * 1024**4


def head_length(data: bytes | bytearray) -> int | None:
    """Bytes of the request head (through its blank line) in `data`, None while incomplete.

    A head with bare LF line ends counts as complete at its first empty line:
    cheroot then answers it 400 at once instead of it waiting for a deadline.
    """
    ends = [i + n for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else None


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
        f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n\r\n"
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
