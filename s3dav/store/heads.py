"""What listings do not say about an object: its x-amz-meta-*, read once per version.

A ListObjectsV2 entry has no mtime, mode or stored MD5. They come from the
MetaStore (kept per object version, across restarts) or from one HEAD; a
listing's unseen objects are HEADed in parallel, by QuickHead first
(docs/SEMANTICS.md, *Emulated, and at what cost*).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import replace

from botocore.exceptions import ClientError

from s3dav.errors import is_not_found
from s3dav.store.listing import FileInfo, etag_md5, restore_header_state
from s3dav.store.metastore import meta_record, with_record
from s3dav.store.quickhead import FALLBACK, QuickHead
from s3dav.store.treestate import TreePart, TreeState

_log = logging.getLogger(__name__)


class Heads(TreePart):
    def __init__(self, state: TreeState, quick_head: QuickHead | None = None) -> None:
        super().__init__(state)
        self.quick_head = quick_head

    def enrich(self, files: dict[str, FileInfo]) -> dict[str, FileInfo]:
        """Fill in x-amz-meta-* from the disk store, HEADing unseen objects in parallel."""
        out: dict[str, FileInfo] = {}
        unseen: list[str] = []
        for name, info in files.items():
            meta = self.meta.get(info.key, info.etag, info.last_modified)
            if meta is not None:
                out[name] = with_record(info, meta)
            else:
                out[name] = info
                if self.settings.head_unseen:
                    unseen.append(name)
        if unseen:
            heads = self.executor.map(lambda n: self.head_quiet(files[n].key), unseen)
            for name, head in zip(unseen, heads, strict=True):
                if head is not None and head.etag == files[name].etag:
                    listed = files[name]  # the listing's class (and restore, if HEAD had none)
                    out[name] = replace(
                        head,
                        storage_class=listed.storage_class or head.storage_class,
                        restore=head.restore or listed.restore,
                    )
        return out

    def head_quiet(self, key: str) -> FileInfo | None:
        """A listing's HEAD: the cheap path first, boto3 for anything it does not decide."""
        if self.quick_head is not None:
            resp = self.quick_head(key)
            if resp is None:
                return None
            if resp is not FALLBACK:
                return self.info_from_response(key, resp)
        try:
            return self.head(key)
        except ClientError as exc:
            _log.warning("HEAD s3://%s/%s failed: %s", self.bucket, key, exc)
            return None

    def head(self, key: str) -> FileInfo | None:
        """One HEAD; the result is remembered per ETag on disk."""
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return self.info_from_response(key, resp)

    def info_from_response(self, key: str, resp: dict) -> FileInfo:
        """A FileInfo from a HeadObject or whole-object GetObject answer (remembered)."""
        etag = resp.get("ETag", "").strip('"')
        user = {k.lower(): v for k, v in (resp.get("Metadata") or {}).items()}
        md5 = etag_md5(etag) if self.etag_is_md5 else None
        if not md5 and user.get("md5chksum"):
            try:
                md5 = base64.b64decode(user["md5chksum"]).hex()
            except ValueError:
                md5 = None
        meta = meta_record(user, md5=md5, content_type=resp.get("ContentType"))
        last_modified = resp["LastModified"].timestamp()
        self.meta.put(key, etag, meta, last_modified)
        info = FileInfo(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            etag=etag,
            last_modified=last_modified,
            storage_class=resp.get("StorageClass") or "STANDARD",  # HEAD omits STANDARD
            restore=restore_header_state(resp.get("Restore")),
        )
        return with_record(info, meta)
