"""The share links that exist: one SQLite file in the cache directory (issue 17).

A link works only while its row is here, so revoking deletes the row. Rows
past their expiry are purged whenever links are made or listed, and each user
holds at most `max_per_user` links: the file stays small without a sweeper.
If the file cannot be opened the store runs in memory and says so (links then
end at a restart: the safe way to fail).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from s3dav.server.linktokens import LinkSpec

_log = logging.getLogger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " store TEXT NOT NULL, share TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,"
    " expires INTEGER NOT NULL, created INTEGER NOT NULL, password_hash TEXT NOT NULL)"
)
COLUMNS = "id, user, store, share, path, kind, expires, created, password_hash"


class TooManyLinks(ValueError):
    """A user already holds the most links allowed."""


@dataclass(frozen=True)
class Link:
    """One row: the signed spec, who made it and its password hash ("" for none).

    The token itself is not stored (it is `make_token(key, spec)`): a copy of
    the file without the key opens nothing.
    """

    spec: LinkSpec
    user: str
    created: int
    password_hash: str


def _link(row) -> Link:
    link_id, user, store, share, path, kind, expires, created, pw = row
    return Link(LinkSpec(link_id, store, share, path, kind, expires), user, created, pw)


class LinkStore:
    def __init__(self, path: Path | str, *, max_per_user: int = 200) -> None:
        self.path = str(path)
        self.max_per_user = max_per_user
        self._lock = threading.Lock()
        try:
            self._db = self._open(self.path)
        except (sqlite3.Error, OSError) as exc:
            _log.warning("share link store %s unusable, keeping links in memory: %s", path, exc)
            self.path = ":memory:"
            self._db = self._open(":memory:")

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(SCHEMA)
        db.execute("CREATE INDEX IF NOT EXISTS links_user ON links (user, created)")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, link: Link, now: float) -> None:
        """Store a new link; TooManyLinks when its user holds `max_per_user` live ones."""
        s = link.spec
        with self._lock:
            self._db.execute("DELETE FROM links WHERE expires <= ?", (int(now),))
            (count,) = self._db.execute(
                "SELECT count(*) FROM links WHERE user = ?", (link.user,)
            ).fetchone()
            if count >= self.max_per_user:
                raise TooManyLinks(
                    f"user {link.user} already has {count} share links; revoke some first"
                )
            self._db.execute(
                f"INSERT INTO links ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (s.id, link.user, s.store, s.share, s.path, s.kind, s.expires)
                + (link.created, link.password_hash),
            )

    def get(self, link_id: str) -> Link | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM links WHERE id = ?", (link_id,)
            ).fetchone()
        return _link(row) if row else None

    def of_user(self, user: str, now: float) -> list[Link]:
        """`user`'s live links, newest first."""
        with self._lock:
            self._db.execute("DELETE FROM links WHERE expires <= ?", (int(now),))
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM links WHERE user = ? ORDER BY created DESC, id",
                (user,),
            ).fetchall()
        return [_link(r) for r in rows]

    def revoke(self, link_id: str, user: str) -> bool:
        """Delete `user`'s link `link_id`: True when there was one (another's is untouched)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM links WHERE id = ? AND user = ?", (link_id, user))
        return cur.rowcount > 0
