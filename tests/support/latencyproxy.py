"""A latency-injecting, request-counting S3 proxy on loopback.

Used by benchmarks/run.py, and by tests that hold S3 back (integration/test_writeback.py).

Every request waits `latency` seconds (one simulated round trip to a far
region), is counted by kind, then forwarded to the upstream S3 endpoint (moto's
server) with bodies streamed both ways. A request with `Expect: 100-continue`
also waits `latency` before its "100 Continue", as a far S3 answers it one round
trip after the headers left (botocore asks it for every PUT body by default).
Path-style addressing is assumed (`/bucket/key`); signatures pass through
untouched (Host is kept).

Control endpoints (not forwarded, not counted, no delay):
  GET  /__proxy__/counts        -> {"LIST": 3, "HEAD": 10, ...}
  GET  /__proxy__/spans         -> {"LIST": {"first": 0.0, "last": 0.31, "peak": 8}, ...}:
                                   per kind, when its first request came and its last answer
                                   went (seconds since the last reset) and the most in flight
  POST /__proxy__/reset         -> counts and spans back to zero
  POST /__proxy__/latency?ms=N  -> change the injected latency

Run: python -m tests.support.latencyproxy --upstream http://127.0.0.1:5000 --port 5100 \
    --latency-ms 50
"""

from __future__ import annotations

import argparse
import http.client
import json
import select
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

CHUNK = 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def classify(method: str, path: str, query: str, headers) -> str:
    """The kind of an S3 request, as s3dav's own counter names it."""
    q = parse_qs(query, keep_blank_values=True)
    parts = [p for p in path.split("/") if p]
    bucket_level = len(parts) <= 1
    if method == "GET":
        if bucket_level or "uploads" in q or "uploadId" in q:
            return "LIST"
        return "GET"
    if method == "HEAD":
        return "HEAD"
    if method == "PUT":
        if headers.get("x-amz-copy-source"):
            return "COPY"
        if "partNumber" in q:
            return "PART"
        return "PUT"
    if method == "POST":
        if "delete" in q:
            return "DELETE"
        return "MULTIPART"
    if method == "DELETE":
        return "MULTIPART" if "uploadId" in q else "DELETE"
    return "OTHER"


class State:
    def __init__(self, upstream: str, latency: float) -> None:
        u = urlsplit(upstream)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.latency = latency
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.since = time.monotonic()  # the last reset
        self.spans: dict[str, dict[str, float]] = {}
        self.in_flight: Counter[str] = Counter()
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        """This thread's upstream connection; one the upstream closed while idle is replaced.

        (cheroot closes idle keep-alive connections after 10 s. Forwarding on one
        would answer 502 and make the client retry: a request counted twice.)
        """
        c = getattr(self.local, "conn", None)
        if c is not None and c.sock is not None and select.select([c.sock], [], [], 0)[0]:
            c.close()  # readable while idle: closed by the upstream (or junk): start afresh
            c = None
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=300)
            self.local.conn = c
        return c

    def started(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            self.in_flight[kind] += 1
            now = time.monotonic() - self.since
            span = self.spans.setdefault(kind, {"first": now, "last": now, "peak": 0})
            span["peak"] = max(span["peak"], self.in_flight[kind])

    def ended(self, kind: str) -> None:
        with self.lock:
            self.in_flight[kind] -= 1
            if kind in self.spans:
                self.spans[kind]["last"] = time.monotonic() - self.since

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.spans.clear()
            self.since = time.monotonic()

    def drop_conn(self) -> None:
        c = getattr(self.local, "conn", None)
        if c is not None:
            c.close()
            self.local.conn = None


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def handle_expect_100(self) -> bool:
            if state.latency:
                time.sleep(state.latency)  # the interim answer comes from the far S3 too
            return super().handle_expect_100()

        def _control(self, u) -> bool:
            if not u.path.startswith("/__proxy__/"):
                return False
            what = u.path[len("/__proxy__/") :]
            if what == "counts":
                with state.lock:
                    body = json.dumps(dict(state.counts)).encode()
            elif what == "spans":
                with state.lock:
                    body = json.dumps(state.spans).encode()
            elif what == "reset":
                state.reset()
                body = b"{}"
            elif what == "latency":
                state.latency = float(parse_qs(u.query)["ms"][0]) / 1000
                body = b"{}"
            else:
                self.send_error(404)
                return True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True

        def _body_chunks(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return
                    yield self.rfile.read(size)
                    self.rfile.readline()
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(CHUNK, remaining))
                if not data:
                    return
                remaining -= len(data)
                yield data

        def _forward(self) -> None:
            u = urlsplit(self.path)
            if self._control(u):
                return
            kind = classify(self.command, u.path, u.query, self.headers)
            state.started(kind)
            try:
                self._send_on()
            finally:
                state.ended(kind)

        def _send_on(self) -> None:
            """Forward the request after the injected latency, and stream the answer back."""
            if state.latency:
                time.sleep(state.latency)
            chunked_in = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            if chunked_in:
                body = b"".join(self._body_chunks())  # rare: re-sent with a length
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if chunked_in:
                headers["Content-Length"] = str(len(body))
            conn = state.conn()
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.endheaders()
                if chunked_in:
                    conn.send(body)
                else:
                    for data in self._body_chunks():
                        conn.send(data)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException):
                state.drop_conn()
                self.send_error(502, "upstream failed")
                return
            self.send_response_only(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() == "x-amz-version-id" and v == "null":
                    continue  # moto's quirk on unversioned buckets; real S3 omits it
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if self.command == "HEAD" or resp.status in (204, 304):
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                resp.read()
                return
            if length is None:
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Length", length)
            self.end_headers()
            while True:
                data = resp.read(CHUNK)
                if not data:
                    break
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # listen() runs in the constructor: the backlog must be a class attribute. With
    # socketserver's 5, a burst of new connections waits out a 1 s SYN retry.
    request_queue_size = 256


class Proxy:
    """The proxy in a thread of this process (the runner starts it as a process)."""

    def __init__(self, upstream: str, port: int, latency_ms: float) -> None:
        self.state = State(upstream, latency_ms / 1000)
        self.server = Server(("127.0.0.1", port), make_handler(self.state))

    def serve_forever(self) -> None:
        self.server.serve_forever()


def set_latency(proxy: str, ms: int) -> None:
    """Change the latency of a running proxy (its control endpoint)."""
    requests.post(f"{proxy}/__proxy__/latency?ms={ms}", timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--latency-ms", type=float, default=50)
    a = ap.parse_args()
    Proxy(a.upstream, a.port, a.latency_ms).serve_forever()


if __name__ == "__main__":
    main()
