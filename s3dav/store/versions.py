"""Earlier versions of a folder's files, read from ListObjectVersions pages (docs/SEMANTICS.md,
*Earlier versions*).

Pure logic, tested without S3: which versions a folder's versions collection shows and
the names they are shown by. A version is shown when it is not the current one (the
current object is the file itself); a deleted file (its latest entry a delete marker) has
no current version, so all of its versions are shown. A version whose bytes are those of
the next newer version of its key (same ETag: a metadata rewrite such as a time change)
is left out: it adds no bytes to restore. (A multipart upload's MD5 self-copy changes the
ETag, so its first version stays: telling it from a real one of the same size would be a
guess.)

Names keep the file's extension and sort by time: `report.pdf` last written at
2026-11-30 14:02:11 UTC is `report (2026-11-30 14.02.11).pdf`. S3 lists a key's versions
newest first; the oldest of several versions of one key within one second keeps the plain
name, the later ones are numbered `(... 14.02.11-2)`, `-3`, ... (so a new version never
renames an older one). A name another entry already holds (only with odd file names)
gets the version id's first characters.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3dav.store.keys import name_of_entry
from s3dav.store.listing import visible_name

TIME_FORMAT = "%Y-%m-%d %H.%M.%S"  # no ':' (refused by Windows, shown as '/' by Finder)
ID_CHARS = 8  # of a version id, when a name must be told apart


@dataclass(frozen=True)
class Version:
    """One earlier version of one file, as a versions collection shows it."""

    name: str  # the name shown in the versions collection
    key: str
    version_id: str
    size: int
    etag: str
    last_modified: float  # S3's LastModified of this version, epoch seconds
    storage_class: str | None = None  # as listed (an archived version needs a restore)


@dataclass
class VersionListing:
    """A folder's earlier versions by shown name (a ListingCache entry: dir_key, fetched_at)."""

    dir_key: str
    members: dict[str, Version] = field(default_factory=dict)
    fetched_at: float = field(default_factory=time.monotonic)

    def names(self) -> list[str]:
        return sorted(self.members)

    def weight(self) -> int:
        """Its versions (at least 1): what it counts in ListingCache's bound."""
        return len(self.members) + 1


def split_ext(name: str) -> tuple[str, str]:
    """`report.pdf` -> (`report`, `.pdf`); no extension for `notes` or `.bashrc`."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + ext


def version_name(name: str, last_modified: float, n: int = 1) -> str:
    """The name of the `n`th version of file `name` stored within one second (UTC)."""
    stamp = datetime.fromtimestamp(int(last_modified), UTC).strftime(TIME_FORMAT)
    if n > 1:
        stamp += f"-{n}"
    stem, ext = split_ext(name)
    return f"{stem} ({stamp}){ext}"


def distinct_name(name: str, ext: str, version_id: str, taken: dict) -> str:
    """`name` (ending in the file's extension `ext`) told apart from the names in `taken`
    by the version id (its first chars), put before the extension."""
    stem = name[: len(name) - len(ext)]
    for length in (ID_CHARS, len(version_id)):
        candidate = f"{stem} {version_id[:length]}{ext}"
        if candidate not in taken:
            return candidate
    n = 2
    while f"{stem} {version_id} {n}{ext}" in taken:
        n += 1
    return f"{stem} {version_id} {n}{ext}"


def _entries_by_key(dir_key: str, pages: list[dict]) -> dict[str, list[dict]]:
    """The files directly in the folder -> their versions and delete markers, newest first."""
    by_key: dict[str, list[dict]] = {}
    for page in pages:
        for kind in ("Versions", "DeleteMarkers"):
            for entry in page.get(kind, []) or []:
                key = entry["Key"]
                classified = name_of_entry(key[len(dir_key) :])
                if not key.startswith(dir_key) or classified is None or classified[1]:
                    continue  # the folder's own marker, a subfolder or its marker
                by_key.setdefault(key, []).append({**entry, "_marker": kind == "DeleteMarkers"})
    for entries in by_key.values():
        # S3 lists a key's versions newest first, its delete markers in a list of their
        # own: merged by time (a stable sort keeps S3's order within one second).
        entries.sort(key=lambda e: (not e.get("IsLatest"), -e["LastModified"].timestamp()))
    return by_key


def _shown(entries: list[dict]) -> list[dict]:
    """The earlier versions of one key worth showing, oldest first."""
    shown = []
    newer: dict | None = None
    for entry in entries:  # newest first
        if not entry["_marker"] and not entry.get("IsLatest"):
            same = newer is not None and not newer["_marker"] and newer["ETag"] == entry["ETag"]
            if not same:
                shown.append(entry)
        newer = entry
    return shown[::-1]


def build_versions(dir_key: str, pages: list[dict]) -> VersionListing:
    """Fold ListObjectVersions pages (Prefix = dir_key, Delimiter "/") into the folder's
    versions collection."""
    out = VersionListing(dir_key=dir_key)
    by_key = _entries_by_key(dir_key, pages)
    # NFC keys first: of an NFC/NFD pair of keys, the NFC one keeps the plain names.
    for key in sorted(by_key, key=lambda k: (not unicodedata.is_normalized("NFC", k), k)):
        entries = by_key[key]
        name = unicodedata.normalize("NFC", key[len(dir_key) :])
        if not visible_name(name):
            continue
        per_second: dict[int, int] = {}
        for entry in _shown(entries):
            when = entry["LastModified"].timestamp()
            n = per_second[int(when)] = per_second.get(int(when), 0) + 1
            shown = version_name(name, when, n)
            vid = str(entry.get("VersionId") or "null")
            if shown in out.members:  # only odd names meet here: tell them apart
                shown = distinct_name(shown, split_ext(name)[1], vid, out.members)
            out.members[shown] = Version(
                name=shown,
                key=key,
                version_id=vid,
                size=int(entry.get("Size", 0)),
                etag=str(entry.get("ETag", "")).strip('"'),
                last_modified=when,
                storage_class=entry.get("StorageClass"),
            )
    return out


def next_page_args(page: dict) -> dict | None:
    """The markers of the ListObjectVersions page after `page`; None when it was the last."""
    if not page.get("IsTruncated"):
        return None
    args = {}
    if page.get("NextKeyMarker"):
        args["KeyMarker"] = page["NextKeyMarker"]
    if page.get("NextVersionIdMarker"):
        args["VersionIdMarker"] = page["NextVersionIdMarker"]
    return args or None
