"""One share's bucket and prefix, seen as folders and files: the S3Tree the provider uses.

The tree is made of parts, one concern each, over one shared TreeState
(treestate.py): Heads (what listings lack, from the MetaStore or one HEAD),
Resolver (listings merged with own writes, stat, folder dates), Commits
(uploads and their commit, the MD5 self-copy, folder markers, write-back
callbacks) and CopyDelete (server-side copies, batched deletes). Keys here
are full S3 keys; folder keys end in "/". The provider above deals in WebDAV
paths.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from s3dav.store.commit import Commits
from s3dav.store.copydelete import CopyDelete
from s3dav.store.heads import Heads
from s3dav.store.listing import Listing
from s3dav.store.listingcache import ListingCache
from s3dav.store.metastore import MetaStore
from s3dav.store.overlay import Overlay
from s3dav.store.quickhead import QuickHead
from s3dav.store.resolve import Resolver
from s3dav.store.treestate import TreeSettings, TreeState
from s3dav.transfer.afterput import AfterPut
from s3dav.transfer.contentcache import ContentCache
from s3dav.transfer.partchecks import PartChecksums
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.uploads import InFlightUploads
from s3dav.transfer.writeback import WriteBack

__all__ = ["S3Tree", "TreeSettings"]


class S3Tree:
    def __init__(
        self,
        client,
        bucket: str,
        prefix: str,
        *,
        settings: TreeSettings,
        meta_store: MetaStore,
        executor: ThreadPoolExecutor,
        content: ContentCache | None = None,
        writeback: WriteBack | None = None,
        quick_head: QuickHead | None = None,
        after_put: AfterPut | None = None,
        checksums: PartChecksums | None = None,
        part_pool: PartPool | None = None,
        in_flight: InFlightUploads | None = None,
    ) -> None:
        self.client = client
        self.in_flight = in_flight  # the gateway's multipart uploads being sent
        self.bucket = bucket
        self.prefix = prefix
        self.settings = settings
        self.meta = meta_store
        self.content = content
        self.listings = ListingCache(settings.listing_ttl)
        self.overlay = Overlay(settings.overlay_ttl)
        state = TreeState(
            client, bucket, prefix, settings, meta_store, executor, self.listings, self.overlay
        )
        heads = Heads(state, quick_head)
        resolve = Resolver(state, heads)
        commits = Commits(
            state,
            heads,
            content=content,
            writeback=writeback,
            after_put=after_put,
            checksums=checksums or PartChecksums(enabled=False),
            part_pool=part_pool,
            in_flight=in_flight,
        )
        self._answer_with(heads, resolve, commits, CopyDelete(state, resolve, commits))

    def _answer_with(
        self, heads: Heads, resolve: Resolver, commits: Commits, ops: CopyDelete
    ) -> None:
        """What dav/ and app.py call, each answered by the one part that does it."""
        self.head = heads.head
        self.info_from_response = heads.info_from_response
        self.listing = resolve.listing
        self.list_all = resolve.list_all
        self.stat = resolve.stat
        self.folder_date = resolve.folder_date
        self.dir_marker_info = resolve.dir_marker_info
        self.file_metadata = commits.file_metadata
        self.carried_for = commits.carried_for
        self.new_upload = commits.new_upload
        self.upload_done = commits.upload_done
        self.put_empty = commits.put_empty
        self.make_dir = commits.make_dir
        self.flush = commits.flush
        self.open_pending = commits.open_pending
        self.uploaded = commits.uploaded
        self.pending_visible = commits.pending_visible
        self.keep_parent = ops.keep_parent
        self.delete_file = ops.delete_file
        self.delete_keys = ops.delete_keys
        self.remove_keys = ops.remove_keys
        self.remove_moved_tree = ops.remove_moved_tree
        self.delete_tree = ops.delete_tree
        self.copy_object = ops.copy_object
        self.copy_file = ops.copy_file
        self.set_mtime = ops.set_mtime
        self.copy_tree = ops.copy_tree

    def owns(self, key: str) -> bool:
        """Whether `key` lies below this tree's prefix (a write-back job for it is ours)."""
        return key.startswith(self.prefix)

    # -- for the dav room: what it used to do by reaching into listings and overlay --
    def cached_listing(self, dir_key: str) -> Listing | None:
        """A folder's members with own recent writes, if its listing is cached; no S3 call."""
        raw = self.listings.get(dir_key)
        return None if raw is None else self.overlay.apply(raw)

    def set_dir_mtime(self, dir_key: str, mtime: float) -> None:
        """Rewrite a folder's marker with `mtime` (as s3fs keeps a folder's time); the
        cached listing, which holds the old marker, is dropped."""
        self.make_dir(dir_key, mtime)
        self.listings.invalidate(dir_key)
