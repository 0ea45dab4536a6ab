"""A fault-injecting S3 proxy for tests, on loopback in front of moto's server.

It forwards each request as it came (method, path, headers, body) and can, under
the test's control:

- answer a share of requests with 503 SlowDown or 500 InternalError (`error_rate`);
- reset a share of connections without an answer (`reset_rate`);
- stall a share of requests for a while before forwarding them (`stall_rate`);
- go fully down: every connection is reset at once (`down`);
- fail every request a rule matches (`fail_when`), e.g. the second UploadPart;
- make listings lag: objects written less than `list_lag` seconds ago are left out
  of ListObjects answers, as on a store whose listing is eventually consistent;
- refuse to delete some keys (`refuse_delete`): a DeleteObjects goes on without
  them and its answer lists each as an AccessDenied error, as S3 answers for an
  object its policy or Object Lock keeps.

The signatures stay valid because the Host header and the path go through as sent.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
EMPTY_DELETE_RESULT = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>'
)
INTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it (for rules and for the test's figures)."""

    method: str
    path: str  # unquoted, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names

    @property
    def bucket_key(self) -> tuple[str, str]:
        parts = self.path.lstrip("/").split("/", 1)
        return parts[0], (parts[1] if len(parts) > 1 else "")

    @property
    def operation(self) -> str:
        """A rough S3 operation name, enough for rules."""
        q, m, h = self.query, self.method, self.headers
        _, key = self.bucket_key
        if m == "GET" and not key and ("list-type" in q or "prefix" in q or "delimiter" in q):
            return "ListObjects"
        if m == "GET" and "uploads" in q:
            return "ListMultipartUploads"
        if m == "PUT" and "partNumber" in q:
            return "UploadPartCopy" if "x-amz-copy-source" in h else "UploadPart"
        if m == "PUT" and "x-amz-copy-source" in h:
            return "CopyObject"
        if m == "PUT" and key:
            return "PutObject"
        if m == "POST" and "uploads" in q:
            return "CreateMultipartUpload"
        if m == "POST" and "uploadId" in q:
            return "CompleteMultipartUpload"
        if m == "POST" and "delete" in q:
            return "DeleteObjects"
        if m == "DELETE" and "uploadId" in q:
            return "AbortMultipartUpload"
        if m == "DELETE":
            return "DeleteObject"
        if m == "HEAD" and key:
            return "HeadObject"
        if m == "HEAD":
            return "HeadBucket"
        if m == "GET" and key:
            return "GetObject"
        return m


