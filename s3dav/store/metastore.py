"""Per-object-version metadata on disk (docs/SEMANTICS.md, *Caching*; docs/caching.md).

`MetaStore` keeps what listings do not return (x-amz-meta-mtime, mode, MD5,
content type), keyed by key + ETag and checked against the listing's
LastModified (a metadata-only self-copy keeps the ETag): read by HEAD at most
once per object version, ever, also across restarts.

One record shape: `meta_record` builds it (every HEAD, own write and copy),
`_valid_meta` checks it when read back, `with_record` shows it on a FileInfo.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import diskcache

from s3dav.store.listing import FileInfo
from s3dav.store.objmeta import CARRIED_META, parse_mode, parse_mtime, representable_time

_log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


def meta_record(
    user: dict[str, str],
    *,
    md5: str | None,
    content_type: str | None,
    mtime: float | None = None,
    mode: int | None = None,
) -> dict:
    """What the MetaStore keeps of one object version, from its x-amz-meta-* (`user`).

    `mtime`: the time, when the caller knows it better than `user`'s string (the
    one it has just written; format_mtime drops fractions). `mode`: the mode
    when `user` holds none. "keep" (absent when empty): the s3fs metadata an
    overwrite carries.
    """
    keep = {k: user[k] for k in CARRIED_META if k in user}
    stored_mode = parse_mode(user.get("mode"))
    return {
        "mtime": mtime if mtime is not None else parse_mtime(user.get("mtime")),
        "mode": stored_mode if stored_mode is not None else mode,
        "md5": md5,
        "content_type": content_type,
        **({"keep": keep} if keep else {}),
    }


def with_record(info: FileInfo, record: dict) -> FileInfo:
    """`info` as shown with what the MetaStore knows of it (its x-amz-meta-* read)."""
    return info.with_meta(
        mtime=record.get("mtime"),
        mode=record.get("mode"),
        md5=record.get("md5") or info.md5,
        content_type=record.get("content_type") or info.content_type,
        keep=tuple(sorted((record.get("keep") or {}).items())),
    )


FOLDER_DATE = "\0folder-date"  # in place of an ETag: a folder's date, no object version
WRITE_SLACK = 2.0  # seconds S3's clock may run ahead of ours (as overlay.CLOCK_SLACK)


def version_seen(entry: dict, last_modified: float) -> bool:
    """Does a stored entry describe the object version a listing shows with `last_modified`?

    The ETag alone does not tell: a self-copy with new metadata keeps it and only
    moves LastModified. "lm" is the LastModified (whole seconds, as HEAD gives it)
    of the version read; "written" the time the gateway wrote the version itself
    (S3's LastModified is no later, give or take clock skew). An entry with neither
    was stored before s3dav kept them: read the object again, once.
    """
    if "lm" in entry:
        return int(last_modified) <= entry["lm"]
    if "written" in entry:
        return last_modified <= entry["written"] + WRITE_SLACK
    return False


def _valid_meta(meta: dict) -> bool:
    """Does a stored entry have the shape we write (a corrupt one must not reach a client)?"""
    kinds = {
        "mtime": (int, float),
        "mode": (int,),
        "md5": (str,),
        "content_type": (str,),
        "lm": (int,),
        "written": (int, float),
    }
    for name, types in kinds.items():
        value = meta.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            return False
    keep = meta.get("keep")
    if keep is not None and not (
        isinstance(keep, dict) and all(isinstance(v, str) for v in keep.values())
    ):
        return False
    mtime = meta.get("mtime")
    # An older s3dav stored any number it read; one no formatter can show must not reach a page.
    return mtime is None or representable_time(mtime) is not None


WRITE_BATCH = 500  # entries per SQLite transaction


class MetaStore:
    """Per-object-version metadata on disk. A broken cache never fails a request."""

    def __init__(self, directory: Path | None, namespace: str) -> None:
        self.namespace = namespace
        # Hooks for metrics: called once per hit / miss of get().
        self.on_hit: Callable[[], None] = _nothing
        self.on_miss: Callable[[], None] = _nothing
        self._cache = None
        self._memory: dict[str, dict] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._writer, name="s3dav-meta-writer", daemon=True)
        self._thread.start()
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(directory), size_limit=512 * 1024 * 1024)
            except Exception as exc:  # noqa: BLE001 - degrade to memory only
                _log.warning(
                    "metadata cache at %s unusable, keeping it in memory: %s", directory, exc
                )

    def _k(self, key: str, etag: str) -> str:
        return f"{self.namespace}\0{key}\0{etag}"

    def get(self, key: str, etag: str, last_modified: float | None = None) -> dict | None:
        """What is known of this object version; None means HEAD it.

        With `last_modified` (a listing's LastModified), an entry is used only if it
        describes that version (`version_seen`): a metadata-only change (s3fs's
        `touch`, chmod, chown: a self-copy keeping the ETag) shows a newer one.
        """
        k = self._k(key, etag)
        value = self._read(k, key)
        if value is not None and last_modified is not None:
            if not version_seen(value, last_modified):
                value = None
            elif "lm" not in value:  # own write, first listed: pin the version S3 gave it
                value = {**value, "lm": int(last_modified)}
                value.pop("written", None)
                self._store(k, value)
        (self.on_hit if value is not None else self.on_miss)()
        return value

    def _read(self, k: str, key: str) -> dict | None:
        if k in self._memory:
            return self._memory[k]
        if self._cache is None:
            return None
        try:
            value = self._cache.get(k)
        except Exception as exc:  # noqa: BLE001
            _log.warning("metadata cache read failed: %s", exc)
            return None
        if isinstance(value, dict) and _valid_meta(value):
            self._memory[k] = value
            return value
        if value is not None:
            _log.warning("metadata cache entry for %s is corrupt; ignoring it", key)
        return None

    def folder_date(self, dir_key: str) -> float | None:
        """The date last shown for a folder (S3Tree.folder_date), not counted as a hit or miss."""
        value = self._read(self._k(dir_key, FOLDER_DATE), dir_key)
        return value.get("mtime") if value is not None else None

    def put_folder_date(self, dir_key: str, t: float) -> None:
        self._store(self._k(dir_key, FOLDER_DATE), {"mtime": float(t)})

    def put(self, key: str, etag: str, meta: dict, last_modified: float | None = None) -> None:
        """Remember at once in memory; the disk write runs on the writer thread.

        `last_modified`: S3's LastModified of the version read (HEAD, GET). None: the
        gateway has just written this version itself and S3's time is not known; it
        is at most now (the first listing that shows it pins it, `get`).
        """
        entry = {k: v for k, v in meta.items() if k not in ("lm", "written")}
        if last_modified is not None:
            entry["lm"] = int(last_modified)
        else:
            entry["written"] = time.time()
        self._store(self._k(key, etag), entry)

    def _store(self, k: str, entry: dict) -> None:
        self._memory[k] = entry
        if len(self._memory) > 200_000:
            self._memory.clear()
        if self._cache is not None:
            self._queue.put((k, entry))

    def _writer(self) -> None:
        """Write queued entries, many to a transaction (a cold listing queues thousands)."""
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None and len(batch) < WRITE_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            if items:
                try:
                    with self._cache.transact():
                        for k, meta in items:
                            self._cache.set(k, meta)
                except Exception as exc:  # noqa: BLE001
                    _log.warning("metadata cache write of %d entries failed: %s", len(items), exc)
            if batch[-1] is None:
                return

    def volume(self) -> int:
        """Bytes on disk (for the cache_bytes metric)."""
        return self._cache.volume() if self._cache is not None else 0

    def close(self) -> None:
        self._queue.put(None)  # write what is queued, then stop
        self._thread.join(timeout=10)
        if self._cache is not None:
            self._cache.close()
