"""S3 event notifications: changes made by other tools, learnt without asking S3.

AWS S3 (through an SNS HTTP/S subscription), MinIO (webhook target) and Ceph RGW
(topic with an HTTP push-endpoint) can push a JSON `Records` document for every
object created or removed. The gateway's caches (folder listings, the overlay
of own writes) would otherwise show such a change only after `metadata_ttl`:
with events, the listings a change touches are dropped as it arrives, and the
next request lists them again (docs/SEMANTICS.md, *Changes by other tools*).

Pure logic, no HTTP: `parse_body` turns a request body into a `Message`;
`stale_folders` says which cached listings a change makes stale; `deliver`
applies changes to the trees (anything with `bucket`, `prefix`, `listings`,
`overlay`, `writeback`, as store/tree.py's S3Tree).

The metadata store needs nothing: it is keyed by key + ETag and checked against
the listing's LastModified, so the new version a listing shows is read afresh.
The content cache is keyed by ETag too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote_plus, urlsplit

from s3dav.store.keys import FOLDER_SUFFIX

CREATED = "created"
REMOVED = "removed"

# Message kinds
RECORDS = "records"  # S3 Records (maybe none: S3's s3:TestEvent)
CONFIRM = "confirm"  # SNS SubscriptionConfirmation: fetch SubscribeURL to confirm
UNSUBSCRIBED = "unsubscribed"  # SNS UnsubscribeConfirmation: nothing to do

MAX_RECORDS = 1000  # per request (config events.max_records)
MAX_KEY_BYTES = 1024  # S3's own limit

# Sources that send the key as it is; everyone else URL-encodes it (AWS, MinIO: `+` is a space).
RAW_KEY_SOURCES = ("ceph:s3",)

# What an eventName (with or without MinIO's and newer RGW's `s3:` prefix) does to a listing.
# Everything else (ObjectAccessed, tagging, ACLs, restores, transitions, replication
# bookkeeping) changes no folder listing and is ignored.
_CREATED_EVENTS = ("ObjectCreated:", "ObjectSynced:Create")
_REMOVED_EVENTS = (
    "ObjectRemoved:",
    "LifecycleExpiration:",  # AWS
    "ObjectLifecycle:Expiration:",  # Ceph RGW
    "ObjectSynced:Delete",  # Ceph RGW multisite
)
_NOT_REMOVALS = ("ObjectRemoved:NoOP", "ObjectLifecycle:Expiration:AbortMultipartUpload")

SNS_HOST = re.compile(r"sns\.[a-z0-9-]{1,40}\.amazonaws\.com(\.cn)?")


class EventError(ValueError):
    """A body that is not an event notification we read (answered 400)."""


class TooManyRecords(EventError):
    """More records in one body than events.max_records (answered 413)."""


@dataclass(frozen=True)
class Change:
    """One object created or removed by someone, in `bucket` at `key`."""

    bucket: str
    key: str
    kind: str  # CREATED | REMOVED
    etag: str | None = None  # the new object's ETag, when the event says it


@dataclass(frozen=True)
class Message:
    """What a body asks of the gateway."""

    kind: str  # RECORDS | CONFIRM | UNSUBSCRIBED
    changes: tuple[Change, ...] = ()
    ignored: int = 0  # records whose event changes no listing
    subscribe_url: str | None = None  # CONFIRM: the URL that confirms the subscription
    topic: str | None = None  # SNS TopicArn, for the log


def change_kind(event_name: str) -> str | None:
    """CREATED, REMOVED, or None for an event that changes no listing."""
    name = event_name[3:] if event_name.startswith("s3:") else event_name
    if name.startswith(_NOT_REMOVALS):
        return None
    if name.startswith(_CREATED_EVENTS):
        return CREATED
    if name.startswith(_REMOVED_EVENTS):
        return REMOVED
    return None


def record_key(raw: str, source: str) -> str:
    """The object key of a record: URL-decoded (`+` is a space) unless the source sends it raw."""
    if source in RAW_KEY_SOURCES:
        return raw
    return unquote_plus(raw, errors="strict")


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise EventError(f"{what} is not a string")
    return value


def parse_record(record) -> Change | None:
    """One entry of `Records`, or None when its event changes no listing."""
    if not isinstance(record, dict):
        raise EventError("a record is not a JSON object")
    kind = change_kind(_text(record.get("eventName", ""), "eventName"))
    if kind is None:
        return None
    s3 = record.get("s3")
    if not isinstance(s3, dict):
        raise EventError("a record has no s3 object")
    bucket = (s3.get("bucket") or {}).get("name") if isinstance(s3.get("bucket"), dict) else None
    obj = s3.get("object")
    raw_key = obj.get("key") if isinstance(obj, dict) else None
    if not bucket or raw_key is None:
        raise EventError("a record has no s3.bucket.name or s3.object.key")
    source = record.get("eventSource", "")
    try:
        key = record_key(_text(raw_key, "s3.object.key"), _text(source, "eventSource"))
    except UnicodeDecodeError:
        raise EventError("s3.object.key is not URL-encoded UTF-8") from None
    if not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise EventError("s3.object.key is empty or longer than 1024 bytes")
    etag = obj.get("eTag")
    return Change(
        bucket=_text(bucket, "s3.bucket.name"),
        key=key,
        kind=kind,
        etag=etag.strip('"') if isinstance(etag, str) and etag else None,
    )


def parse_records(doc: dict, max_records: int = MAX_RECORDS) -> Message:
    """An S3 notification document: `{"Records": [...]}` (MinIO adds EventName and Key)."""
    records = doc.get("Records")
    if records is None:
        if doc.get("Event") == "s3:TestEvent":  # sent by S3 when notifications are set up
            return Message(RECORDS)
        raise EventError("no Records: not an S3 event notification")
    if not isinstance(records, list):
        raise EventError("Records is not a list")
    if len(records) > max_records:
        raise TooManyRecords(f"{len(records)} records; at most {max_records} in one request")
    changes, ignored = [], 0
    for record in records:
        change = parse_record(record)
        if change is None:
            ignored += 1
        else:
            changes.append(change)
    return Message(RECORDS, tuple(changes), ignored)


def parse_sns(doc: dict, max_records: int = MAX_RECORDS) -> Message:
    """An SNS HTTP/S delivery: its `Message` holds the S3 document as a JSON string."""
    kind = doc.get("Type")
    topic = doc.get("TopicArn") if isinstance(doc.get("TopicArn"), str) else None
    if kind == "SubscriptionConfirmation":
        url = doc.get("SubscribeURL")
        if not isinstance(url, str) or not url:
            raise EventError("SubscriptionConfirmation without a SubscribeURL")
        return Message(CONFIRM, subscribe_url=url, topic=topic)
    if kind == "UnsubscribeConfirmation":
        return Message(UNSUBSCRIBED, topic=topic)
    if kind != "Notification":
        raise EventError(f"SNS message of unknown Type {str(kind)[:40]!r}")
    inner = _loads(_text(doc.get("Message"), "SNS Message"), "SNS Message")
    return parse_records(inner, max_records)


def _loads(text: str | bytes, what: str) -> dict:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise EventError(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise EventError(f"{what} is not a JSON object")
    return doc


def parse_body(body: bytes, max_records: int = MAX_RECORDS) -> Message:
    """A webhook body: an S3 `Records` document, or an SNS envelope around one."""
    doc = _loads(body, "the body")
    if "Type" in doc and "Records" not in doc:
        return parse_sns(doc, max_records)
    return parse_records(doc, max_records)


def subscribe_url_problem(url: str) -> str | None:
    """Why the gateway must not fetch this SubscribeURL (None: it is SNS's own).

    Fetching a URL a request names is a server-side request forgery: only an
    https URL on an `sns.<region>.amazonaws.com` host, asking ConfirmSubscription,
    is ever fetched.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "SubscribeURL is not a URL"
    if parts.scheme != "https":
        return "SubscribeURL is not https"
    if parts.username is not None or parts.password is not None:
        return "SubscribeURL carries credentials"
    if not SNS_HOST.fullmatch(parts.hostname or "") or port not in (None, 443):
        return "SubscribeURL is not on an sns.<region>.amazonaws.com host"
    if parse_qs(parts.query).get("Action") != ["ConfirmSubscription"]:
        return "SubscribeURL does not ask ConfirmSubscription"
    return None


# -- the effect on the caches --------------------------------------------------------


def parent_dir(key: str) -> str:
    """The folder key holding `key` (a file `a/b.txt` or a folder `a/b/`): `a/`."""
    trimmed = key[:-1] if key.endswith("/") else key
    return trimmed.rsplit("/", 1)[0] + "/" if "/" in trimmed else ""


def _others(listing, removed: str) -> bool:
    """Does a folder's listing hold anything but the member `removed` (a name, or "" for
    its own marker)? Then the folder still exists after that member went away."""
    gone = {removed, removed.removesuffix(FOLDER_SUFFIX)}  # `b_$folder$` is listed as `b`
    if listing.dirs.keys() - gone or listing.files.keys() - gone:
        return True
    return removed != "" and listing.own_marker is not None


def stale_folders(key: str, kind: str, prefix: str, peek: Callable[[str], object]) -> list[str]:
    """The folders at or below `prefix` whose cached listing the change of `key` makes stale.

    `peek(dir_key)` is the cached listing (or None). The folder holding the key's
    entry (its parent; for a marker `a/b/`, the folder itself) always. Above it,
    a folder whose listing shows (created) or may have lost (removed) the folder
    below: created, a cached listing that lacks it; removed, while the folder
    below may now be empty (its listing is not cached, or shows nothing else).
    """
    if not key or not key.startswith(prefix):
        return []
    holder = key if key.endswith("/") else parent_dir(key)
    member = "" if key.endswith("/") else key[len(holder) :]
    stale = [holder]
    child, maybe_empty = holder, True
    if kind == REMOVED:
        listing = peek(holder)
        maybe_empty = listing is None or not _others(listing, member)
    while child != prefix:
        above = parent_dir(child)
        name = child[len(above) : -1]
        listing = peek(above)
        if kind == CREATED:
            if listing is not None:
                if name in listing.dirs:
                    break  # it knew that folder: nothing above changed
                stale.append(above)
        else:
            if not maybe_empty:
                break  # the folder below still holds something: nothing above changed
            if listing is not None:
                if name not in listing.dirs:
                    break
                stale.append(above)
                maybe_empty = not _others(listing, name)
        child = above
    return stale


def deliver(changes: Iterable[Change], trees: Iterable, publish=None) -> int:
    """Apply changes to every tree on the change's bucket whose prefix holds the key.

    Drops the stale cached listings (`stale_folders`) and the overlay's own-write
    entries the change supersedes: a file another tool deleted must not stay
    shown because this gateway wrote it a minute ago. Two exceptions: a created
    object whose ETag is the one this gateway recorded for it (its own write
    coming back as an event: the overlay already shows it, no LIST is needed),
    and a key with a write-back upload still pending (that upload is newer
    than anything S3 notified). `publish(bucket, key)` tells other replicas
    (replicas.ListingBus), once per change. Returns the cached listings dropped.
    """
    trees = list(trees)
    dropped = 0
    for change in changes:
        touched = False
        for tree in trees:
            if tree.bucket != change.bucket or not change.key.startswith(tree.prefix):
                continue
            if _own_write(tree, change):
                continue
            touched = True
            dropped += _drop(tree, change)
        if touched and publish is not None:
            publish(change.bucket, change.key)
    return dropped


def _own_write(tree, change: Change) -> bool:
    if change.kind != CREATED or change.etag is None:
        return False
    own = tree.overlay.file(change.key)
    return own is not None and own.etag == change.etag


def _pending(tree, key: str) -> bool:
    writeback = getattr(tree, "writeback", None)
    if writeback is None:
        return False
    return any(j.bucket == tree.bucket and j.key == key for j in writeback.pending())


def folders_up(key: str, prefix: str) -> list[str]:
    """The folders from the one holding `key` up to `prefix`, nearest first."""
    folder = key if key.endswith("/") else parent_dir(key)
    out = [folder]
    while folder != prefix and folder:
        folder = parent_dir(folder)
        out.append(folder)
    return out


def _drop(tree, change: Change) -> int:
    stale = stale_folders(change.key, change.kind, tree.prefix, tree.listings.get)
    if not _pending(tree, change.key):
        tree.overlay.forget(change.key)
        if change.kind == CREATED:
            # A folder this gateway deleted stays hidden (the overlay does not trust a
            # listing that still shows it); another tool's object below makes it real.
            for folder in folders_up(change.key, tree.prefix):
                tree.overlay.forget(folder)
    tree.versions_changed(change.key)  # its folder's earlier versions too (dav/versions.py)
    held = [folder for folder in stale if tree.listings.get(folder) is not None]
    for folder in stale:
        tree.listings.invalidate(folder)
    return len(held)