class FaultProxy:
    """Start with `FaultProxy(upstream_url)`; `.url` is the endpoint to give s3dav."""

    def __init__(self, upstream: str, *, seed: int = 1) -> None:
        u = urlsplit(upstream)
        self.upstream_host = u.hostname or "127.0.0.1"
        self.upstream_port = u.port or 80
        self.error_rate = 0.0
        self.reset_rate = 0.0
        self.stall_rate = 0.0
        self.stall_seconds = 0.0
        self.down = False
        self.list_lag = 0.0
        self.fail_when: Callable[[Seen], bool] | None = None
        self.stall_when: Callable[[Seen], bool] | None = None  # stall these for stall_seconds
        self.fail_status = 500
        self.refuse_delete: set[str] = set()  # keys DeleteObjects answers AccessDenied for
        self.faults: Counter[str] = Counter()  # what was injected, by kind
        self.requests = 0
        self.log: list[tuple[str, str]] = []  # (operation, decision) of every request
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str], float] = {}  # (bucket, key) -> when
        self._deleted: dict[tuple[str, str], float] = {}
        self._entries: dict[tuple[str, str], bytes] = {}  # last <Contents> seen per key
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset_faults(self) -> None:
        self.error_rate = self.reset_rate = self.stall_rate = 0.0
        self.down = False
        self.list_lag = 0.0
        self.fail_when = None
        self.stall_when = None
        self.refuse_delete = set()

    def injected(self) -> int:
        return sum(self.faults.values())

    # -- decisions (under the lock: one random stream, reproducible by seed) ------
    def _decide(self, seen: Seen) -> str:
        with self._lock:
            self.requests += 1
            if self.down:
                kind = "down"
            elif self.fail_when is not None and self.fail_when(seen):
                kind = "rule"
            elif self.stall_when is not None and self.stall_when(seen):
                kind = "stall"
            else:
                # one draw, so that the shares are exactly as set
                r = self._random.random()
                if r < self.reset_rate:
                    kind = "reset"
                elif r < self.reset_rate + self.error_rate:
                    kind = "503" if r < self.reset_rate + self.error_rate / 2 else "500"
                elif r < self.reset_rate + self.error_rate + self.stall_rate:
                    kind = "stall"
                else:
                    kind = "pass"
            self.log.append((seen.operation, kind))
            if kind != "pass":
                self.faults[kind] += 1
            return kind

    def _note_write(self, seen: Seen, body: bytes) -> None:
        op = seen.operation
        now = time.monotonic()
        with self._lock:
            if op in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
                self._written[seen.bucket_key] = now
                self._deleted.pop(seen.bucket_key, None)
            elif op == "DeleteObject":
                self._deleted[seen.bucket_key] = now
            elif op == "DeleteObjects":
                bucket = seen.bucket_key[0]
                for k in _KEY.findall(body):
                    self._deleted[(bucket, _unxml(k))] = now

    def _lag_listing(self, seen: Seen, xml: bytes) -> bytes:
        """Hide keys written within `list_lag`; show again keys deleted within it."""
        bucket = seen.bucket_key[0]
        prefix = seen.query.get("prefix", [""])[0]
        delim = seen.query.get("delimiter", [""])[0]

        def in_scope(k: str) -> bool:
            return k.startswith(prefix) and not (delim and delim in k[len(prefix) :])

        limit = time.monotonic() - self.list_lag
        with self._lock:
            hidden = {k for (b, k), t in self._written.items() if b == bucket and t > limit}
            ghosts = [
                self._entries[(b, k)]
                for (b, k), t in self._deleted.items()
                if b == bucket and t > limit and (b, k) in self._entries and in_scope(k)
            ]
        return _lag_xml(xml, hidden, ghosts)

    def _remember_entries(self, bucket: str, xml: bytes) -> None:
        with self._lock:
            for block in _CONTENTS.findall(xml):
                k = _KEY.search(block)
                if k:
                    self._entries[(bucket, _unxml(k.group(1)))] = block


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, as a failing network does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _answer(self, status: int, payload: bytes) -> None:
        """An answer of the proxy's own (the request goes no further)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _handle(self) -> None:
        p = self.owner
        u = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        seen = Seen(self.command, unquote(u.path), parse_qs(u.query, True), headers)
        kind = p._decide(seen)
        length = int(headers.get("content-length") or 0)
        if kind in ("down", "reset"):
            self._reset()
            return
        body = self.rfile.read(length) if length else b""
        if kind == "stall":
            time.sleep(p.stall_seconds)
        refused: list[str] = []
        if seen.operation == "DeleteObjects" and p.refuse_delete:
            body, refused = _without_keys(body, p.refuse_delete)
            p.faults["refused delete"] += len(refused)
            if refused and not _OBJECT.search(body):  # S3 takes no empty batch: answer it here
                self._answer(200, _with_errors(EMPTY_DELETE_RESULT, refused))
                return
        if kind in ("503", "500", "rule"):
            status = int(kind) if kind != "rule" else p.fail_status
            self._answer(status, SLOWDOWN if status == 503 else INTERNAL)
            return
        conn = http.client.HTTPConnection(p.upstream_host, p.upstream_port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in (_rehashed(self.headers, body) if refused else self.headers).items():
                conn.putheader(k, v)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            if refused and resp.status == 200:
                data = _with_errors(data, refused)
            out_headers = resp.getheaders()
        finally:
            conn.close()
        if resp.status < 300:
            p._note_write(seen, body)
            if seen.operation == "ListObjects":
                p._remember_entries(seen.bucket_key[0], data)
                if p.list_lag > 0:
                    data = p._lag_listing(seen, data)
        self.send_response(resp.status)
        for k, v in out_headers:
            if k.lower() in ("content-length", "transfer-encoding", "connection", "date", "server"):
                continue
            self.send_header(k, v)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


_CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.S)
_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)


_OBJECT = re.compile(rb"<Object>\s*<Key>(.*?)</Key>.*?</Object>", re.S)


def _without_keys(body: bytes, refuse: set[str]) -> tuple[bytes, list[str]]:
    """A DeleteObjects body without the <Object>s of `refuse`, and the keys taken out."""
    taken: list[str] = []

    def drop(m: re.Match) -> bytes:
        key = _unxml(m.group(1))
        if key in refuse:
            taken.append(key)
            return b""
        return m.group(0)

    return _OBJECT.sub(drop, body), taken


def _rehashed(headers, body: bytes) -> dict[str, str]:
    """The request's headers for a rewritten body: its length and checksums anew."""
    import base64
    import hashlib
    import zlib

    out = {k: v for k, v in headers.items()}
    for k in list(out):
        low = k.lower()
        if low == "content-length":
            out[k] = str(len(body))
        elif low == "content-md5":
            out[k] = base64.b64encode(hashlib.md5(body).digest()).decode()
        elif low == "x-amz-checksum-crc32":
            out[k] = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        elif low == "x-amz-content-sha256" and out[k] != "UNSIGNED-PAYLOAD":
            out[k] = hashlib.sha256(body).hexdigest()
    return out


