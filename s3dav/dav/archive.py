"""Storage classes and restores in WebDAV terms (docs/SEMANTICS.md, *Archived objects*).

- `{urn:s3dav:}storage-class`: a live property of every file, from its listing
  entry's StorageClass (no extra request); in `allprop` only when it is not
  STANDARD, so that an ordinary folder's PROPFIND is not made longer.
- `{urn:s3dav:}restore`: reads "restoring" / "restored" when the store lists
  RestoreStatus; a PROPPATCH setting it to `DAYS [TIER]` (e.g. `7`, `2 Bulk`)
  asks S3 to restore the archived object (RestoreObject) for that many days.

A GET of an archived object that is not restored answers 409 naming the class
and this way out (errors.py, ARCHIVED); once S3 has restored it, it reads as
any other file.
"""

from __future__ import annotations

from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_CONFLICT, HTTP_FORBIDDEN, DAVError

from s3dav.dav.faults import as_s3_error
from s3dav.errors import RESTORING, s3_code
from s3dav.store.keys import parent_and_name
from s3dav.store.listing import FileInfo

S3DAV_NS = "{urn:s3dav:}"
STORAGE_CLASS = S3DAV_NS + "storage-class"
RESTORE = S3DAV_NS + "restore"
# Classes whose objects S3 reads only after a restore (Intelligent-Tiering: its
# archive tiers, which S3 itself tells apart).
RESTORABLE = frozenset({"GLACIER", "DEEP_ARCHIVE", "INTELLIGENT_TIERING"})
TIERS = ("Standard", "Bulk", "Expedited")
MAX_RESTORE_DAYS = 30 * 365


def parse_restore(text: str | None) -> tuple[int, str | None]:
    """`DAYS [TIER]` -> (days, tier); ValueError with the reason for anything else."""
    words = (text or "").split()
    if not 1 <= len(words) <= 2 or not words[0].isdigit():
        raise ValueError("expected DAYS [TIER], e.g. 7 or 2 Bulk")
    days = int(words[0])
    if not 1 <= days <= MAX_RESTORE_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_RESTORE_DAYS}")
    tier = None
    if len(words) == 2:
        tier = next((t for t in TIERS if t.lower() == words[1].lower()), None)
        if tier is None:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}")
    return days, tier


def share_class(tree) -> str | None:
    """The storage class the tree's share writes (its ShareClient's ObjectArgs)."""
    args = getattr(tree.client, "object_args", None)
    return args.storage_class if args is not None else None


def storage_class_of(info: FileInfo | None, default: str | None) -> str:
    """What a file is stored as: its listing's class, else what the share writes."""
    return (info.storage_class if info else None) or default or "STANDARD"


def extra_names(info: FileInfo | None, default: str | None, *, is_allprop: bool) -> list[str]:
    """The names of archive properties a file shows (propname: all; allprop: unusual ones)."""
    if info is None:
        return []
    if not is_allprop:
        return [STORAGE_CLASS, RESTORE] if info.restore else [STORAGE_CLASS]
    names = [STORAGE_CLASS] if storage_class_of(info, default) != "STANDARD" else []
    return names + ([RESTORE] if info.restore else [])


def property_value(info: FileInfo | None, name: str, default: str | None) -> str:
    if name == STORAGE_CLASS:
        return storage_class_of(info, default)
    if info is None or not info.restore:
        raise DAVError(404, "no restore status is known for this file")
    return info.restore


def request_restore(tree, info: FileInfo | None, path: str, value, *, dry_run: bool) -> bool:
    """PROPPATCH s3dav:restore: RestoreObject for `DAYS [TIER]` days."""
    if value is None:
        raise DAVError(HTTP_FORBIDDEN, "s3dav:restore cannot be removed")
    try:
        days, tier = parse_restore(value.text)
    except ValueError as exc:
        raise DAVError(HTTP_BAD_REQUEST, f"s3dav:restore of {path}: {exc}") from None
    if info is None:
        raise DAVError(HTTP_CONFLICT, f"{path} is not in S3 yet")
    klass = storage_class_of(info, None)
    if klass not in RESTORABLE:
        raise DAVError(HTTP_CONFLICT, f"{path} is stored as {klass}: it reads without a restore")
    if dry_run:
        return True
    request: dict = {"Days": days}
    if tier:
        request["GlacierJobParameters"] = {"Tier": tier}
    try:
        tree.client.restore_object(Bucket=tree.bucket, Key=info.key, RestoreRequest=request)
    except Exception as exc:
        if s3_code(exc) in RESTORING:
            return True  # asked before: the restore that runs is the answer
        raise as_s3_error(exc, f"restoring {path}") from exc
    tree.listings.invalidate(parent_and_name(info.key)[0])  # the next listing shows the restore
    return True
