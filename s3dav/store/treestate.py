"""What every part of one tree shares: its settings, its place in S3, the pool, the caches.

`S3Tree` (tree.py) is made of parts, one concern each (heads.py, resolve.py,
commit.py, copydelete.py); each is a `TreePart` over one `TreeState`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from s3dav.store.listingcache import ListingCache
from s3dav.store.metastore import MetaStore
from s3dav.store.overlay import Overlay


@dataclass
class TreeSettings:
    listing_ttl: float = 30.0
    # a read naming a path its folder's cached listing lacks asks S3 at most this often
    # (store/negative.py); 0 = never (misses trusted for listing_ttl, as with events)
    negative_ttl: float = 3.0
    overlay_ttl: float = 300.0
    head_unseen: bool = True  # HEAD objects no s3dav has seen, to learn their mtime
    legacy_s3fs_dirs: bool = False
    part_size: int = 8 * 1024**2
    multipart_threshold: int = 8 * 1024**2
    upload_concurrency: int = 10  # parts of one upload in flight at once
    copy_threshold: int = 5 * 1024**3  # CopyObject's limit on AWS; larger copies go in parts
    readahead_folders: int = 32  # subfolders whose first LIST page a browse fetches ahead
    conditional_writes: bool = True  # pass If-Match/If-None-Match on to S3


@dataclass(frozen=True)
class TreeState:
    """One share's bucket and prefix, and the caches that show it."""

    client: object  # boto3's S3 client
    bucket: str
    prefix: str
    settings: TreeSettings
    meta: MetaStore
    executor: ThreadPoolExecutor
    listings: ListingCache
    overlay: Overlay


class TreePart:
    """A part of the tree: the shared state under the names every part's code uses."""

    def __init__(self, state: TreeState) -> None:
        self.state = state
        self.client = state.client
        self.bucket = state.bucket
        self.prefix = state.prefix
        self.settings = state.settings
        self.meta = state.meta
        self.executor = state.executor
        self.listings = state.listings
        self.overlay = state.overlay

    @property
    def etag_is_md5(self) -> bool:
        """Whether a single-part ETag is the body's MD5: not under SSE-KMS or SSE-C
        (AWS then answers another value of the same form), so none is shown for it."""
        args = getattr(self.client, "object_args", None)
        return args is None or not (args.sse == "aws:kms" or args.sse_c_key)
