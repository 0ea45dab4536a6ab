"""The composition root: from a Config to the WSGI application of a running s3dav.

`build_gateway` calls one small builder per part, in the order they depend on:
the S3 client and its counters, the shared pools and caches (`Parts`), each
store's directory (storedirs.py), each share's tree and provider, the WsgiDAV
app with its middleware stack, and the outer GatewayApp. Listening and serving
it is server/serve.py's.

A little over ~400 lines on purpose: this is the one module that knows every room,
and each builder is a few lines; splitting it would hide the order they depend on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from s3dav.config import Config, Share
from s3dav.dav.browser import DirBrowser, ShareIndex
from s3dav.dav.directget import DirectDownloads
from s3dav.dav.faults import S3ErrorMapper, quiet_mapped_put_failures
from s3dav.dav.provider import S3Provider
from s3dav.dav.safety import SafeContent
from s3dav.dav.webui import UiAssets
from s3dav.networks import parse_networks
from s3dav.preflight import check_buckets, ready_probe
from s3dav.replicas import SharedState, join_bus, shared_state
from s3dav.server.auth import ReadOnlyShareGuard, ShareDomainController
from s3dav.server.errorpages import PlainErrorPrinter, RealmAuthenticator
from s3dav.server.errorpages import install as install_error_pages
from s3dav.server.events import EventsEndpoint, events_config
from s3dav.server.lockguard import LockGuard
from s3dav.server.metrics import Metrics
from s3dav.server.middleware import GatewayApp
from s3dav.server.sharelinks import ShareLinks, share_links_config
from s3dav.server.throttle import LoginThrottle
from s3dav.store.objectargs import share_client
from s3dav.store.quickhead import make_quick_head
from s3dav.store.s3client import RequestCounter, S3Settings, make_client
from s3dav.store.staleuploads import StaleUploadSweeper
from s3dav.store.stores import StoreIdentity, normalize_endpoint
from s3dav.store.tree import S3Tree, TreeSettings
from s3dav.storedirs import (
    Store,
    migrate_old_journal,
    open_stores,
    share_identity,
    share_lines,
    warn_old_layout,
)
from s3dav.transfer.afterput import AfterPut
from s3dav.transfer.contentcache import ContentCache
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


@dataclass
class Parts:
    """What every share uses alike, built once: the S3 client and the pools and caches around it."""

    client: object
    counter: RequestCounter
    metrics: Metrics
    executor: ThreadPoolExecutor
    content: ContentCache
    after_put: AfterPut
    checksums: PartChecksums
    part_pool: PartPool
    tree_settings: TreeSettings
    in_flight: InFlightUploads  # this gateway's multipart uploads: never swept as stale


def build_gateway(cfg: Config, *, check: bool = True) -> Gateway:
    """The composition root: each part from its builder, in the order they depend on.

    With `check`, every bucket is asked once (and stale uploads swept) before
    any cache opens or a journalled upload resumes.
    """
    client, counter, metrics = build_client(cfg)
    in_flight = InFlightUploads()
    sweeper = build_sweeper(cfg, client, in_flight)
    if check:
        check_buckets(client, cfg.shares)
        if sweeper is not None:
            sweeper.sweep()
    shared = shared_state(cfg)
    parts = build_parts(cfg, client, counter, metrics, in_flight)
    stores, closers = build_stores(cfg, parts, shared)
    providers = build_providers(cfg, parts, stores, shared)
    throttle = build_throttle(cfg)
    links = share_links_config(cfg, providers, closers)
    dav_app = build_dav_app(cfg, providers, stores, shared, throttle, links)
    for store in stores.values():
        store.start_writeback()
    app = build_gateway_app(cfg, dav_app, client, metrics, throttle)
    gw = Gateway(cfg, app, counter, providers, parts.executor, metrics)
    gw.closers += [*closers, *parts_closers(cfg, parts)]  # closers run last to first
    start_background(gw, sweeper, shared)
    return gw


def build_client(cfg: Config) -> tuple[object, RequestCounter, Metrics]:
    """The one S3 client of all shares, every request counted into the metrics."""
    counter = RequestCounter()
    metrics = Metrics()
    counter.listeners.append(metrics.on_s3_request)
    counter.duration_listeners.append(metrics.on_s3_duration)
    # A connection per worker thread, plus those of the background work (executor).
    client = make_client(s3_settings(cfg), counter, pool_size=cfg.server["threads"] + 32)
    return client, counter, metrics


def build_sweeper(cfg: Config, client, in_flight: InFlightUploads) -> StaleUploadSweeper | None:
    """Aborts multipart uploads left behind under the shares (None: turned off)."""
    if cfg.s3["abort_stale_uploads_after"] <= 0:
        return None
    return StaleUploadSweeper(
        client,
        [(share.bucket, share.prefix) for share in cfg.shares],
        older_than=cfg.s3["abort_stale_uploads_after"],
        every=cfg.s3["abort_stale_uploads_every"],
        keep=in_flight.ids,
    )


def tree_settings(cfg: Config) -> TreeSettings:
    return TreeSettings(
        listing_ttl=cfg.cache["metadata_ttl"],
        # with events, the store tells of each change: a miss needs no check of its own
        negative_ttl=0.0 if cfg.events["token"] else cfg.cache["negative_ttl"],
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


def build_parts(
    cfg: Config, client, counter: RequestCounter, metrics: Metrics, in_flight: InFlightUploads
) -> Parts:
    s3 = cfg.s3
    content = ContentCache(
        Path(cfg.cache["dir"]).expanduser() / "content",
        cfg.cache["size"],
        metrics=metrics,
        namespace=normalize_endpoint(s3["endpoint_url"], s3["region"]),
    )
    metrics.cache_sizes.append(content.volume)
    return Parts(
        client=client,
        counter=counter,
        metrics=metrics,
        executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3dav-s3"),
        content=content,
        after_put=AfterPut(gauge=metrics.upload_work_pending),
        checksums=PartChecksums(s3["part_checksums"]),  # one for all shares: a store refuses once
        # One upload's parts in flight, plus the one being filled, are kept for the next upload.
        part_pool=PartPool(keep=(s3["upload_concurrency"] + 1) * s3["part_size"]),
        tree_settings=tree_settings(cfg),
        in_flight=in_flight,
    )


def parts_closers(cfg: Config, parts: Parts) -> list[Callable[[], object]]:
    return [
        parts.content.close,
        lambda: parts.executor.shutdown(wait=False),
        parts.part_pool.clear,
        lambda: parts.after_put.close(cfg.server["shutdown_timeout"]),
    ]


def build_writeback(cfg: Config, parts: Parts, directory: Path, share: Share) -> WriteBack:
    """A store's journal; its uploads carry the store's storage class and encryption
    (config.py: the shares of one store agree on them)."""
    return WriteBack(
        directory,
        share_client(parts.client, share.objects),
        part_size=cfg.s3["part_size"],
        threshold=cfg.s3["multipart_threshold"],
        delay=cfg.cache["write_back_delay"],
        metrics=parts.metrics,
        checksums=parts.checksums,
        part_pool=parts.part_pool,
        in_flight=parts.in_flight,
    )


def build_stores(
    cfg: Config, parts: Parts, shared: SharedState | None
) -> tuple[dict[StoreIdentity, Store], list]:
    """Each store's directory, caches and journal (storedirs.py), and their closers.

    Should one fail to open (JournalInUse), what was opened is closed, the shared
    content cache too, before the error goes up.
    """
    cache_dir = Path(cfg.cache["dir"]).expanduser()
    new_writeback = partial(build_writeback, cfg, parts) if cfg.cache["write_back"] else None
    closers: list = []
    try:
        props_for = shared.props_for if shared else None
        stores = open_stores(cfg, cache_dir, props_for, new_writeback, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        parts.content.close()
        raise
    metrics = parts.metrics
    for store in stores.values():
        store.meta.on_hit = metrics.cache_hits.labels(cache="metadata").inc
        store.meta.on_miss = metrics.cache_misses.labels(cache="metadata").inc
        metrics.cache_sizes.append(store.meta.volume)
    warn_old_layout(cache_dir)
    migrate_old_journal(cache_dir, list(stores.values()))
    for line in share_lines(cfg, stores, cache_dir):
        _log.info("%s", line)
    return stores, closers


def build_tree(share: Share, store: Store, parts: Parts, shared: SharedState | None) -> S3Tree:
    """One share's S3 access on its store; joined to the replicas' bus when there is one.

    Its client adds the share's storage class and encryption to every object call
    (store/objectargs.py). SSE-C shares get no QuickHead: its raw HEADs carry no key.
    """
    sse_c = share.objects.sse_c_key is not None
    tree = S3Tree(
        share_client(parts.client, share.objects),
        share.bucket,
        share.prefix,
        settings=parts.tree_settings,
        meta_store=store.meta,
        executor=parts.executor,
        content=parts.content,
        writeback=store.writeback,
        quick_head=None if sse_c else make_quick_head(parts.client, share.bucket, parts.counter),
        after_put=parts.after_put,
        checksums=parts.checksums,
        part_pool=parts.part_pool,
        in_flight=parts.in_flight,
    )
    tree.listings.on_hit = parts.metrics.cache_hits.labels(cache="listing").inc
    tree.listings.on_miss = parts.metrics.cache_misses.labels(cache="listing").inc
    if shared:
        join_bus(shared.bus, tree)
    store.trees.append(tree)
    return tree


def build_providers(
    cfg: Config, parts: Parts, stores: dict[StoreIdentity, Store], shared: SharedState | None
) -> dict[str, S3Provider]:
    """Share path -> its WsgiDAV provider, over its own tree."""
    providers: dict[str, S3Provider] = {}
    for share in cfg.shares:
        tree = build_tree(share, stores[share_identity(cfg, share)], parts, shared)
        providers[share.path] = S3Provider(
            tree,
            read_only=share.read_only,
            macos_metadata=cfg.macos["metadata_files"],
            quota_bytes=share.quota,
        )
    return providers


def build_throttle(cfg: Config) -> LoginThrottle:
    return LoginThrottle(
        max_failures=cfg.server["login_max_failures"],
        user_max_failures=cfg.server["login_user_max_failures"],
        block_seconds=cfg.server["login_block"],
        base_delay=cfg.server["login_delay"],
    )


# WsgiDAV's middleware, outermost first (inside GatewayApp, outside the providers).
MIDDLEWARE_STACK = (
    EventsEndpoint,  # s3dav/server/events.py: POST /_s3dav/events (own token)
    ShareLinks,  # s3dav/server/sharelinks.py: /_s3dav/links and /_s3dav/s/ (own auth)
    SafeContent,  # s3dav/dav/safety.py: user files cannot script the gateway's origin
    UiAssets,  # s3dav/dav/webui.py: /_s3dav/app.js, the listing page's script
    PlainErrorPrinter,  # s3dav/server/errorpages.py: one-line error answers
    S3ErrorMapper,  # S3 failures -> 503/412/403, not ErrorPrinter's 500
    RealmAuthenticator,  # WsgiDAV's: 429 for a refused login, one-line 401, realm s3dav
    ShareIndex,  # GET / with no share there: the user's shares
    ReadOnlyShareGuard,
    LockGuard,  # s3dav/server/lockguard.py: LOCK timeout and owner size capped
    DirectDownloads,  # s3dav/dav/directget.py: `downloads: redirect` -> 302 to S3
    DirBrowser,  # s3dav/dav/browser.py: the listing page and ?davmount
    RequestResolver,
)


def wsgidav_config(
    cfg: Config,
    providers: dict[str, S3Provider],
    shared: SharedState | None,
    throttle: LoginThrottle,
    links: dict,
) -> dict:
    """WsgiDAV's configuration; what s3dav's own middleware reads is under `s3dav`."""
    return {
        "provider_mapping": providers,
        "property_manager": None,  # one per store, set on each provider (build_dav_app)
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
            **links,  # share_links, direct_downloads (issue 17)
            "events": events_config(cfg, providers, shared.bus if shared else None),
        },
        "middleware_stack": list(MIDDLEWARE_STACK),
        "block_size": 256 * 1024,
        "verbose": 1,
        "logging": {"enable_loggers": []},
    }


def build_dav_app(
    cfg: Config,
    providers: dict[str, S3Provider],
    stores: dict[StoreIdentity, Store],
    shared: SharedState | None,
    throttle: LoginThrottle,
    links: dict,
) -> WsgiDAVApp:
    quiet_mapped_put_failures()
    install_error_pages()
    dav_app = WsgiDAVApp(wsgidav_config(cfg, providers, shared, throttle, links))
    for share in cfg.shares:
        # WsgiDAV gives every provider its one property manager; ours are per store.
        providers[share.path].set_prop_manager(stores[share_identity(cfg, share)].props)
    return dav_app


def build_gateway_app(
    cfg: Config, dav_app: WsgiDAVApp, client, metrics: Metrics, throttle: LoginThrottle
) -> GatewayApp:
    """The outermost layer (server/middleware.py): refusals, own endpoints, access log."""
    return GatewayApp(
        dav_app,
        metrics=metrics,
        metrics_enabled=cfg.metrics["enabled"],
        ready_probe=lambda: ready_probe(client, cfg.shares),
        throttle=throttle,
        max_xml_body=cfg.server["max_xml_body"],
        share_paths=[s.path for s in cfg.shares] or ["/"],
        trusted_proxies=parse_networks(cfg.server["trusted_proxies"]),
    )


def start_background(gw: Gateway, sweeper: StaleUploadSweeper | None, shared) -> None:
    """The periodic stale-upload sweep and the replicas' listing bus, each closed with `gw`."""
    if sweeper is not None and sweeper.every > 0:
        sweeper.start()
        gw.closers.append(sweeper.close)
    if shared:
        shared.bus.start()
        gw.closers.append(shared.bus.close)
        _log.info("replica mode: locks, dead properties and listing changes via %s", shared.target)