def _with_errors(xml: bytes, refused: list[str]) -> bytes:
    """A DeleteResult with an AccessDenied <Error> for each refused key."""
    from html import escape

    errors = b"".join(
        b"<Error><Key>" + escape(k).encode() + b"</Key><Code>AccessDenied</Code>"
        b"<Message>Access Denied</Message></Error>"
        for k in refused
    )
    if b"</DeleteResult>" in xml:
        return xml.replace(b"</DeleteResult>", errors + b"</DeleteResult>", 1)
    return xml


def _unxml(raw: bytes) -> str:
    from html import unescape

    return unescape(raw.decode())


def _lag_xml(xml: bytes, hidden: set[str], ghosts: list[bytes]) -> bytes:
    """A ListObjects answer without `hidden` keys and with `ghosts` (deleted) entries."""

    def keep(m: re.Match) -> bytes:
        k = _KEY.search(m.group(0))
        if k and _unxml(k.group(1)) in hidden:
            return b""
        return m.group(0)

    xml = _CONTENTS.sub(keep, xml)
    present = {_unxml(k) for k in _KEY.findall(b"".join(_CONTENTS.findall(xml)))}
    extra = b"".join(g for g in ghosts if _unxml(_KEY.search(g).group(1)) not in present)
    if extra:
        xml = xml.replace(b"</ListBucketResult>", extra + b"</ListBucketResult>", 1)
    return xml


class Wiretap:
    """A proxy rule that records every request it is asked about and fails none."""

    def __init__(self, proxy) -> None:
        self.seen = []
        self._lock = threading.Lock()
        proxy.stall_when = self

    def __call__(self, seen) -> bool:
        with self._lock:
            self.seen.append(seen)
        return False

    def of(self, operation: str) -> list:
        with self._lock:
            return [s for s in self.seen if s.operation == operation]


def fault_config(proxy, bucket: str, **s3) -> dict:
    return {
        "s3": {
            "endpoint_url": proxy.url,
            "connect_timeout": 1,
            "read_timeout": 3,
            "max_attempts": 3,
            "part_size": "5MiB",
            "multipart_threshold": "5MiB",
            **s3,
        },
        "shares": [{"path": "/", "bucket": bucket}],
    }


def patient_config(proxy, bucket: str, **s3) -> dict:
    """fault_config with the default timeouts: a copy stalled 3-4 s must not time out."""
    return fault_config(
        proxy, bucket, **{"max_attempts": 2, "connect_timeout": "5s", "read_timeout": "30s", **s3}
    )
