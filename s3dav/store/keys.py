"""Pure mapping between WebDAV paths and S3 keys (docs/SEMANTICS.md, *Mapping*, *Folders*).

Nothing here talks to S3, so every rule can be unit-tested on its own.
"""

from __future__ import annotations

import unicodedata

MAX_KEY_BYTES = 1024
FOLDER_SUFFIX = "_$folder$"
DIRECTORY_CONTENT_TYPE = "application/x-directory"


class BadPath(ValueError):
    """A path that can never map to a key of this share (answered with 400)."""


def validate_segments(path: str) -> list[str]:
    """Split a decoded URL path into segments, refusing every unsafe form.

    `path` is the already percent-decoded path below the share ("/a/b.txt").
    A single trailing slash is allowed (collections); anything else that is
    empty, `.`/`..`, or holds control characters or a backslash is refused.
    """
    if "\x00" in path:
        raise BadPath("NUL character in path")
    body = path[1:] if path.startswith("/") else path
    if body.startswith("/"):
        raise BadPath("empty path segment")
    if body.endswith("/"):
        body = body[:-1]
    if body == "":
        return []
    segments = body.split("/")
    for seg in segments:
        if seg == "":
            raise BadPath("empty path segment")
        if seg in (".", ".."):
            raise BadPath(f"path segment {seg!r} is not allowed")
        if "\\" in seg:
            raise BadPath("backslash in path segment")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in seg):
            raise BadPath("control character in path")
    return segments


def path_to_key(path: str, prefix: str = "", *, collection: bool = False) -> str:
    """Map a share-relative path to its S3 key (NFC, no leading slash).

    `collection=True` yields the prefix form ending in "/" (or `prefix` for
    the share root).
    """
    segments = [unicodedata.normalize("NFC", s) for s in validate_segments(path)]
    key = prefix + "/".join(segments)
    if collection and segments:
        key += "/"
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadPath(f"key is longer than {MAX_KEY_BYTES} bytes")
    return key


def normalize_prefix(prefix: str | None) -> str:
    """A share prefix is "" or ends with exactly one "/"."""
    prefix = (prefix or "").strip("/")
    if not prefix:
        return ""
    validate_segments("/" + prefix)
    return unicodedata.normalize("NFC", prefix) + "/"


def parent_and_name(key: str) -> tuple[str, str]:
    """Split "a/b/c" (or "a/b/c/") into ("a/b/", "c")."""
    key = key.rstrip("/")
    head, _, name = key.rpartition("/")
    return (head + "/" if head else ""), name


def name_of_entry(rest: str) -> tuple[str, bool] | None:
    """Classify a key relative to a listed prefix.

    Returns (name, is_collection) or None for the prefix's own marker.
    "x" -> file x; "x/" or "x/..." -> folder x; "x_$folder$" -> folder x.
    """
    if rest == "":
        return None
    if "/" in rest:
        return rest.split("/", 1)[0], True
    if rest.endswith(FOLDER_SUFFIX) and len(rest) > len(FOLDER_SUFFIX):
        return rest[: -len(FOLDER_SUFFIX)], True
    return rest, False


def tree_dest_keys(src_keys: list[str], src_dir: str, dst_dir: str) -> dict[str, str]:
    """Where each key below `src_dir` goes when the folder is copied to `dst_dir`.

    The part below the folder is stored NFC, as every name s3dav writes; a key
    whose NFC form another source key already holds keeps its own spelling, so
    an NFC/NFD pair stays two objects (and keeps its two names) at the copy.
    """
    rests = {k: k[len(src_dir) :] for k in src_keys}
    nfc = {k: unicodedata.normalize("NFC", r) for k, r in rests.items()}
    used = {r for k, r in rests.items() if nfc[k] == r}
    out = {k: dst_dir + r for k, r in rests.items() if nfc[k] == r}
    for key in sorted(k for k in rests if k not in out):
        target = nfc[key] if nfc[key] not in used else rests[key]
        used.add(target)
        out[key] = dst_dir + target
    return out
