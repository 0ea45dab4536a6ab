"""A key-logging S3 proxy on loopback: forwards path-style S3 requests to moto, records keys.

Every request is recorded as the (bucket, key-or-prefix) pairs it could read, write or delete:
the object key in the path, the `prefix`/`start-after` of a listing (a listing with no
prefix touches the empty key, i.e. the whole bucket), `x-amz-copy-source`, and the keys of
a DeleteObjects body. Tests then ask which touches fall outside the allowed prefixes.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "content-length",
}


@dataclass(frozen=True)
class Touch:
    method: str
    bucket: str
    key: str  # object key, or the prefix of a listing
    why: str  # "object", "list", "copy-source", "delete-batch", "bucket"


def touches(method: str, target: str, headers: dict[str, str], body: bytes) -> list[Touch]:
    """Pure: what one path-style S3 request touches."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = path.lstrip("/").partition("/")
    out: list[Touch] = []
    if key:
        out.append(Touch(method, bucket, key, "object"))
    elif method == "GET" and not (
        {"uploads", "location", "versioning", "policy", "acl"} & set(query)
    ):
        out.append(Touch(method, bucket, query.get("prefix", [""])[0], "list"))
        if query.get("start-after", [""])[0]:
            out.append(Touch(method, bucket, query["start-after"][0], "list"))
    elif method == "GET" and "uploads" in query:
        out.append(Touch(method, bucket, query.get("prefix", [""])[0], "list"))
    elif method == "POST" and "delete" in query:
        for k in re.findall(rb"<Key>(.*?)</Key>", body, re.S):
            text = k.decode("utf-8").replace("&amp;", "&").replace("&lt;", "<")
            out.append(Touch(method, bucket, text.replace("&gt;", ">"), "delete-batch"))
    elif method != "HEAD":
        out.append(Touch(method, bucket, "", "bucket"))  # create/delete bucket etc.: never ok
    source = headers.get("x-amz-copy-source")
    if source:
        src = unquote(source.split("?", 1)[0]).lstrip("/")
        sb, _, sk = src.partition("/")
        out.append(Touch(method, sb, sk, "copy-source"))
    return out


def outside(found: list[Touch], allowed: dict[str, list[str]]) -> list[Touch]:
    """Touches whose bucket is not allowed or whose key is not under an allowed prefix."""
    return [t for t in found if not any(t.key.startswith(p) for p in allowed.get(t.bucket, []))]


class KeyLoggingProxy:
    """`rewrite(method, target) -> target` changes a request on its way (a store that
    ignores a parameter); `hold` seconds each request waits before it is forwarded, so
    that requests sent together are seen in flight together (`max_in_flight`)."""

    def __init__(
        self,
        upstream: str,
        *,
        rewrite: Callable[[str, str], str] | None = None,
        hold: float = 0.0,
    ) -> None:
        up = urlsplit(upstream)
        self.upstream = (up.hostname, up.port)
        self.log: list[Touch] = []
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy._lock:
                    proxy.requests += 1
                    proxy.log.extend(touches(self.command, self.path, headers, body))
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                if hold:
                    time.sleep(hold)
                target = rewrite(self.command, self.path) if rewrite else self.path
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    out_headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                    }
                    out_headers["Content-Length"] = str(len(body))
                    conn.request(self.command, target, body=body, headers=out_headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP_BY_HOP:
                            self.send_header(k, v)
                    length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                    self.send_header("Content-Length", length or str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()
                    with proxy._lock:
                        proxy.in_flight -= 1

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[Touch]:
        with self._lock:
            return list(self.log)

    def start_over(self) -> list[Touch]:
        """Forget what was logged so far (e.g. the gateway's own start-up housekeeping)."""
        with self._lock:
            seen, self.log = self.log, []
            return seen

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
