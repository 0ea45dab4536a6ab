"""What a folder holds, read from ListObjectsV2 pages (docs/SEMANTICS.md, *Folders*).

Pure logic: it turns raw listing entries into files and folders following the
one directory scheme (implicit prefixes, `dir/` markers, `dir_$folder$`), so it
is tested without S3.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from s3dav.store.keys import name_of_entry


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One S3 object shown as a file. Built from a listing entry or a HEAD.

    Slots: a cached listing holds one per object (cache.listing_entries bounds them)."""

    key: str
    size: int
    etag: str
    last_modified: float  # S3's LastModified, epoch seconds
    mtime: float | None = None  # x-amz-meta-mtime, when known
    mode: int | None = None
    content_type: str | None = None
    md5: str | None = None  # hex MD5 when known (single-part ETag or stored)
    meta_known: bool = False  # True once x-amz-meta-* has been read (HEAD or own write)
    keep: tuple[tuple[str, str], ...] = ()  # s3fs metadata an overwrite carries (uid, gid, xattr)
    storage_class: str | None = None  # the listing's StorageClass (None: not listed yet)
    restore: str | None = None  # RestoreStatus when the store lists it: see restore_state

    @property
    def modified(self) -> float:
        return self.mtime if self.mtime is not None else self.last_modified

    def with_meta(self, **kw) -> FileInfo:
        return replace(self, meta_known=True, **kw)


@dataclass(frozen=True, slots=True)
class DirInfo:
    """A folder: an implicit prefix, a marker object, or both (marker: S3Tree.dir_marker_info)."""

    key: str  # "a/b/"


