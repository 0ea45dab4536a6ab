"""Prometheus metrics, and the few paths the gateway answers itself.

`/healthz`, `/readyz` and `/metrics` are reserved at the server root: GET/HEAD
there never reach a share, and the provider refuses to create files with those
names at a share mounted on "/", so they can never collide.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# HTTP and WebDAV methods (RFC 9110, 4918, 3253, 5323, 5789) get their own label;
# any other name a client makes up is counted as OTHER, so /metrics stays bounded.
KNOWN_METHODS = frozenset(
    "GET HEAD PUT POST DELETE OPTIONS PATCH TRACE CONNECT PROPFIND PROPPATCH MKCOL COPY MOVE "
    "LOCK UNLOCK REPORT SEARCH".split()
)


def method_label(method: str) -> str:
    """The `method` label of a request: its method if known, else OTHER."""
    return method if method in KNOWN_METHODS else "OTHER"


def status_label(status: str) -> str:
    """The `status` label: a three-digit code 100-599, "000" (no answer), else "other"."""
    if status == "000" or (len(status) == 3 and status.isdigit() and "100" <= status <= "599"):
        return status
    return "other"


class Metrics:
    """One registry per gateway, so several gateways in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.s3_requests = Counter(
            "s3dav_s3_requests",
            "S3 requests sent, retries included",
            ["kind", "operation"],
            registry=r,
        )
        self.http_requests = Counter(
            "s3dav_http_requests", "WebDAV requests answered", ["method", "status"], registry=r
        )
        self.http_duration = Histogram(
            "s3dav_http_request_duration_seconds",
            "Time to answer a WebDAV request",
            ["method"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.s3_duration = Histogram(
            "s3dav_s3_request_duration_seconds",
            "Time of one S3 operation (GET: until its headers), retries included",
            ["kind"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.bytes_up = Counter(
            "s3dav_bytes_up", "Bytes received from clients in PUT bodies", registry=r
        )
        self.bytes_down = Counter("s3dav_bytes_down", "Bytes sent to clients", registry=r)
        self.cache_hits = Counter("s3dav_cache_hits", "Cache hits", ["cache"], registry=r)
        self.cache_misses = Counter("s3dav_cache_misses", "Cache misses", ["cache"], registry=r)
        self.cache_bytes = Gauge("s3dav_cache_bytes", "Bytes the caches hold on disk", registry=r)
        # Each cache adds a () -> bytes callable; the gauge is their sum at scrape time.
        self.cache_sizes: list = []
        self.cache_bytes.set_function(self._cache_total)
        self.uploads_pending = Gauge(
            "s3dav_uploads_pending", "Uploads accepted but not yet in S3", registry=r
        )
        self.upload_work_pending = Gauge(
            "s3dav_upload_work_pending",
            "Committed uploads whose MD5 self-copy or cache ingest still runs after the answer",
            registry=r,
        )
        self.started = time.time()

    def _cache_total(self) -> float:
        total = 0
        for size in self.cache_sizes:
            try:
                total += size()
            except Exception:  # noqa: BLE001 - a scrape never fails for one cache
                pass
        return total

    def on_s3_duration(self, kind: str, seconds: float) -> None:
        self.s3_duration.labels(kind=kind).observe(seconds)

    def on_s3_request(self, kind: str, operation: str) -> None:
        self.s3_requests.labels(kind=kind, operation=operation).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
