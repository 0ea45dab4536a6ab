"""What a folder holds, read from ListObjectsV2 pages (DESIGN.md section 2).

Pure logic: it turns raw listing entries into files and folders following the
one directory scheme (implicit prefixes, `dir/` markers, `dir_$folder$`), so it
is tested without S3.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from s3dav.keys import FOLDER_SUFFIX, name_of_entry


@dataclass(frozen=True)
class FileInfo:
    """One S3 object shown as a file. Built from a listing entry or a HEAD."""

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

    @property
    def modified(self) -> float:
        return self.mtime if self.mtime is not None else self.last_modified

    def with_meta(self, **kw) -> FileInfo:
        return replace(self, meta_known=True, **kw)


@dataclass(frozen=True)
class DirInfo:
    """A folder: an implicit prefix, a marker object, or both."""

    key: str  # "a/b/"
    marker: FileInfo | None = None  # the `a/b/` object, when one exists
    legacy_marker: bool = False  # an `a/b_$folder$` object exists

    @property
    def modified(self) -> float | None:
        return self.marker.modified if self.marker else None


@dataclass
class Listing:
    """The members of one folder, and whether the folder itself is real."""

    dir_key: str
    files: dict[str, FileInfo] = field(default_factory=dict)
    dirs: dict[str, DirInfo] = field(default_factory=dict)
    own_marker: FileInfo | None = None  # the folder's own `dir/` object
    complete: bool = True  # False when only the first page(s) were read
    fetched_at: float = field(default_factory=time.monotonic)
    clashes: list[str] = field(default_factory=list)  # names that are both file and folder

    @property
    def is_empty(self) -> bool:
        return not self.files and not self.dirs and self.own_marker is None

    def names(self) -> list[str]:
        return sorted(set(self.files) | set(self.dirs))


def etag_md5(etag: str) -> str | None:
    """The MD5 hidden in a single-part ETag; multipart ETags ("...-3") have none."""
    etag = etag.strip('"')
    if len(etag) == 32 and "-" not in etag:
        return etag.lower()
    return None


def file_from_list_entry(entry: dict) -> FileInfo:
    etag = entry.get("ETag", "").strip('"')
    return FileInfo(
        key=entry["Key"],
        size=int(entry.get("Size", 0)),
        etag=etag,
        last_modified=entry["LastModified"].timestamp(),
        md5=etag_md5(etag),
    )


def build_listing(dir_key: str, pages: list[dict], *, complete: bool = True) -> Listing:
    """Fold ListObjectsV2 pages (delimiter "/") for `dir_key` into a Listing."""
    listing = Listing(dir_key=dir_key, complete=complete)
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
                old = listing.dirs.get(name) or DirInfo(key=dir_key + name + "/")
                listing.dirs[name] = replace(old, legacy_marker=key.endswith(FOLDER_SUFFIX))
            else:
                listing.files[name] = file_from_list_entry(entry)
    # Markers `name/` roll up into CommonPrefixes; their objects are not seen
    # here, which is fine: the folder is shown either way.
    for name in list(listing.files):
        if name in listing.dirs:
            listing.clashes.append(name)
            del listing.files[name]  # the collection wins the name
    return listing
