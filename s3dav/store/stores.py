"""Which S3 store a cache belongs to: endpoint + bucket + prefix, computed once.

Two shares (or two gateways sharing one `cache.dir`) on different buckets may
hold objects with the same key and the same bytes (hence the same ETag) but
different metadata and dead properties. Every cache and store that outlives a
request is therefore keyed by a `StoreIdentity`: the per-object metadata, the
dead properties and the write-back journal live in a subdirectory of
`cache.dir` named after it, and the shared content-block cache carries the
endpoint in its keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
STORES_DIR = "stores"  # below cache.dir: one subdirectory per StoreIdentity


def normalize_endpoint(endpoint_url: str | None, region: str) -> str:
    """One spelling per S3 endpoint: lower-case scheme and host, no default port, no "/".

    No endpoint means AWS; its bucket namespace is per partition, so the region
    is kept (a needless split at worst, never a merge of two stores).
    """
    if not endpoint_url:
        return f"aws:{region}"
    parts = urlsplit(endpoint_url.strip())
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    port = parts.port
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


@dataclass(frozen=True)
class StoreIdentity:
    """The S3 store behind a share: what every on-disk cache entry belongs to."""

    endpoint: str  # normalize_endpoint()'s spelling
    bucket: str
    prefix: str = ""

    @property
    def text(self) -> str:
        """Human-readable and unique: `s3://bucket/prefix at endpoint`."""
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint}"

    @property
    def dirname(self) -> str:
        """A safe directory name: readable bucket/prefix, plus a hash of the whole identity."""
        digest = hashlib.sha256(
            "\0".join((self.endpoint, self.bucket, self.prefix)).encode()
        ).hexdigest()[:16]
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.bucket}_{self.prefix}").strip("_.")
        return f"{readable[:60]}-{digest}"

    def directory(self, cache_dir: Path) -> Path:
        return cache_dir / STORES_DIR / self.dirname


def store_identity(
    endpoint_url: str | None, region: str, bucket: str, prefix: str = ""
) -> StoreIdentity:
    """The identity of a share's store (a pure function of its configuration)."""
    return StoreIdentity(normalize_endpoint(endpoint_url, region), bucket, prefix)
