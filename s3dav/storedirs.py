"""One directory per S3 store under `cache.dir`, and what is left of the layout before it.

A store is one endpoint + bucket + prefix (StoreIdentity): its metadata cache,
dead properties and write-back journal live in `<cache.dir>/stores/<name>/`,
shared by every share on that store. The content cache is not here: it is one
for all stores (keyed by endpoint + bucket + key + ETag).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from s3dav.config import Config, ConfigError, Share
from s3dav.dav.props import SqlitePropertyManager
from s3dav.store.metastore import MetaStore
from s3dav.store.stores import StoreIdentity, store_identity
from s3dav.store.tree import S3Tree
from s3dav.transfer.journal import JournalInUse, read_record
from s3dav.transfer.writeback import WriteBack

_log = logging.getLogger(__name__)

OLD_LAYOUT = ("meta", "properties.sqlite3")  # directly in cache.dir, before stores/


@dataclass
class Store:
    """The on-disk state of one S3 store (StoreIdentity), shared by its shares."""

    identity: StoreIdentity
    directory: Path
    meta: MetaStore
    props: object
    writeback: WriteBack | None
    trees: list[S3Tree] = field(default_factory=list)

    def start_writeback(self) -> None:
        """Route finished uploads to the trees that show them; resume the journal."""
        writeback, trees = self.writeback, self.trees
        if writeback is None:
            return

        def trees_for(job):
            return [t for t in trees if t.bucket == job.bucket and t.owns(job.key)]

        def on_uploaded(job, result, body):
            for tree in trees_for(job):
                tree.uploaded(job, result, body)

        def on_pending(job):
            for tree in trees_for(job):
                tree.pending_visible(job)

        writeback.on_uploaded = on_uploaded
        writeback.on_pending = on_pending
        for job in writeback.recover():
            on_pending(job)
        writeback.start()


def share_identity(cfg: Config, share: Share) -> StoreIdentity:
    return store_identity(cfg.s3["endpoint_url"], cfg.s3["region"], share.bucket, share.prefix)


def open_stores(
    cfg: Config,
    cache_dir: Path,
    props_for: Callable[[StoreIdentity], object] | None,
    new_writeback: Callable[[Path, Share], WriteBack] | None,
    closers: list,
) -> dict[StoreIdentity, Store]:
    """One Store per distinct endpoint + bucket + prefix, each in its own directory.

    Dead properties come from `props_for` (replicas: Redis) or else a SQLite file
    in the store's directory. Each store's closers are appended to `closers` as
    soon as it is open, so the caller can close what was opened when a later one
    fails (JournalInUse).
    """
    stores: dict[StoreIdentity, Store] = {}
    for share in cfg.shares:
        identity = share_identity(cfg, share)
        if identity in stores:
            continue
        directory = identity.directory(cache_dir)
        write_identity_file(directory, identity)
        meta = MetaStore(directory / "meta", namespace=identity.text)
        closers.append(meta.close)
        if props_for is not None:
            props = props_for(identity)
        else:
            props = SqlitePropertyManager(directory / "properties.sqlite3")
            closers.append(props.close)
        writeback = None
        if new_writeback is not None:
            try:
                writeback = new_writeback(directory / "writeback", share)
            except JournalInUse as exc:
                raise ConfigError(f"share {share.path}: {exc}") from None
            closers.append(writeback.close)
        stores[identity] = Store(identity, directory, meta, props, writeback)
    return stores


def write_identity_file(directory: Path, identity: StoreIdentity) -> None:
    """`<store dir>/IDENTITY` says whose cache a directory is (for people; never read back)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "IDENTITY"
        if not path.exists():
            path.write_text(identity.text + "\n")
    except OSError as exc:  # the caches below degrade and say so themselves
        _log.debug("cannot write %s/IDENTITY: %s", directory, exc)


def warn_old_layout(cache_dir: Path) -> None:
    """Caches of the layout before stores/ were keyed without the bucket: never read them."""
    found = [name for name in OLD_LAYOUT if (cache_dir / name).exists()]
    if found:
        _log.warning(
            "cache dir %s: %s predate per-bucket caches and are no longer read (metadata is "
            "fetched again, dead properties start empty); delete them to free the space",
            cache_dir,
            " and ".join(found),
        )


def store_for(bucket: str, key: str, stores: list[Store]) -> Store | None:
    """The store an old journal record belongs to: same bucket, the longest prefix of its key."""
    fits = [s for s in stores if s.identity.bucket == bucket and key.startswith(s.identity.prefix)]
    return max(fits, key=lambda s: len(s.identity.prefix), default=None)


def migrate_old_journal(cache_dir: Path, stores: list[Store]) -> None:
    """Move answered uploads of `cache.dir/writeback` (the old layout) into their store's journal.

    They were answered to a client, so they must still reach S3. A record no share
    of this gateway serves stays where it is, and is named in the log.
    """
    old = cache_dir / "writeback"
    if not old.is_dir():
        return
    left = []
    for path in sorted(old.glob("*.up")):
        record = read_record(path)
        if record is None:
            continue  # never answered: the old version would have removed it too
        store = store_for(record.get("bucket", ""), record.get("key", ""), stores)
        if store is None or store.writeback is None:
            left.append(f"s3://{record.get('bucket')}/{record.get('key')}")
            continue
        path.rename(store.writeback.dir / path.name)
        _log.info("write-back: moved journalled upload %s to %s", path.name, store.writeback.dir)
    if left:
        _log.warning(
            "write-back: %d journalled uploads in %s belong to no write-back share here and "
            "are not resumed: %s",
            len(left),
            old,
            ", ".join(left[:10]),
        )


def share_lines(cfg: Config, stores: dict[StoreIdentity, Store], cache_dir: Path) -> list[str]:
    """What is served, one line per share, for the start log (never a secret)."""
    lines = []
    for share in cfg.shares:
        identity = share_identity(cfg, share)
        users = [u for u in share.users if u != "anonymous"]
        auth = "anonymous" if "anonymous" in share.users else "basic"
        if users:
            auth += f" ({len(users)} user{'s' if len(users) != 1 else ''})"
        lines.append(
            f"share {share.path}: bucket {share.bucket}, prefix {share.prefix or '(none)'}, "
            f"endpoint {identity.endpoint}, auth {auth}, "
            f"{'read-only' if share.read_only else 'read-write'}, "
            f"cache dir {stores[identity].directory}"
        )
    lines.append(
        f"content cache {cache_dir / 'content'} ({cfg.cache['size']} bytes), "
        "shared by all shares, keyed by endpoint + bucket + key + ETag"
    )
    return lines