@dataclass
class Listing:
    """The members of one folder, and whether the folder itself is real."""

    dir_key: str
    files: dict[str, FileInfo] = field(default_factory=dict)
    dirs: dict[str, DirInfo] = field(default_factory=dict)
    own_marker: FileInfo | None = None  # the folder's own `dir/` object
    fetched_at: float = field(default_factory=time.monotonic)
    clashes: list[str] = field(default_factory=list)  # names that are both file and folder
    # `files` and `dirs` are keyed by the raw name in the key; what clients see is
    # display() (NFC names, alternates for clashes, refused names hidden), computed
    # once: a Listing is not changed after it is handed out.
    _display: tuple[dict[str, tuple[str, bool]], set[str]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def is_empty(self) -> bool:
        return not self.files and not self.dirs and self.own_marker is None

    def weight(self) -> int:
        """Its files and subfolders (at least 1): what it counts in ListingCache's bound."""
        return len(self.files) + len(self.dirs) + 1

    def display(self) -> dict[str, tuple[str, bool]]:
        """Shown name -> (raw name, is_dir); see `display_names`."""
        if self._display is None:
            self._display = display_names(self.files, self.dirs)
        return self._display[0]

    def plain(self, name: str) -> bool:
        """Whether `name` is shown under its own raw name and shares it with no other entry."""
        return name in self.display() and name not in self._display[1]

    def lookup(self, name: str) -> FileInfo | DirInfo | None:
        """The entry shown as `name` (an NFC name or an alternate), or None."""
        hit = self.display().get(name)
        if hit is None:
            return None
        raw, is_dir = hit
        return self.dirs[raw] if is_dir else self.files[raw]

    def names(self) -> list[str]:
        return sorted(self.display())


NFD_TAG = "NFD"  # a name not in NFC whose NFC form another entry holds
FILE_TAG = "file"  # a file whose name a folder holds


# What keys.validate_segments refuses in one segment (a regex: listings hold thousands).
_REFUSED_CHARS = re.compile(r"[\x00-\x1f\x7f\\/]")


_ALTERNATE = re.compile(r" \((?:NFD file|NFD|file)(?: \d+)?\)(?:\.[^.]*)?$")


def looks_alternate(name: str) -> bool:
    """Whether `name` has the form of an alternate name (`a (file).txt`, `x (NFD 2)`)."""
    return _ALTERNATE.search(name) is not None


def visible_name(name: str) -> bool:
    """Whether a listed name can be a path here: names the gateway refuses are hidden."""
    return name not in ("", ".", "..") and _REFUSED_CHARS.search(name) is None


def alternate_name(base: str, tag: str, taken: set[str]) -> str:
    """`a.txt` -> `a (tag).txt` (`x` -> `x (tag)`), numbered `a (tag 2).txt` past `taken`.

    The tag goes before the last extension so that the alternate opens with
    the same application.
    """
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    n = 1
    while True:
        label = tag if n == 1 else f"{tag} {n}"
        name = f"{stem} ({label})" + (f".{ext}" if ext else "")
        if name not in taken:
            return name
        n += 1


def display_names(
    files: Iterable[str], dirs: Iterable[str]
) -> tuple[dict[str, tuple[str, bool]], set[str]]:
    """The names a folder's members are shown by, and which of them are not plain.

    Keys are the raw names in S3. Every entry whose name NFC-normalises to the
    same N competes for N: a folder wins over a file, then the NFC spelling
    over others (then the lowest raw name). Each loser gets an alternate name
    (`alternate_name`, tagged `file` and/or `NFD`) that no winner holds, so
    every entry stays reachable. Names the gateway refuses as a path (`..`,
    control characters, backslashes, empty) are not shown at all.

    Returns (shown name -> (raw name, is_dir), names that are not plain: an
    alternate, or a winner with a rival or a raw name not in NFC).
    """
    # The common case first: an NFC name no other entry has is shown as it is.
    shown: dict[str, tuple[str, bool]] = {}
    odd: list[tuple[str, bool]] = []
    for raw in dirs:
        if not unicodedata.is_normalized("NFC", raw):
            odd.append((raw, True))
        elif visible_name(raw):
            shown[raw] = (raw, True)
    for raw in files:
        if raw in shown or not unicodedata.is_normalized("NFC", raw):
            odd.append((raw, False))
        elif visible_name(raw):
            shown[raw] = (raw, False)
    irregular: set[str] = set()
    if not odd:
        return shown, irregular
    groups: dict[str, list[tuple[str, bool]]] = {}
    for raw, is_dir in odd:
        nfc = unicodedata.normalize("NFC", raw)
        if visible_name(raw) and visible_name(nfc):
            groups.setdefault(nfc, []).append((raw, is_dir))
    losers: list[tuple[str, str, str, bool]] = []
    for nfc, members in groups.items():
        if nfc in shown:
            members.append(shown[nfc])
        members.sort(key=lambda m: (not m[1], m[0] != nfc, m[0]))
        shown[nfc] = members[0]
        irregular.add(nfc)
        for raw, is_dir in members[1:]:
            tags = [NFD_TAG] if raw != nfc else []
            if not is_dir and members[0][1]:
                tags.append(FILE_TAG)
            losers.append((nfc, " ".join(tags), raw, is_dir))
    taken = set(shown)
    for nfc, tag, raw, is_dir in sorted(losers):
        name = alternate_name(nfc, tag, taken)
        taken.add(name)
        shown[name] = (raw, is_dir)
        irregular.add(name)
    return shown, irregular


def etag_md5(etag: str) -> str | None:
    """The MD5 hidden in a single-part ETag; multipart ETags ("...-3") have none."""
    etag = etag.strip('"')
    if len(etag) == 32 and "-" not in etag:
        low = etag.lower()
        return etag if low == etag else low  # one string, not two, per cached file
    return None


def restore_state(status: dict | None) -> str | None:
    """A listing entry's RestoreStatus in one word: "restoring", "restored" or None
    (not asked for, not given by the store, or never restored)."""
    if not status:
        return None
    if status.get("IsRestoreInProgress"):
        return "restoring"
    return "restored" if status.get("RestoreExpiryDate") else None


def restore_header_state(header: str | None) -> str | None:
    """HEAD's `x-amz-restore` (`ongoing-request="false", expiry-date=...`) in one word."""
    if not header:
        return None
    return "restoring" if 'ongoing-request="true"' in header else "restored"


def file_from_list_entry(entry: dict) -> FileInfo:
    etag = entry.get("ETag", "").strip('"')
    return FileInfo(
        key=entry["Key"],
        size=int(entry.get("Size", 0)),
        etag=etag,
        last_modified=entry["LastModified"].timestamp(),
        md5=etag_md5(etag),
        storage_class=entry.get("StorageClass"),
        restore=restore_state(entry.get("RestoreStatus")),
    )


def build_listing(dir_key: str, pages: list[dict]) -> Listing:
    """Fold ListObjectsV2 pages (delimiter "/") for `dir_key` into a Listing."""
    listing = Listing(dir_key=dir_key)
    for page in pages:
        for cp in page.get("CommonPrefixes", []) or []:
            rest = cp["Prefix"][len(dir_key) :]
            name = rest.rstrip("/")
            if name and name not in listing.dirs:
                listing.dirs[name] = DirInfo(key=dir_key + name + "/")
        for entry in page.get("Contents", []) or []:
            key = entry["Key"]
            rest = key[len(dir_key) :]
            classified = name_of_entry(rest)
            if classified is None:
                listing.own_marker = file_from_list_entry(entry)
                continue
            name, is_dir = classified
            if is_dir:
                listing.dirs.setdefault(name, DirInfo(key=dir_key + name + "/"))
            else:
                listing.files[name] = file_from_list_entry(entry)
    # Markers `name/` roll up into CommonPrefixes; their objects are not seen
    # here, which is fine: the folder is shown either way.
    # A file and a folder of one name: the folder wins it, the file is kept and
    # shown by an alternate name (display_names), at its own once the folder goes.
    listing.clashes = [name for name in listing.files if name in listing.dirs]
    return listing
