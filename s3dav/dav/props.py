"""Dead properties (PROPPATCH) that persist across restarts.

WsgiDAV keys dead properties by a resource's ref URL. We keep them in SQLite
(standard library, safe across threads with one lock, and its ordered index
lets a whole subtree move or go in one statement).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

_log = logging.getLogger(__name__)


def _subtree_bounds(url: str) -> tuple[str, str]:
    """Range of URLs strictly below a collection URL ("/a/" -> "/a/" .. "/a0")."""
    base = url if url.endswith("/") else url + "/"
    return base, base[:-1] + chr(ord("/") + 1)


def _open(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS props (url TEXT, name TEXT, value BLOB,"
        " PRIMARY KEY (url, name))"
    )
    return db


class SqlitePropertyManager:
    """The property-manager interface WsgiDAV calls, over one SQLite file.

    The file is a cache-directory resident and must never fail a request: if
    it cannot be opened or written (read-only, full, corrupted), the manager
    logs a warning and carries on in memory (dead properties then last until
    restart).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            self._db = _open(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._db = self._degrade(exc)

    def __repr__(self) -> str:
        return f"SqlitePropertyManager({self.path})"

    def _degrade(self, exc: Exception) -> sqlite3.Connection:
        _log.warning("property store %s unusable, keeping properties in memory: %s", self.path, exc)
        self.path = ":memory:"
        return _open(":memory:")

    def _rows(self, sql: str, args=()) -> list:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                _log.warning("property store read failed: %s", exc)
                return []

    def _run(self, sql: str, args=()) -> None:
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as exc:
                if self.path == ":memory:":
                    raise
                self._db = self._degrade(exc)
                self._db.execute(sql, args)

    # -- the interface WsgiDAV uses ------------------------------------------
    def get_properties(self, norm_url, environ=None):
        return [r[0] for r in self._rows("SELECT name FROM props WHERE url=?", (norm_url,))]

    def get_property(self, norm_url, name, environ=None):
        rows = self._rows("SELECT value FROM props WHERE url=? AND name=?", (norm_url, name))
        return rows[0][0] if rows else None

    def write_property(self, norm_url, name, property_value, dry_run=False, environ=None):
        if dry_run:
            return
        self._run(
            "INSERT OR REPLACE INTO props (url, name, value) VALUES (?, ?, ?)",
            (norm_url, name, property_value),
        )

    def remove_property(self, norm_url, name, dry_run=False, environ=None):
        if dry_run:
            return
        self._run("DELETE FROM props WHERE url=? AND name=?", (norm_url, name))

    def remove_properties(self, norm_url, environ=None):
        self._run("DELETE FROM props WHERE url=?", (norm_url,))

    def copy_properties(self, src_url, dest_url, environ=None):
        with self._lock:
            self._db.execute("DELETE FROM props WHERE url=?", (dest_url,))
            self._db.execute(
                "INSERT INTO props (url, name, value) SELECT ?, name, value FROM props WHERE url=?",
                (dest_url, src_url),
            )

    def move_properties(self, src_url, dest_url, with_children, environ=None):
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM props WHERE url=?", (dest_url,))
                self._db.execute("UPDATE props SET url=? WHERE url=?", (dest_url, src_url))
                if with_children:
                    lo, hi = _subtree_bounds(src_url)
                    dlo, _ = _subtree_bounds(dest_url)
                    self._db.execute(
                        "UPDATE OR REPLACE props SET url = ? || substr(url, ?)"
                        " WHERE url >= ? AND url < ?",
                        (dlo, len(lo) + 1, lo, hi),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- subtree helpers for collections ------------------------------------------
    def copy_tree_properties(self, src_url, dest_url):
        lo, hi = _subtree_bounds(src_url)
        dlo, _ = _subtree_bounds(dest_url)
        self.copy_properties(src_url, dest_url)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO props (url, name, value)"
                " SELECT ? || substr(url, ?), name, value FROM props WHERE url >= ? AND url < ?",
                (dlo, len(lo) + 1, lo, hi),
            )

    def remove_tree_properties(self, url):
        lo, hi = _subtree_bounds(url)
        with self._lock:
            self._db.execute(
                "DELETE FROM props WHERE url=? OR (url >= ? AND url < ?)", (url, lo, hi)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
