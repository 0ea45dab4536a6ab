"""What an object's x-amz-meta-* say, as s3fs and rclone write them.

See docs/SEMANTICS.md, *Times and checksums*.

Pure helpers: file and folder modes, the times s3dav stores and shows, the s3fs
metadata an overwrite carries, and the names of macOS's metadata files. Nothing
here talks to S3.
"""

from __future__ import annotations

DIR_MODE = 0o40755  # 16877: what s3dav writes on folder markers
FILE_MODE = 0o100644  # 33188: what s3dav writes on files
# The times s3dav stores and shows: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. Every
# formatter on the way (RFC 1123 for getlastmodified, ISO 8601 for creationdate, the
# listing page, s3fs's strtoll) can write these; a larger one raised OverflowError.
MIN_TIME = 0.0
MAX_TIME = 253402300799.0


def is_macos_metadata(name: str) -> bool:
    """AppleDouble `._x` files and `.DS_Store` that Finder writes everywhere."""
    return name.startswith("._") or name == ".DS_Store"


def representable_time(t: float) -> float | None:
    """`t` when it lies in MIN_TIME .. MAX_TIME (so every date format can show it), else None.

    The one rule for both sides: a client asking for another time gets 400, and
    a stored value outside it (another tool's `x-amz-meta-mtime: 1e30`) is ignored
    in favour of S3's LastModified. NaN and infinities are outside it; so are
    times before 1970, which s3dav has never read back.
    """
    if not MIN_TIME <= t <= MAX_TIME:  # False for NaN too; never converts a huge int
        return None
    return float(t)


def parse_mtime(value: str | None) -> float | None:
    """Read x-amz-meta-mtime in every form in the wild; None when unusable.

    s3fs writes integer seconds, rclone fractional seconds; some tools write
    nanoseconds or milliseconds since the epoch. A value that is no number, or
    no representable time, is None.
    """
    if not value:
        return None
    try:
        t = float(value.strip())
    except ValueError:
        return None
    if t > 1e17:  # nanoseconds
        t /= 1e9
    elif t > 1e14:  # microseconds
        t /= 1e6
    elif t > 1e11:  # milliseconds
        t /= 1e3
    return representable_time(t)


def format_mtime(t: float) -> str:
    """Integer seconds: the one form s3fs 1.90 (strtoll) and rclone both read."""
    return str(int(t))


# s3fs metadata of a file that a new body does not change: an overwrite keeps them, as
# an overwrite through s3fs or any POSIX file system keeps owner, group, mode and xattrs.
# Not the times (the new body has its own) and nothing about the content (md5chksum).
CARRIED_META = ("uid", "gid", "xattr")


def carried_metadata(mode: int | None, keep: dict[str, str]) -> dict[str, str]:
    """x-amz-meta-* a PUT over an existing file writes besides its time: owner, group, mode.

    The old mode's permission bits stay; its type becomes a regular file (FILE_MODE's).
    """
    out = {k: v for k, v in keep.items() if k in CARRIED_META}
    if mode is not None:
        out["mode"] = str((FILE_MODE & ~0o7777) | (mode & 0o7777))
    return out


def parse_mode(value: str | None) -> int | None:
    """x-amz-meta-mode: decimal, with or without the file-type bits."""
    if not value:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
