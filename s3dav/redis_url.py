"""Redis URLs of `locks.storage` (pure: checked by options.py, used by replicas.py).

Kept apart so that reading the configuration needs no Redis code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class RedisTarget:
    host: str
    port: int
    db: int
    password: str | None

    def __str__(self) -> str:  # never shows the password
        return f"redis://{self.host}:{self.port}/{self.db}"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"//[^@/]*@", "//***@", url)


def parse_redis_url(url: str) -> RedisTarget:
    """redis://[:password@]host[:port][/db] -> RedisTarget; a one-line ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"expected memory or redis://host:port/db, got {redact(url)!r}")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"bad port in {redact(url)!r}") from None
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ValueError(f"the database must be a number, got {db_text!r}")
    password = unquote(parts.password) if parts.password else None
    return RedisTarget(parts.hostname, port, int(db_text), password)
