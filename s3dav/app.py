"""Wiring: from a Config to a running WsgiDAV application on cheroot."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from cheroot import wsgi
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from s3dav.config import Config, ConfigError, ListenError, Share
from s3dav.dav.browser import DirBrowser, ShareIndex
from s3dav.dav.directget import DirectDownloads, DirectRule
from s3dav.dav.faults import S3ErrorMapper, quiet_mapped_put_failures
from s3dav.dav.props import SqlitePropertyManager
from s3dav.dav.provider import S3Provider
from s3dav.dav.safety import SafeContent
from s3dav.errors import is_denied, is_missing_bucket, s3_code
from s3dav.redis_url import parse_redis_url
from s3dav.server.auth import ReadOnlyShareGuard, ShareDomainController
from s3dav.server.clientaddr import parse_networks
from s3dav.server.errorpages import PlainErrorPrinter, RealmAuthenticator
from s3dav.server.errorpages import install as install_error_pages
from s3dav.server.events import EventsEndpoint, EventSettings
from s3dav.server.httpguard import DeferredHandshakeAdapter, GuardedServer, Limits
from s3dav.server.linkstore import LinkStore
from s3dav.server.lockguard import LockGuard
from s3dav.server.metrics import Metrics
from s3dav.server.middleware import GatewayApp
from s3dav.server.onewrite import OneWriteGateway
from s3dav.server.sharelinks import ShareInfo, ShareLinks, link_settings
from s3dav.server.throttle import LoginThrottle
from s3dav.store.events import deliver
from s3dav.store.metacache import MetaStore
from s3dav.store.quickhead import make_quick_head
from s3dav.store.s3client import RequestCounter, S3Settings, make_client
from s3dav.store.staleuploads import StaleUploadSweeper
from s3dav.store.stores import StoreIdentity, normalize_endpoint, store_identity
from s3dav.store.tree import S3Tree, TreeSettings
from s3dav.transfer.afterput import AfterPut
from s3dav.transfer.contentcache import ContentCache
from s3dav.transfer.journal import JournalInUse, read_record
from s3dav.transfer.partchecks import PartChecksums
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.uploads import InFlightUploads
from s3dav.transfer.writeback import WriteBack

_log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """Everything a running s3dav holds; tests and the CLI both build it here."""

    config: Config
    app: object
    counter: RequestCounter
    providers: dict[str, S3Provider]
    executor: ThreadPoolExecutor
    metrics: Metrics
    closers: list = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - best effort on shutdown
                _log.warning("while shutting down: %s", exc)


def s3_settings(cfg: Config) -> S3Settings:
    s3 = cfg.s3
    return S3Settings(
        endpoint_url=s3["endpoint_url"],
        region=s3["region"],
        addressing_style=s3["addressing_style"],
        access_key_id=s3["access_key_id"],
        secret_access_key=s3["secret_access_key"],
        connect_timeout=s3["connect_timeout"],
        read_timeout=s3["read_timeout"],
        max_attempts=s3["max_attempts"],
    )


def check_buckets(client, shares: list[Share]) -> None:
    """Fail fast, with one line, when a bucket cannot be reached."""
    for share in {s.bucket: s for s in shares}.values():
        try:
            client.head_bucket(Bucket=share.bucket)
        except ClientError as exc:
            if is_missing_bucket(exc):
                raise ConfigError(f"bucket {share.bucket!r} does not exist") from None
            if is_denied(exc):
                raise ConfigError(
                    f"bucket {share.bucket!r}: access denied (check the credentials)"
                ) from None
            raise ConfigError(f"bucket {share.bucket!r}: S3 answered {s3_code(exc)}") from None
        except BotoCoreError as exc:
            raise ConfigError(f"cannot reach S3 for bucket {share.bucket!r}: {exc}") from None


def ready_probe(client, shares: list[Share]) -> tuple[bool, str]:
    """Is every bucket reachable right now? (for /readyz)"""
    for bucket in sorted({s.bucket for s in shares}):
        try:
            client.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            return False, f"bucket {bucket} unreachable: {type(exc).__name__}"
    return True, "ready"


@dataclass
class Store:
    """The on-disk state of one S3 store (StoreIdentity), shared by its shares."""

    identity: StoreIdentity
    directory: Path
    meta: MetaStore
    props: object
    writeback: WriteBack | None
    trees: list[S3Tree] = field(default_factory=list)


def share_identity(cfg: Config, share: Share) -> StoreIdentity:
    return store_identity(cfg.s3["endpoint_url"], cfg.s3["region"], share.bucket, share.prefix)


def open_stores(
    cfg: Config,
    cache_dir: Path,
    shared: SharedState | None,
    new_writeback: Callable[[Path], WriteBack] | None,
    closers: list,
) -> dict[StoreIdentity, Store]:
    """One Store per distinct endpoint + bucket + prefix, each in its own directory.

    Each store's closers are appended to `closers` as soon as it is open, so the
    caller can close what was opened when a later one fails (JournalInUse).
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
        if shared:
            props = shared.props_for(identity)
        else:
            props = SqlitePropertyManager(directory / "properties.sqlite3")
            closers.append(props.close)
        writeback = None
        if new_writeback is not None:
            try:
                writeback = new_writeback(directory / "writeback")
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


