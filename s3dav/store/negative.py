"""A name a cached listing lacks, asked of S3 again (docs/SEMANTICS.md, *Consistency*).

Without S3 event notifications, a folder or file another tool just made (s3fs,
rclone's S3 backend, the console) would stay 404 until its folder's listing
expires (`cache.metadata_ttl`). A read that names such a path checks S3 for it
at most once per `cache.negative_ttl`: the listing itself counts as a check
while it is younger than that, and each path's last check is remembered
(bounded). Writes never check (a sync tool's thousands of new destinations),
and neither do the names clients probe everywhere (`is_free_probe`).

What a check costs, and how the folder's cached listing learns its answer:
- asked for as a collection (PROPFIND Depth 1, a trailing `/`): the folder's own
  LIST first, which the request lists anyway; if it shows something, the parent's
  listing gains the folder (merged in memory: no request);
- else a folder whose cached listing is small (below REFRESH_BELOW entries) is
  listed again: one LIST, and for `negative_ttl` every other name in it is
  answered from that listing (Finder's PROPFIND before each new file's PUT);
- else (a big folder) one LIST of the name itself (Prefix=<folder><name>,
  Delimiter "/": a file of that name, a folder `name/`, a `name_$folder$`
  marker), per spelling (`spellings`), merged into the cached listing (a copy of
  its entries in memory, not ceil(n/1000) LISTs).
Locks: `CheckMemory`'s own, a leaf; no lock is held across an S3 call.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable

from s3dav.errors import classify, is_client_error, is_unreachable
from s3dav.store.heads import Heads
from s3dav.store.keys import DIRECTORY_CONTENT_TYPE, FOLDER_SUFFIX
from s3dav.store.listing import DirInfo, FileInfo, Listing, build_listing
from s3dav.store.objmeta import is_macos_metadata
from s3dav.store.treestate import TreePart, TreeState

_log = logging.getLogger(__name__)

MEMORY_MAX = 10_000  # paths whose last check is remembered, per share
REFRESH_BELOW = 1000  # a cached listing this small is listed again (one page) rather than probed

# Names clients look for everywhere, and that (nearly) never exist: asking S3 for
# them would cost a LIST per folder a client opens. Lower case, compared so.
PROBE_NAMES = frozenset(
    {
        # macOS (Finder, Spotlight, Quick Look, Time Machine) on every mounted volume
        ".hidden",
        ".localized",
        ".spotlight-v100",
        ".trashes",
        ".temporaryitems",
        ".fseventsd",
        ".metadata_never_index",
        ".metadata_never_index_unless_rootfs",
        ".metadata_direct_scope_only",
        ".ql_disablethumbnails",
        ".ql_disablecache",
        ".volumeicon.icns",
        ".com.apple.timemachine.donotpresent",
        ".com.apple.timemachine.supported",
        "backups.backupdb",
        "mach_kernel",
        # Windows Explorer
        "desktop.ini",
        "thumbs.db",
        "autorun.inf",
        # Linux file managers (KDE, GNOME)
        ".directory",
        ".xdg-volume-info",
    }
)

_ALTERNATE_TAG = re.compile(r" \((?:NFD file|NFD|file)(?: \d+)?\)(?=(?:\.[^.]*)?$)")


def is_free_probe(name: str) -> bool:
    """Names that are never checked again: `._*`, `.DS_Store` and PROBE_NAMES."""
    return is_macos_metadata(name) or name.lower() in PROBE_NAMES


def spellings(name: str) -> list[str]:
    """The raw names in S3 that may be shown as `name` (see listing.display_names).

    The name itself (NFC, as every path is), its NFD spelling (keys macOS tools
    write), and for a name of an alternate's form (`a (file).txt`, `x (NFD 2)`)
    the name it stands in for (`a.txt`), in both spellings.
    """
    out: list[str] = []
    bases = [name]
    tag = _ALTERNATE_TAG.search(name)
    if tag is not None:
        bases.append(name[: tag.start()] + name[tag.end() :])
    for base in bases:
        for form in (base, unicodedata.normalize("NFD", base)):
            if form and form not in out:
                out.append(form)
    return out


def learnt(
    raw: Listing, files: dict[str, FileInfo | None], dirs: dict[str, DirInfo | None]
) -> Listing | None:
    """`raw` with the entries of some raw names set to what S3 says now (None: gone).

    None when `raw` already says so. The copy costs O(entries) in memory; the
    listing keeps its age (`fetched_at`), so it expires when it would have.
    """
    if all(raw.files.get(n) == f for n, f in files.items()) and all(
        raw.dirs.get(n) == d for n, d in dirs.items()
    ):
        return None
    new_files, new_dirs = dict(raw.files), dict(raw.dirs)
    for table, changes in ((new_files, files), (new_dirs, dirs)):
        for n, entry in changes.items():
            if entry is None:
                table.pop(n, None)
            else:
                table[n] = entry
    return Listing(
        dir_key=raw.dir_key,
        files=new_files,
        dirs=new_dirs,
        own_marker=raw.own_marker,
        fetched_at=raw.fetched_at,
        clashes=[n for n in new_files if n in new_dirs],
    )


class CheckMemory:
    """When each path was last checked, for `ttl` seconds, at most `max_entries` paths.

    Entries are kept in the order they were made (each one moved to the end), so
    the ones older than `ttl`, which bar nothing, are dropped from the front. A
    flood of more than `max_entries` distinct paths within `ttl` forgets the
    oldest first: those may be checked again sooner, one LIST each, as any new
    path is. Memory: about 150 bytes plus the key's length per entry.
    """

    def __init__(self, ttl: float, max_entries: int = MEMORY_MAX) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._at)

    def claim(self, key: str, listed_at: float, now: float | None = None) -> bool:
        """Whether `key` is due for a check (and, if so, it is marked checked now).

        Not due: checks are off (ttl 0), the listing that lacks it was fetched less
        than `ttl` ago, or `key` was claimed less than `ttl` ago (by any request:
        concurrent ones for one path cost one check).
        """
        now = time.monotonic() if now is None else now
        if self.ttl <= 0 or now - listed_at < self.ttl:
            return False
        with self._lock:
            last = self._at.pop(key, None)
            if last is not None and now - last < self.ttl:
                self._at[key] = last
                return False
            self._at[key] = now
            for old in list(self._at):
                if now - self._at[old] < self.ttl and len(self._at) <= self.max_entries:
                    break
                del self._at[old]
            return True


class MissCheck(TreePart):
    """Checks a name missing from a cached listing, as the module says."""

    def __init__(
        self, state: TreeState, heads: Heads, fetch_listing: Callable[[str], Listing]
    ) -> None:
        super().__init__(state)
        self.heads = heads
        self.fetch_listing = fetch_listing
        self.memory = CheckMemory(state.settings.negative_ttl)

    def due(self, dir_key: str, name: str, raw: Listing) -> bool:
        """Whether `name`, missing from the cached listing `raw` of `dir_key`, is checked now."""
        return not is_free_probe(name) and self.memory.claim(dir_key + name, raw.fetched_at)

    def recheck(self, dir_key: str, name: str, raw: Listing, *, want_dir: bool) -> Listing:
        """The listing of `dir_key` after S3 was asked for `name`: cached, and the one to
        look `name` up in (the same `raw` when nothing was learnt). A check that fails
        (S3 down) leaves the answer the cached listing gives, as without checks; it
        counts as the path's check, so an outage slows one read per path and
        `negative_ttl`, not every one."""
        try:
            return self._recheck(dir_key, name, raw, want_dir=want_dir)
        except Exception as exc:
            if not (is_client_error(exc) or is_unreachable(exc)):
                raise
            _log.warning(
                "checking s3://%s/%s%s failed (%s): answered from the cached listing",
                self.bucket,
                dir_key,
                name,
                classify(exc).reason,
            )
            return raw

    def _recheck(self, dir_key: str, name: str, raw: Listing, *, want_dir: bool) -> Listing:
        since = time.monotonic()
        if want_dir:
            own = self._own_listing(dir_key + name + "/")
            if not own.is_empty:
                new = learnt(raw, {}, {name: DirInfo(own.dir_key)})
                return self._keep(dir_key, raw, new, since)
        if len(raw.files) + len(raw.dirs) < REFRESH_BELOW:
            current = self.listings.get(dir_key)
            if current is not None and current is not raw:
                return current  # another request listed it again meanwhile
            new = self._fetch(dir_key)
            self._drop_stale_own(raw, new, since)
            return new
        files: dict[str, FileInfo | None] = {}
        dirs: dict[str, DirInfo | None] = {}
        for raw_name in spellings(name):
            files[raw_name], dirs[raw_name] = self._probe(dir_key, raw_name)
        return self._keep(dir_key, raw, learnt(raw, files, dirs), since)

    def _own_listing(self, dir_key: str) -> Listing:
        """The folder's own listing, fetched again unless younger than `negative_ttl`
        (Resolver.stat got here: it is not cached, or it is cached and empty)."""
        own = self.listings.get(dir_key)
        if own is not None and time.monotonic() - own.fetched_at < self.memory.ttl:
            return own
        return self._fetch(dir_key)

    def _fetch(self, dir_key: str) -> Listing:
        """A folder listed again, in place of its cached listing once it is in hand: if
        S3 fails, the cached one stays (and keeps answering, as during any outage)."""
        listing = self.fetch_listing(dir_key)
        self.listings.put(listing)
        return listing

    def _keep(self, dir_key: str, raw: Listing, new: Listing | None, since: float) -> Listing:
        """Cache `new` in place of `raw` (unless another request replaced `raw` meanwhile)."""
        if new is None:
            return raw
        self.listings.replace(dir_key, raw, new)
        self._drop_stale_own(raw, new, since)
        return new

    def _drop_stale_own(self, old: Listing, new: Listing, since: float) -> None:
        """A folder just learnt whose own listing is cached empty from before this check:
        that listing was taken before the folder was made (a 404 answered earlier)."""
        for name, info in new.dirs.items():
            if name not in old.dirs:
                own = self.listings.get(info.key)
                if own is not None and own.is_empty and own.fetched_at < since:
                    self.listings.invalidate(info.key)

    def _probe(self, dir_key: str, raw_name: str) -> tuple[FileInfo | None, DirInfo | None]:
        """What S3 holds as the raw name `raw_name` in `dir_key`: 1 LIST, 3 at most.

        Keys `name<c>` with c before "/" (`name-2`, `name.txt`) sort between `name`
        and `name/`: when more than a page of them hide `name/` and `name_$folder$`,
        each of the two is asked for by one LIST of its own.
        """
        prefix = dir_key + raw_name
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        found = build_listing(dir_key, [page])
        file, folder = found.files.get(raw_name), found.dirs.get(raw_name)
        if folder is None and page.get("IsTruncated"):
            for key in (prefix + "/", prefix + FOLDER_SUFFIX):
                more = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
                first = (more.get("Contents") or [{}])[0].get("Key")
                if first is not None and (key.endswith("/") or first == key):
                    folder = DirInfo(key=prefix + "/")
                    break
        if file is not None:
            file = self.heads.enrich({raw_name: file})[raw_name]
            if self.settings.legacy_s3fs_dirs and file.content_type == DIRECTORY_CONTENT_TYPE:
                file, folder = None, folder or DirInfo(key=prefix + "/")
        return file, folder
