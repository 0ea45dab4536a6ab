"""Several replicas on one bucket (docs/DEPLOY.md, section 4): what they share through Redis.

- locks: WsgiDAV's own `LockStorageRedis` (built here from a redis:// URL);
- dead properties: `RedisPropertyManager`, the interface of props.SqlitePropertyManager
  over Redis hashes, so a PROPPATCH through one replica is read through every other;
- listings: `ListingBus` publishes the folders a replica's own writes touched on a
  Redis channel; the other replicas drop those folders from their ListingCache, so
  they LIST S3 again on the next request. Should a message be lost (Redis restart,
  a replica reconnecting), staleness is still bounded by `cache.metadata_ttl`.

S3 stays the single source of truth: Redis holds only locks, dead properties and
invalidation messages.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3dav.config import Config, ConfigError
from s3dav.redis_url import RedisTarget, parse_redis_url
from s3dav.store.events import CREATED, REMOVED, stale_folders

if TYPE_CHECKING:
    from s3dav.store.stores import StoreIdentity
    from s3dav.store.tree import S3Tree

_log = logging.getLogger(__name__)

CHANNEL = "s3dav:listing-changed"
PROPS_PREFIX = "s3dav:props:"


def redis_client(target: RedisTarget):
    """A client that gives up within about a second when Redis is down (then: 503)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis(
        host=target.host,
        port=target.port,
        db=target.db,
        password=target.password,
        socket_connect_timeout=1,
        socket_timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2),
        health_check_interval=30,
    )


def lock_storage(target: RedisTarget):
    """WsgiDAV's Redis lock storage: a LOCK through one replica holds on all."""
    from wsgidav.lock_man.lock_storage_redis import LockStorageRedis

    class Storage(LockStorageRedis):
        def open(self):  # WsgiDAV's own client has redis-py's slow default retries
            self._redis = redis_client(target)

    storage = Storage(host=target.host, port=target.port, db=target.db, password=target.password)
    return Unavailable503(storage)


class Unavailable503:
    """Wrap a Redis-backed store so that a Redis outage answers 503, not 500.

    While Redis is down, nothing that needs a lock check or a dead property can be
    decided safely; the client is told to retry rather than that the gateway broke.
    """

    def __init__(self, inner) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return repr(self._inner)

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            import redis
            from wsgidav.dav_error import HTTP_SERVICE_UNAVAILABLE, DAVError

            try:
                return attr(*args, **kwargs)
            except redis.RedisError as exc:
                _log.warning("Redis unavailable in %s: %s", name, type(exc).__name__)
                raise DAVError(
                    HTTP_SERVICE_UNAVAILABLE, "lock and property storage (Redis) unavailable"
                ) from None

        return call


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisPropertyManager:
    """Dead properties in Redis: one hash per resource URL, name -> XML value."""

    def __init__(self, client, prefix: str = PROPS_PREFIX) -> None:
        self._r = client
        self._prefix = prefix

    def __repr__(self) -> str:
        return "RedisPropertyManager()"

    def _k(self, url: str) -> str:
        return self._prefix + url

    def _subtree(self, url: str) -> list[str]:
        """URLs of resources strictly below collection `url` that hold properties."""
        base = url if url.endswith("/") else url + "/"
        pattern = self._k(_glob_escape(base)) + "*"
        return [_text(k)[len(self._prefix) :] for k in self._r.scan_iter(match=pattern, count=500)]

    # -- the interface WsgiDAV uses ------------------------------------------
    def get_properties(self, norm_url, environ=None):
        return [_text(n) for n in self._r.hkeys(self._k(norm_url))]

    def get_property(self, norm_url, name, environ=None):
        value = self._r.hget(self._k(norm_url), name)
        return None if value is None else _text(value)

    def write_property(self, norm_url, name, property_value, dry_run=False, environ=None):
        if not dry_run:
            self._r.hset(self._k(norm_url), name, property_value)

    def remove_property(self, norm_url, name, dry_run=False, environ=None):
        if not dry_run:
            self._r.hdel(self._k(norm_url), name)

    def remove_properties(self, norm_url, environ=None):
        self._r.delete(self._k(norm_url))

    def copy_properties(self, src_url, dest_url, environ=None):
        props = self._r.hgetall(self._k(src_url))
        pipe = self._r.pipeline()
        pipe.delete(self._k(dest_url))
        if props:
            pipe.hset(self._k(dest_url), mapping=props)
        pipe.execute()

    def move_properties(self, src_url, dest_url, with_children, environ=None):
        pairs = [(src_url, dest_url)]
        if with_children:
            base = src_url if src_url.endswith("/") else src_url + "/"
            dbase = dest_url if dest_url.endswith("/") else dest_url + "/"
            pairs += [(u, dbase + u[len(base) :]) for u in self._subtree(src_url)]
        pipe = self._r.pipeline()
        pipe.delete(self._k(dest_url))
        for src, dst in pairs:
            if self._r.exists(self._k(src)):
                pipe.rename(self._k(src), self._k(dst))
        pipe.execute()

    # -- subtree helpers for collections (as in SqlitePropertyManager) ------------
    def copy_tree_properties(self, src_url, dest_url):
        self.copy_properties(src_url, dest_url)
        base = src_url if src_url.endswith("/") else src_url + "/"
        dbase = dest_url if dest_url.endswith("/") else dest_url + "/"
        for url in self._subtree(src_url):
            self.copy_properties(url, dbase + url[len(base) :])

    def remove_tree_properties(self, url):
        keys = [self._k(url)] + [self._k(u) for u in self._subtree(url)]
        self._r.delete(*keys)

    def close(self) -> None:
        self._r.close()