OLD_LAYOUT = ("meta", "properties.sqlite3")  # directly in cache.dir, before stores/


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


def start_writeback(writeback: WriteBack, trees: list[S3Tree]) -> None:
    """Route finished uploads to the trees that show them; resume the journal."""

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


def build_gateway(cfg: Config, *, check: bool = True) -> Gateway:
    counter = RequestCounter()
    metrics = Metrics()
    counter.listeners.append(metrics.on_s3_request)
    counter.duration_listeners.append(metrics.on_s3_duration)
    threads = cfg.server["threads"]
    client = make_client(s3_settings(cfg), counter, pool_size=threads + 32)
    in_flight = InFlightUploads()  # this gateway's multipart uploads: never swept as stale
    sweeper = None
    if cfg.s3["abort_stale_uploads_after"] > 0:
        sweeper = StaleUploadSweeper(
            client,
            [(share.bucket, share.prefix) for share in cfg.shares],
            older_than=cfg.s3["abort_stale_uploads_after"],
            every=cfg.s3["abort_stale_uploads_every"],
            keep=in_flight.ids,
        )
    if check:
        check_buckets(client, cfg.shares)
        if sweeper is not None:
            sweeper.sweep()
    cache_dir = Path(cfg.cache["dir"]).expanduser()
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3dav-s3")
    tree_settings = TreeSettings(
        listing_ttl=cfg.cache["metadata_ttl"],
        overlay_ttl=cfg.cache["overlay_ttl"],
        head_unseen=cfg.cache["head_unseen"],
        readahead_folders=cfg.cache["readahead_folders"],
        legacy_s3fs_dirs=cfg.s3["legacy_s3fs_dirs"],
        part_size=cfg.s3["part_size"],
        multipart_threshold=cfg.s3["multipart_threshold"],
        upload_concurrency=cfg.s3["upload_concurrency"],
        copy_threshold=cfg.s3["copy_threshold"],
        conditional_writes=cfg.s3["conditional_writes"],
    )
    content = ContentCache(
        cache_dir / "content",
        cfg.cache["size"],
        metrics=metrics,
        namespace=normalize_endpoint(cfg.s3["endpoint_url"], cfg.s3["region"]),
    )
    metrics.cache_sizes.append(content.volume)
    after_put = AfterPut(gauge=metrics.upload_work_pending)
    checksums = PartChecksums(cfg.s3["part_checksums"])  # one for all shares: a store refuses once
    # One upload's parts in flight, plus the one being filled, are kept for the next upload.
    part_pool = PartPool(keep=(cfg.s3["upload_concurrency"] + 1) * cfg.s3["part_size"])
    shared = shared_state(cfg)
    closers: list = []

    def new_writeback(directory: Path) -> WriteBack:
        return WriteBack(
            directory,
            client,
            part_size=cfg.s3["part_size"],
            threshold=cfg.s3["multipart_threshold"],
            delay=cfg.cache["write_back_delay"],
            metrics=metrics,
            checksums=checksums,
            part_pool=part_pool,
            in_flight=in_flight,
        )

    try:
        stores = open_stores(
            cfg,
            cache_dir,
            shared,
            new_writeback if cfg.cache["write_back"] else None,
            closers,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        content.close()
        raise
    for store in stores.values():
        store.meta.on_hit = metrics.cache_hits.labels(cache="metadata").inc
        store.meta.on_miss = metrics.cache_misses.labels(cache="metadata").inc
        metrics.cache_sizes.append(store.meta.volume)
    warn_old_layout(cache_dir)
    migrate_old_journal(cache_dir, list(stores.values()))
    for line in share_lines(cfg, stores, cache_dir):
        _log.info("%s", line)
    providers: dict[str, S3Provider] = {}
    for share in cfg.shares:
        store = stores[share_identity(cfg, share)]
        tree = S3Tree(
            client,
            share.bucket,
            share.prefix,
            settings=tree_settings,
            meta_store=store.meta,
            executor=executor,
            content=content,
            writeback=store.writeback,
            quick_head=make_quick_head(client, share.bucket, counter),
            after_put=after_put,
            checksums=checksums,
            part_pool=part_pool,
            in_flight=in_flight,
        )
        tree.listings.on_hit = metrics.cache_hits.labels(cache="listing").inc
        tree.listings.on_miss = metrics.cache_misses.labels(cache="listing").inc
        if shared:
            join_bus(shared.bus, tree)
        store.trees.append(tree)
        providers[share.path] = S3Provider(
            tree,
            read_only=share.read_only,
            macos_metadata=cfg.macos["metadata_files"],
            quota_bytes=share.quota,
        )
    throttle = LoginThrottle(
        max_failures=cfg.server["login_max_failures"],
        user_max_failures=cfg.server["login_user_max_failures"],
        block_seconds=cfg.server["login_block"],
        base_delay=cfg.server["login_delay"],
    )
    quiet_mapped_put_failures()
    install_error_pages()
    links_and_downloads = share_links_setup(cfg, cache_dir, providers, closers)
    wsgidav_config = {
        "provider_mapping": providers,
        "property_manager": None,  # one per store, set on each provider below
        "lock_storage": shared.locks if shared else True,
        "mutable_live_props": ["{DAV:}getlastmodified"],
        "hotfixes": {"emulate_win32_lastmod": True, "re_encode_path_info": True},
        "honor_mtime_header": False,  # the provider reads X-OC-Mtime itself
        "http_authenticator": {
            "domain_controller": ShareDomainController,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "s3dav": {
            "users": cfg.users,
            "share_users": {s.path: s.users for s in cfg.shares},
            "throttle": throttle,
            "read_only_shares": [s.path for s in cfg.shares if s.read_only],
            "inline_active_shares": [s.path for s in cfg.shares if s.inline_active_content],
            "max_lock_timeout": int(cfg.locks["max_timeout"]),
            "max_lock_owner": cfg.locks["max_owner"],
            **links_and_downloads,  # share_links, direct_downloads (issue 17)
            "events": events_setup(cfg, providers, shared.bus if shared else None),
        },
        "middleware_stack": [
            EventsEndpoint,  # s3dav/server/events.py: POST /_s3dav/events (own token)
            ShareLinks,  # s3dav/server/sharelinks.py: /_s3dav/links and /_s3dav/s/ (own auth)
            SafeContent,  # s3dav/dav/safety.py: user files cannot script the gateway's origin
            PlainErrorPrinter,  # s3dav/server/errorpages.py: one-line error answers
            S3ErrorMapper,  # S3 failures -> 503/412/403, not ErrorPrinter's 500
            RealmAuthenticator,  # WsgiDAV's: 429 for a refused login, one-line 401, realm s3dav
            ShareIndex,  # GET / with no share there: the user's shares
            ReadOnlyShareGuard,
            LockGuard,  # s3dav/server/lockguard.py: LOCK timeout and owner size capped
            DirectDownloads,  # s3dav/dav/directget.py: `downloads: redirect` -> 302 to S3
            DirBrowser,  # s3dav/dav/browser.py: the listing page and ?davmount
            RequestResolver,
        ],
        "block_size": 256 * 1024,
        "verbose": 1,
        "logging": {"enable_loggers": []},
    }
    dav_app = WsgiDAVApp(wsgidav_config)
    for share in cfg.shares:
        # WsgiDAV gives every provider its one property manager; ours are per store.
        providers[share.path].set_prop_manager(stores[share_identity(cfg, share)].props)
    for store in stores.values():
        if store.writeback is not None:
            start_writeback(store.writeback, store.trees)
    app = GatewayApp(
        dav_app,
        metrics=metrics,
        metrics_enabled=cfg.metrics["enabled"],
        ready_probe=lambda: ready_probe(client, cfg.shares),
        throttle=throttle,
        max_xml_body=cfg.server["max_xml_body"],
        share_paths=[s.path for s in cfg.shares] or ["/"],
        trusted_proxies=parse_networks(cfg.server["trusted_proxies"]),
    )
    gw = Gateway(cfg, app, counter, providers, executor, metrics)
    gw.closers += [
        *closers,  # each store's write-back, metadata and properties
        content.close,
        lambda: executor.shutdown(wait=False),
        part_pool.clear,
        lambda: after_put.close(cfg.server["shutdown_timeout"]),  # closers run last to first
    ]
    if sweeper is not None and sweeper.every > 0:
        sweeper.start()
        gw.closers.append(sweeper.close)
    if shared:
        shared.bus.start()
        gw.closers.append(shared.bus.close)
        _log.info("replica mode: locks, dead properties and listing changes via %s", shared.target)
    return gw


def share_links_setup(cfg: Config, cache_dir: Path, providers: dict, closers: list) -> dict:
    """config["s3dav"] entries of issue 17: the share links and the direct-download rules."""
    key = cfg.share_links.get("key")
    store = None
    if key:
        store = LinkStore(
            cache_dir / "sharelinks.sqlite3", max_per_user=cfg.share_links["max_per_user"]
        )
        closers.append(store.close)
    shares = {
        s.path: ShareInfo(s.path, share_identity(cfg, s).text, tuple(s.users), s.read_only)
        for s in cfg.shares
    }
    settings = link_settings(
        key=key,
        max_seconds=cfg.share_links.get("max_expiry", 30 * 86400),
        store=store,
        shares=shares,
        providers=providers,
        users=cfg.users,
    )
    direct = {
        s.path: DirectRule(s.redirect_threshold, int(s.redirect_expiry), s.inline_active_content)
        for s in cfg.shares
        if s.downloads == "redirect"
    }
    return {"share_links": settings, "direct_downloads": direct}


def events_setup(cfg: Config, providers: dict[str, S3Provider], bus) -> EventSettings:
    """config["s3dav"]["events"] (issue 15): S3 event notifications drop the cached
    listings of every share they touch, and reach the other replicas through `bus`."""
    trees = [provider.tree for provider in providers.values()]
    publish = bus.publish if bus is not None else None
    events = cfg.events or {}
    return EventSettings(
        token=events.get("token"),
        max_body=events.get("max_body", 1024**2),
        max_records=events.get("max_records", 1000),
        deliver=lambda changes: deliver(changes, trees, publish),
    )


@dataclass
class SharedState:
    """What replicas share through Redis (locks.storage: redis://...)."""

    target: object
    locks: object
    props_for: Callable[[StoreIdentity], object]  # dead properties of one store
    bus: object


def shared_state(cfg: Config) -> SharedState | None:
    storage = cfg.locks["storage"]
    if storage == "memory":
        return None
    from s3dav import replicas

    target = parse_redis_url(storage)
    client = replicas.redis_client(target)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here is one config line
        raise ConfigError(f"locks.storage: cannot reach {target}: {type(exc).__name__}") from None
    return SharedState(
        target=target,
        locks=replicas.lock_storage(target),
        props_for=lambda identity: replicas.Unavailable503(
            replicas.RedisPropertyManager(
                client, prefix=f"{replicas.PROPS_PREFIX}{identity.dirname}:"
            )
        ),
        bus=replicas.ListingBus(client),
    )


def join_bus(bus, tree: S3Tree) -> None:
    """Publish this tree's own changes; forget what other replicas changed."""
    from s3dav.replicas import folders_touched

    def on_remote_change(key: str, whole_tree: bool) -> None:
        if not key.startswith(tree.prefix):
            return
        tree.overlay.forget(key, whole_tree)
        for folder in folders_touched(key):
            tree.listings.invalidate(folder)
        if whole_tree:
            tree.listings.invalidate_tree(key)

    bus.add_sink(tree.bucket, on_remote_change)
    tree.overlay.listeners.append(lambda key, whole: bus.publish(tree.bucket, key, whole))


def describe_listen_error(code: int | None, host: str, port: int, detail: str = "") -> str:
    """One line saying why s3dav cannot listen on host:port, and what to change."""
    if code == errno.EADDRINUSE:
        return f"port {port} is in use; pick another with --port"
    if code == errno.EACCES:
        return f"port {port} needs privileges this process lacks; pick another with --port"
    if code == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; pick another with --host"
    return f"cannot listen on {host}:{port}: {detail or os.strerror(code or 0)}"


def errno_in(message: str) -> int | None:
    """The first `[Errno N]` in cheroot's bind message (it drops the exception's errno)."""
    m = re.search(r"\[Errno (\d+)\]", message)
    return int(m.group(1)) if m else None


def listen_problem(host: str, port: int) -> str | None:
    """Can a server listen on host:port? None if so, else describe_listen_error()'s line.

    Probed before anything starts (bucket checks, write-back recovery), so a busy
    port costs one clear line and no side effects; binding as cheroot does
    (SO_REUSEADDR) so a port in TIME_WAIT is not reported busy.
    """
    if os.getenv("LISTEN_PID"):
        return None  # systemd hands over a bound socket
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot listen on {host}: {exc.strerror}; pick another with --host"
    failure: OSError | None = None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
                return None
            except OSError as exc:
                failure = exc
    if failure is None:
        return f"cannot listen on {host}:{port}: no address"
    return describe_listen_error(failure.errno, host, port, failure.strerror or "")


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


def make_server(gw: Gateway) -> wsgi.Server:
    cfg = gw.config
    server = GuardedServer(  # s3dav/server/httpguard.py: bounded heads, strict framing
        (cfg.server["host"], cfg.server["port"]),
        gw.app,
        numthreads=cfg.server["threads"],
        server_name="s3dav",
        request_queue_size=128,
        timeout=60,  # how long an idle kept-alive connection stays open
        limits=Limits(
            header_timeout=cfg.server["header_timeout"],
            max_header_bytes=cfg.server["max_header_bytes"],
            body_timeout=cfg.server["body_timeout"],
            max_body_bytes=cfg.server["max_body_bytes"],
        ),
    )
    server.gateway = OneWriteGateway  # headers and a small body in one send
    if cfg.tls:
        server.ssl_adapter = DeferredHandshakeAdapter(cfg.tls["cert"], cfg.tls["key"])
    return server


def serve_forever(gw: Gateway) -> None:
    """Run until SIGTERM/SIGINT; then stop taking requests and exit cleanly.

    On the signal the listening socket closes at once (new connections are
    refused, idle keep-alive ones closed) while requests in flight, uploads
    above all, get up to `server.shutdown_timeout` to finish. Only then do the
    caches close and the process exit.
    """
    server = make_server(gw)
    server.shutdown_timeout = gw.config.server["shutdown_timeout"]
    stopper: list[threading.Thread] = []

    def on_signal(signum, _frame):
        if stopper:
            return
        _log.info("signal %s: shutting down (in-flight requests may finish)", signum)
        thread = threading.Thread(target=server.stop, name="s3dav-stop")
        stopper.append(thread)
        thread.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheme = "https" if gw.config.tls else "http"
    host, port = gw.config.server["host"], gw.config.server["port"]
    try:
        try:
            server.prepare()
        except OSError as exc:  # lost a race since listen_problem(), or called without it
            message = str(exc)
            raise ListenError(
                describe_listen_error(errno_in(message), host, port, message)
            ) from None
        _log.info("s3dav listening on %s://%s:%s/", scheme, host, port)
        server.serve()
        for thread in stopper:
            # server.stop() waits up to shutdown_timeout for busy workers
            thread.join(server.shutdown_timeout + 5)
        _log.info("stopped")
    finally:
        gw.close()