class ListingBus:
    """Publish own changes; let the other replicas drop what went stale in their caches."""

    def __init__(self, client, *, channel: str = CHANNEL) -> None:
        self._r = client
        self.channel = channel
        self.origin = uuid.uuid4().hex
        # bucket -> callbacks (changed key, whole_tree) run on other replicas' changes
        self._sinks: dict[str, list[Callable[[str, bool], None]]] = {}
        self._pubsub = None
        self._thread: threading.Thread | None = None

    def add_sink(self, bucket: str, on_change: Callable[[str, bool], None]) -> None:
        self._sinks.setdefault(bucket, []).append(on_change)

    def publish(self, bucket: str, key: str, tree: bool = False) -> None:
        """Tell the other replicas that `key` changed (tree=True: everything below it)."""
        message = json.dumps({"origin": self.origin, "bucket": bucket, "key": key, "tree": tree})
        try:
            self._r.publish(self.channel, message)
        except Exception as exc:  # noqa: BLE001 - a lost message costs staleness, not data
            _log.warning("could not publish a listing change to Redis: %s", exc)

    def handle(self, raw: bytes | str) -> None:
        try:
            msg = json.loads(raw)
            if msg.get("origin") == self.origin:
                return
            sinks = self._sinks.get(msg["bucket"], [])
            key = str(msg["key"])
            tree = bool(msg.get("tree"))
        except (ValueError, KeyError, TypeError):
            _log.warning("ignoring a malformed listing-change message")
            return
        for on_change in sinks:
            on_change(key, tree)

    def start(self) -> None:
        """Subscribe (before serving, so no change made after start is missed)."""
        self._pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(self.channel)
        self._thread = threading.Thread(target=self._run, name="s3dav-listing-bus", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        while self._pubsub is not None:
            try:
                message = self._pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self.handle(message["data"])
            except Exception as exc:  # noqa: BLE001 - keep listening; TTL bounds staleness
                if self._pubsub is None:
                    return
                _log.warning("listing-change subscription: %s (retrying)", exc)
                time.sleep(1.0)
                try:
                    self._pubsub.subscribe(self.channel)
                except Exception:  # noqa: BLE001
                    pass

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001
                pass


@dataclass
class SharedState:
    """What replicas share through Redis (locks.storage: redis://...)."""

    target: RedisTarget
    locks: object
    props_for: Callable[[StoreIdentity], object]  # dead properties of one store
    bus: ListingBus


def shared_state(cfg: Config) -> SharedState | None:
    """None for `locks.storage: memory`; else Redis, reached once now (else one config line)."""
    storage = cfg.locks["storage"]
    if storage == "memory":
        return None
    target = parse_redis_url(storage)
    client = redis_client(target)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here is one config line
        raise ConfigError(f"locks.storage: cannot reach {target}: {type(exc).__name__}") from None
    return SharedState(
        target=target,
        locks=lock_storage(target),
        props_for=lambda identity: Unavailable503(
            RedisPropertyManager(client, prefix=f"{PROPS_PREFIX}{identity.dirname}:")
        ),
        bus=ListingBus(client),
    )


def join_bus(bus: ListingBus, tree: S3Tree) -> None:
    """Publish this tree's own changes; forget what other replicas changed."""

    def on_remote_change(key: str, whole_tree: bool) -> None:
        if not key.startswith(tree.prefix):
            return
        tree.overlay.forget(key, whole_tree)
        # A change may have made a folder (a file in a new one) or emptied one (its last
        # file gone): the listings above the key's parent that this replica holds and
        # that either would make stale go too (store/events.py `stale_folders`).
        peek = tree.listings.get
        stale = set(stale_folders(key, CREATED, tree.prefix, peek))
        stale.update(stale_folders(key, REMOVED, tree.prefix, peek))
        for folder in stale:
            tree.listings.invalidate(folder)
        if whole_tree:
            tree.listings.invalidate_tree(key)

    bus.add_sink(tree.bucket, on_remote_change)
    tree.overlay.listeners.append(lambda key, whole: bus.publish(tree.bucket, key, whole))
