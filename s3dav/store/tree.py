"""One share's bucket and prefix, seen as folders and files.

This is where S3 calls happen for the provider: listings (cached, merged with
the read-your-writes overlay), HEADs for metadata listings lack, uploads,
server-side copies and batched deletes. Keys here are full S3 keys; folder
keys end in "/". The provider above deals in WebDAV paths.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import SimpleNamespace

from botocore.exceptions import ClientError

from s3dav.errors import is_not_found
from s3dav.store.keylocks import KeyLocks
from s3dav.store.keys import (
    CARRIED_META,
    DIR_MODE,
    DIRECTORY_CONTENT_TYPE,
    FILE_MODE,
    FOLDER_SUFFIX,
    carried_metadata,
    format_mtime,
    parent_and_name,
    parse_mode,
    parse_mtime,
    tree_dest_keys,
)
from s3dav.store.listing import DirInfo, FileInfo, Listing, build_listing, etag_md5, looks_alternate
from s3dav.store.metacache import ListingCache, MetaStore
from s3dav.store.overlay import Overlay
from s3dav.store.quickhead import FALLBACK, QuickHead
from s3dav.transfer.afterput import AfterPut
from s3dav.transfer.contentcache import ContentCache
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.upload import PartChecksums, StreamingUpload, UploadResult
from s3dav.transfer.uploads import Body, InFlightUploads, Upload, UploadTarget, UploadTuning
from s3dav.transfer.writeback import BodyReader, Job, WriteBack, WriteBackUpload

_log = logging.getLogger(__name__)

COPY_PART_MAX = 512 * 1024**2  # few, large UploadPartCopy requests for huge objects
DELETE_BATCH = 1000
# Content types a PUT may carry that say nothing about the file. moto's server
# (werkzeug) even swallows the body of a form-encoded PutObject.
IGNORED_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


@dataclass
class TreeSettings:
    listing_ttl: float = 30.0
    overlay_ttl: float = 300.0
    head_unseen: bool = True  # HEAD objects no s3dav has seen, to learn their mtime
    legacy_s3fs_dirs: bool = False
    part_size: int = 8 * 1024**2
    multipart_threshold: int = 8 * 1024**2
    upload_concurrency: int = 10  # parts of one upload in flight at once
    copy_threshold: int = 5 * 1024**3  # CopyObject's limit on AWS; larger copies go in parts
    parallel: int = 16
    readahead_folders: int = 32  # subfolders whose first LIST page a browse fetches ahead
    conditional_writes: bool = True  # pass If-Match/If-None-Match on to S3


def kept_meta(user: dict[str, str]) -> dict:
    """The MetaStore's "keep" field: s3fs metadata an overwrite carries; absent when none."""
    keep = {k: user[k] for k in CARRIED_META if k in user}
    return {"keep": keep} if keep else {}


def own_file_meta(metadata: dict[str, str], md5_hex: str, content_type: str) -> dict:
    """What the MetaStore keeps for a file s3dav wrote itself (no HEAD ever needed)."""
    return {
        "mtime": parse_mtime(metadata.get("mtime")),
        "mode": parse_mode(metadata.get("mode")) or FILE_MODE,
        "md5": md5_hex,
        "content_type": content_type,
        **kept_meta(metadata),
    }


def listing_date(listing: Listing, remembered: Callable[[str], float | None]) -> float | None:
    """A folder's date from its own listing: its marker's time, else its newest member's.

    Members are files (x-amz-meta-mtime, else LastModified) and subfolders whose
    date was remembered. The overlay's stand-in for a marker S3 does not list yet
    (no ETag) has no time of its own. None: nothing in the listing has a date.
    """
    marker = listing.own_marker
    if marker is not None and marker.etag:
        return marker.modified
    times = [f.modified for f in listing.files.values()]
    times += [t for d in listing.dirs.values() if (t := remembered(d.key)) is not None]
    return max(times) if times else None


def copy_part_size(size: int, part_size: int) -> int:
    """UploadPartCopy part size: at least part_size, at most 512 MiB, about ten parts."""
    return max(part_size, min(COPY_PART_MAX, size // 10))


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
        self.checksums = checksums or PartChecksums(enabled=False)
        self.part_pool = part_pool  # part buffers shared by the process's uploads
        self.quick_head = quick_head
        self.after_put = after_put  # None: the MD5 self-copy and cache ingest run before the answer
        self.content = content
        self.writeback = writeback
        self.bucket = bucket
        self.prefix = prefix
        self.settings = settings
        self.meta = meta_store
        self.executor = executor
        self.listings = ListingCache(settings.listing_ttl)
        self.overlay = Overlay(settings.overlay_ttl)
        self._commit_locks = KeyLocks()

    # ------------------------------------------------------------------ reading
    def listing(self, dir_key: str, *, read_ahead: bool = False) -> Listing:
        """Members of a folder: cached LIST pages merged with own recent writes.

        With `read_ahead` (a client is browsing: PROPFIND Depth 1), the first LIST
        pages of its subfolders are fetched in the background, so that a sync
        tool's walk waits for one S3 round trip less per folder.
        """
        raw = self.listings.get_or_fetch(dir_key, lambda: self._fetch_listing(dir_key))
        if read_ahead and raw.dirs and self.settings.readahead_folders > 0:
            for name in sorted(raw.dirs)[: self.settings.readahead_folders]:
                key = raw.dirs[name].key
                self.listings.read_ahead(
                    key, lambda key=key: self.executor.submit(self._list_page, key)
                )
        return self.overlay.apply(raw)

    def _list_page(self, dir_key: str, token: str | None = None) -> dict:
        kwargs = {"Bucket": self.bucket, "Prefix": dir_key, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        return self.client.list_objects_v2(**kwargs)

    def _fetch_listing(self, dir_key: str) -> Listing:
        ahead = self.listings.take_ahead(dir_key)
        sent, page = ahead if ahead is not None else (time.monotonic(), None)
        pages = [page if page is not None else self._list_page(dir_key)]
        while pages[-1].get("IsTruncated") and pages[-1].get("NextContinuationToken"):
            pages.append(self._list_page(dir_key, pages[-1]["NextContinuationToken"]))
        listing = build_listing(dir_key, pages)
        listing.fetched_at = sent  # its age counts from the LIST, read ahead or not
        for name in listing.clashes:
            _log.warning(
                "name clash in s3://%s/%s%s: a file and a folder; the folder wins",
                self.bucket,
                dir_key,
                name,
            )
        listing.files = self._enrich(listing.files)
        if listing.own_marker is not None:
            # The folder's own time is its marker's x-amz-meta-mtime (s3fs sets it
            # on mkdir and utime): read like a file's, once per marker version.
            listing.own_marker = self._enrich({"": listing.own_marker})[""]
        if self.settings.legacy_s3fs_dirs:
            for name, info in list(listing.files.items()):
                if info.content_type == DIRECTORY_CONTENT_TYPE:
                    del listing.files[name]
                    listing.dirs.setdefault(name, DirInfo(key=dir_key + name + "/"))
        return listing

    def _enrich(self, files: dict[str, FileInfo]) -> dict[str, FileInfo]:
        """Fill in x-amz-meta-* from the disk store, HEADing unseen objects in parallel."""
        out: dict[str, FileInfo] = {}
        unseen: list[str] = []
        for name, info in files.items():
            meta = self.meta.get(info.key, info.etag, info.last_modified)
            if meta is not None:
                out[name] = self._with_meta(info, meta)
            else:
                out[name] = info
                if self.settings.head_unseen:
                    unseen.append(name)
        if unseen:
            heads = self.executor.map(lambda n: self._head_quiet(files[n].key), unseen)
            for name, head in zip(unseen, heads, strict=True):
                if head is not None and head.etag == files[name].etag:
                    out[name] = head
        return out

    @staticmethod
    def _with_meta(info: FileInfo, meta: dict) -> FileInfo:
        return info.with_meta(
            mtime=meta.get("mtime"),
            mode=meta.get("mode"),
            md5=meta.get("md5") or info.md5,
            content_type=meta.get("content_type") or info.content_type,
            keep=tuple(sorted((meta.get("keep") or {}).items())),
        )

    def _head_quiet(self, key: str) -> FileInfo | None:
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
        md5 = etag_md5(etag)
        if not md5 and user.get("md5chksum"):
            try:
                md5 = base64.b64decode(user["md5chksum"]).hex()
            except ValueError:
                md5 = None
        meta = {
            "mtime": parse_mtime(user.get("mtime")),
            "mode": parse_mode(user.get("mode")),
            "md5": md5,
            "content_type": resp.get("ContentType"),
            **kept_meta(user),
        }
        last_modified = resp["LastModified"].timestamp()
        self.meta.put(key, etag, meta, last_modified)
        info = FileInfo(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            etag=etag,
            last_modified=last_modified,
        )
        return self._with_meta(info, meta)

    def stat(self, key: str) -> FileInfo | DirInfo | None:
        """What `key` (no trailing slash) names: a file, a folder, or nothing.

        A folder whose own listing is cached and shows something exists (a folder
        wins over a file of the same name): its parent's listing is not needed, so
        a walk into a folder does not LIST the parent again when only that expired.
        """
        own = self.listings.get(key + "/")
        if own is not None and (
            # own writes below it make it a folder; checked first, as merging all of
            # them into its listing costs a walk over every own write (each PUT's parent)
            self.overlay.known_dir(key + "/") or not self.overlay.apply(own).is_empty
        ):
            return DirInfo(key=key + "/")
        parent, name = parent_and_name(key)
        found, parent_seen = self._stat_in(parent, name)
        if found is None and not parent_seen and parent not in (self.prefix, ""):
            # Nothing at the NFC key of the parent: it may be a folder whose key is
            # not NFC (written by another tool) or one shown by an alternate name.
            above = self.stat(parent[:-1])
            if isinstance(above, DirInfo) and above.key != parent:
                found, _ = self._stat_in(above.key, name)
        return found

    def _stat_in(self, dir_key: str, name: str) -> tuple[FileInfo | DirInfo | None, bool]:
        """The member shown as `name` in the folder at `dir_key`, and whether that folder
        showed anything at all (its listing or own writes)."""
        raw = self.listings.get_or_fetch(dir_key, lambda: self._fetch_listing(dir_key))
        seen = not raw.is_empty or self.overlay.known_dir(dir_key)
        if raw.plain(name) or (name not in raw.display() and not looks_alternate(name)):
            # the common case: one entry of that name, merged alone with own writes
            listing = self.overlay.apply(raw, only=name)
            return listing.dirs.get(name) or listing.files.get(name), seen
        return self.overlay.apply(raw).lookup(name), seen

    def folder_date(self, dir_key: str) -> float:
        """The date a folder shows, the same on every listing and after a restart; no S3 request.

        From its own listing when cached (listing_date); else the one last shown
        (kept in the MetaStore); else, for a folder never listed, its parent's date
        (the listing that shows it), kept so that it stays; the share root with
        nothing dated in it: the time it was first seen.
        """
        raw = self.listings.get(dir_key)
        t = None
        if raw is not None:
            t = listing_date(self.overlay.apply(raw), self.meta.folder_date)
        shown = self.meta.folder_date(dir_key)
        if t is None:
            if shown is not None:
                return shown
            if dir_key != self.prefix and dir_key.startswith(self.prefix):
                # The parent's date as last shown (a Depth 1 answers the parent first),
                # not recomputed for each of its never-listed subfolders.
                parent = parent_and_name(dir_key)[0]
                t = self.meta.folder_date(parent)
                if t is None:
                    t = self.folder_date(parent)
            else:
                t = time.time()
        if shown != t:
            self.meta.put_folder_date(dir_key, t)
        return t

    def dir_marker_info(self, dir_key: str) -> FileInfo | None:
        """The folder's own marker object, when its listing is in hand."""
        raw = self.listings.get(dir_key)
        if raw is None:
            return None
        return self.overlay.apply(raw).own_marker

    # ------------------------------------------------------------------ writing
    def file_metadata(
        self, mtime: float | None, carried: dict[str, str] | None = None
    ) -> dict[str, str]:
        return {
            "mode": str(FILE_MODE),
            **(carried or {}),
            "mtime": format_mtime(mtime if mtime is not None else time.time()),
        }

    def carried_for(self, info: FileInfo | None) -> dict[str, str]:
        """What a PUT over `info` keeps of its metadata (keys.carried_metadata).

        Usually known from the listing (HEAD memo, own write). Only for an object
        whose metadata was never read (`cache.head_unseen: false`, a failed HEAD)
        does it cost one HEAD.
        """
        if info is None:
            return {}
        if not info.meta_known:
            try:
                info = self.head(info.key)
            except ClientError as exc:
                _log.warning("HEAD s3://%s/%s failed: %s", self.bucket, info.key, exc)
                return {}
            if info is None:
                return {}
        return carried_metadata(info.mode, dict(info.keep))

    def new_upload(
        self,
        key: str,
        *,
        content_type: str | None,
        mtime: float | None,
        expected_size: int | None = None,
        exact_size: int | None = None,
        conditions: dict[str, str] | None = None,
        carried: dict[str, str] | None = None,
    ) -> Upload:
        if content_type and content_type.split(";")[0].strip().lower() in IGNORED_TYPES:
            content_type = None  # curl's default for --data, not the file's type
        ctype = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        if self.writeback is not None and not conditions:
            metadata = self.file_metadata(mtime, carried)
            return self.writeback.new_upload(
                self.bucket, key, ctype, metadata, exact_size=exact_size
            )
        tee = None
        if self.content is not None:
            tee = self.content.new_tee(self.settings.multipart_threshold)
        metadata = self.file_metadata(mtime, carried)
        tuning = UploadTuning(
            part_size=self.settings.part_size,
            threshold=self.settings.multipart_threshold,
            concurrency=self.settings.upload_concurrency,
            checksums=self.checksums,
            buffers=self.part_pool,
            executor=self.executor,
            in_flight=self.in_flight,
        )
        # With post-answer work and a copy of the body, a multipart body is
        # hashed from that copy after the answer (_record_multipart).
        hash_md5 = self.after_put is None or tee is None
        return StreamingUpload(
            UploadTarget(self.client, self.bucket, key, ctype, metadata, conditions or {}),
            tuning,
            Body(expected_size=expected_size, exact_size=exact_size, hash_md5=hash_md5),
            tee=tee,
            commit_lock=self._commit_locks.lock(key),
            on_commit=self._record_commit,
        )

    def _record_commit(self, upload: StreamingUpload) -> None:
        """Inside the key's commit lock: the overlay shows what S3 now holds."""
        result = upload.result
        self.overlay.put_file(
            FileInfo(
                key=upload.key,
                size=result.size,
                etag=result.etag,
                last_modified=result.last_modified,
                md5=result.md5_hex or None,
            )
        )

    def upload_done(self, upload: StreamingUpload) -> FileInfo:
        """Record a finished upload so that it is seen at once."""
        result: UploadResult = upload.result
        meta = own_file_meta(upload.metadata, result.md5_hex or None, upload.content_type)
        if self._finish_later(upload):
            return self._record_multipart(upload, meta)
        etag = result.etag
        if not isinstance(upload, WriteBackUpload):  # write-back: stored when it reaches S3
            if result.multipart:
                etag = self._store_md5(upload, result)
            self.meta.put(upload.key, etag, meta)
        if upload.tee is not None and self.content is not None:
            upload.tee.ingest(self.content, self.bucket, upload.key, etag)
            upload.tee = None
        info = self._file_info(upload, etag, meta)
        if isinstance(upload, WriteBackUpload):
            self.overlay.put_file(info)
        else:  # unless a newer upload of this key has committed since
            self.overlay.put_file_if(info, expect_etag=result.etag)
        return info

    def _file_info(self, upload: StreamingUpload, etag: str, meta: dict) -> FileInfo:
        result = upload.result
        return self._with_meta(
            FileInfo(
                key=upload.key, size=result.size, etag=etag, last_modified=result.last_modified
            ),
            meta,
        )

    def _finish_later(self, upload: StreamingUpload) -> bool:
        """Whether the MD5 self-copy and the cache ingest may follow the answer.

        Only for a multipart upload whose body the content cache holds: reads
        in between are then served from that copy, never from S3 (where the
        self-copy could change the ETag under a read).
        """
        return (
            self.after_put is not None
            and not isinstance(upload, WriteBackUpload)
            and upload.result.multipart
            and upload.tee is not None
            and upload.tee.ok
            and self.content is not None
        )

    def _record_multipart(self, upload: StreamingUpload, meta: dict) -> FileInfo:
        """Show a multipart upload at once; self-copy and cache it after the answer."""
        result, key, tee = upload.result, upload.key, upload.tee
        upload.tee = None
        self.meta.put(key, result.etag, meta)
        self.content.hold(self.bucket, key, result.etag, tee)
        info = self._file_info(upload, result.etag, meta)
        self.overlay.put_file_if(info, expect_etag=result.etag)

        def finish() -> None:
            etag, done = result.etag, result
            try:
                if not done.md5_hex:  # hashed here, off the upload's path
                    md5_hex = tee.md5_hex()
                    if md5_hex:
                        done = replace(result, md5_hex=md5_hex)
                        meta["md5"] = md5_hex
                with self._commit_locks.lock(key):
                    if self._shows(key, result.etag):  # else a newer upload won: leave it
                        if done is not result:  # the MD5 shows at once, before the copy
                            self.meta.put(key, result.etag, meta)
                            self.overlay.put_file_if(
                                self._file_info(upload, result.etag, meta),
                                expect_etag=result.etag,
                            )
                        try:
                            etag = self._store_md5(upload, done)
                        except Exception as exc:  # noqa: BLE001 - the object stays as it is
                            _log.warning("could not store the MD5 of s3://%s/%s: %s",
                                         self.bucket, key, exc)  # fmt: skip
                    if etag != result.etag:
                        self.meta.put(key, etag, meta)
                        self.content.same_bytes(self.bucket, key, result.etag, etag)
                        self.content.hold(self.bucket, key, etag, tee)
                        self.overlay.put_file_if(
                            self._file_info(upload, etag, meta), expect_etag=result.etag
                        )
                tee.ingest(self.content, self.bucket, key, etag)
            finally:
                self.content.release(self.bucket, key, [result.etag, etag])
                tee.discard()

        self.after_put.submit(self.bucket, key, finish)
        return info

    def _shows(self, key: str, etag: str) -> bool:
        """Whether the gateway's own record of `key` is still the upload `etag`."""
        info = self.overlay.file(key)
        return info is None or info.etag == etag

    def _store_md5(self, upload: StreamingUpload, result: UploadResult) -> str:
        """Write `x-amz-meta-md5chksum` on a finished multipart upload; return the ETag.

        A multipart ETag is not an MD5, and a streamed body's MD5 is known only
        after the last part. rclone's S3 backend (and `rclone check` through
        any backend reading it) looks for the base64 MD5 in `md5chksum`, so it
        is written into S3 itself with one server-side self-copy, guarded by
        the ETag so that a newer upload is never overwritten. The MetaStore
        also keeps it, which is all there is above s3.copy_threshold (5 GiB:
        no single CopyObject) or when the copy fails. Without an MD5 (the
        upload's cached copy was lost before it was hashed) there is no copy.
        """
        if result.size > self.settings.copy_threshold or not result.md5_hex:
            return result.etag
        metadata = {
            **upload.metadata,
            "md5chksum": base64.b64encode(bytes.fromhex(result.md5_hex)).decode(),
        }
        # The copy gets a full-object CRC32 in place of the parts' composite one,
        # which any reader can check (and moto drops the composite type on a copy).
        extra = {"ChecksumAlgorithm": "CRC32"} if self.checksums.enabled else {}
        try:
            resp = self.client.copy_object(
                Bucket=self.bucket,
                Key=upload.key,
                CopySource={"Bucket": self.bucket, "Key": upload.key},
                CopySourceIfMatch=f'"{result.etag}"',
                Metadata=metadata,
                MetadataDirective="REPLACE",
                ContentType=upload.content_type,
                **extra,
            )
        except ClientError as exc:
            _log.warning("could not store the MD5 of s3://%s/%s: %s", self.bucket, upload.key, exc)
            return result.etag
        upload.metadata = metadata
        return resp["CopyObjectResult"]["ETag"].strip('"')

    def put_empty(self, key: str, *, content_type: str | None = None) -> FileInfo:
        upload = self.new_upload(key, content_type=content_type, mtime=None)
        upload.close()
        return self.upload_done(upload)

    def make_dir(self, dir_key: str, mtime: float | None = None) -> None:
        stamp = format_mtime(mtime if mtime is not None else time.time())
        resp = self.client.put_object(
            Bucket=self.bucket,
            Key=dir_key,
            Body=b"",
            ContentType=DIRECTORY_CONTENT_TYPE,
            Metadata={"mode": str(DIR_MODE), "mtime": stamp},
        )
        etag = str(resp.get("ETag", "")).strip('"')
        if etag:  # the marker's metadata is known: no HEAD when it is listed
            meta = {
                "mtime": float(stamp),
                "mode": DIR_MODE,
                "md5": etag_md5(etag),
                "content_type": DIRECTORY_CONTENT_TYPE,
            }
            self.meta.put(dir_key, etag, meta)
        self.meta.put_folder_date(dir_key, float(stamp))  # dated in its parent's listing at once
        self.overlay.put_dir(dir_key)

    def keep_parent(self, key: str) -> None:
        """Last-member rule: write the parent's marker before its last member goes.

        A folder that exists only as a common prefix would vanish with its last
        object; docs/SEMANTICS.md (*Folders*) says it must not.
        """
        parent, name = parent_and_name(key)
        if parent == self.prefix or parent == "":
            return
        listing = self.listing(parent)
        if listing.own_marker is not None:
            return
        if set(listing.files) | set(listing.dirs) <= {name}:
            self.make_dir(parent)

    # ------------------------------------------------------------------ write-back
    def flush(self, key_prefix: str) -> None:
        """Wait for pending uploads and their post-answer work below `key_prefix`.

        Before COPY/DELETE/MOVE/PROPPATCH, so that they see (and keep) the final
        object, and a background self-copy never races them.
        """
        if self.writeback is not None:
            self.writeback.flush(self.bucket, key_prefix)
        if self.after_put is not None:
            self.after_put.flush(self.bucket, key_prefix)

    def open_pending(self, key: str, etag: str):
        """The local body of a write-back upload not yet in S3, or None."""
        if self.writeback is None:
            return None
        return self.writeback.open_pending(self.bucket, key, etag)

    def owns(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def uploaded(self, job: Job, result: UploadResult, body_path) -> None:
        """A write-back upload reached S3: show its real ETag, cache its bytes."""
        meta = own_file_meta(job.metadata, job.md5_hex, job.content_type)
        etag = result.etag
        if result.multipart:
            etag = self._store_md5(
                SimpleNamespace(
                    key=job.key, metadata=dict(job.metadata), content_type=job.content_type
                ),
                result,
            )
        self.meta.put(job.key, etag, meta)
        if self.content is not None:
            with BodyReader(body_path, job.size) as f:
                self.content.put_object(self.bucket, job.key, etag, f.read)
        self.overlay.put_file(
            self._with_meta(
                FileInfo(key=job.key, size=result.size, etag=etag, last_modified=time.time()),
                meta,
            )
        )

    def pending_visible(self, job: Job) -> None:
        """After a restart: show a journalled upload at once, before it reaches S3."""
        meta = own_file_meta(job.metadata, job.md5_hex, job.content_type)
        self.overlay.put_file(
            self._with_meta(
                FileInfo(key=job.key, size=job.size, etag=job.md5_hex, last_modified=job.created),
                meta,
            )
        )

    def delete_file(self, key: str) -> None:
        self.flush(key)
        self.keep_parent(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        self.overlay.delete_file(key)

    def list_all(self, dir_key: str) -> list[dict]:
        """Every object below a folder (no delimiter), all pages."""
        entries: list[dict] = []
        kwargs = {"Bucket": self.bucket, "Prefix": dir_key}
        while True:
            page = self.client.list_objects_v2(**kwargs)
            entries.extend(page.get("Contents", []) or [])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return entries
            kwargs["ContinuationToken"] = token

    def delete_keys(self, keys: list[str]) -> list[tuple[str, str]]:
        """Batched DeleteObjects; returns (key, reason) for each failure."""
        errors: list[tuple[str, str]] = []
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            resp = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            for err in resp.get("Errors", []) or []:
                errors.append((err.get("Key", ""), err.get("Message") or err.get("Code", "")))
        return errors

    def delete_tree(self, dir_key: str) -> list[tuple[str, str]]:
        """Remove a folder, everything below it and all its marker forms."""
        self.flush(dir_key)
        self.keep_parent(dir_key)
        keys = [e["Key"] for e in self.list_all(dir_key)]
        keys.append(dir_key.rstrip("/") + FOLDER_SUFFIX)
        if dir_key not in keys:
            keys.append(dir_key)
        errors = self.delete_keys(keys)
        self.overlay.delete_tree(dir_key)
        return errors

    def copy_object(
        self,
        src_key: str,
        dst_key: str,
        size: int,
        *,
        metadata=None,
        content_type: str | None = None,
    ) -> FileInfo:
        """Server-side copy; above 5 GiB in parts with UploadPartCopy."""
        source = {"Bucket": self.bucket, "Key": src_key}
        extra = {}
        if metadata is not None:
            extra = {"Metadata": metadata, "MetadataDirective": "REPLACE"}
            if content_type:
                extra["ContentType"] = content_type
        if size <= self.settings.copy_threshold:
            resp = self.client.copy_object(
                Bucket=self.bucket, Key=dst_key, CopySource=source, **extra
            )
            etag = resp["CopyObjectResult"]["ETag"].strip('"')
        else:
            etag = self._copy_in_parts(source, dst_key, size, extra)
        return FileInfo(key=dst_key, size=size, etag=etag, last_modified=time.time())

    def _copy_in_parts(self, source: dict, dst_key: str, size: int, extra: dict) -> str:
        create = {k: v for k, v in extra.items() if k != "MetadataDirective"}
        if "Metadata" not in create:
            head = self.client.head_object(Bucket=source["Bucket"], Key=source["Key"])
            create = {
                "Metadata": head.get("Metadata", {}),
                "ContentType": head.get("ContentType", "application/octet-stream"),
            }
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=dst_key, **create)[
            "UploadId"
        ]
        try:
            step = copy_part_size(size, self.settings.part_size)
            ranges = [(i, min(i + step, size) - 1) for i in range(0, size, step)]

            def part(n_range):
                n, (lo, hi) = n_range
                r = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=dst_key,
                    UploadId=upload_id,
                    PartNumber=n,
                    CopySource=source,
                    CopySourceRange=f"bytes={lo}-{hi}",
                )
                return {"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]}

            # Serial on purpose: this runs inside the copy pool already.
            parts = [part(nr) for nr in enumerate(ranges, start=1)]
            resp = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=dst_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return resp["ETag"].strip('"')
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=dst_key, UploadId=upload_id)
            raise

    def copy_file(self, src: FileInfo, dst_key: str) -> FileInfo:
        self.flush(src.key)
        self.flush(dst_key)
        info = self.copy_object(src.key, dst_key, src.size)
        if src.meta_known:
            info = info.with_meta(
                mtime=src.mtime,
                mode=src.mode,
                md5=src.md5,
                content_type=src.content_type,
                keep=src.keep,
            )
            self.meta.put(
                dst_key,
                info.etag,
                {
                    "mtime": src.mtime,
                    "mode": src.mode,
                    "md5": src.md5,
                    "content_type": src.content_type,
                    **kept_meta(dict(src.keep)),
                },
            )
        self.overlay.put_file(info)
        return info

    def set_mtime(self, info: FileInfo, mtime: float) -> FileInfo:
        """Rewrite the object's metadata in place (a self-copy) with a new mtime."""
        self.flush(info.key)
        head = self.client.head_object(Bucket=self.bucket, Key=info.key)
        metadata = dict(head.get("Metadata") or {})
        metadata["mtime"] = format_mtime(mtime)
        metadata.setdefault("mode", str(FILE_MODE))
        content_type = head.get("ContentType") or "application/octet-stream"
        new = self.copy_object(
            info.key, info.key, info.size, metadata=metadata, content_type=content_type
        )
        md5 = etag_md5(new.etag) or info.md5
        meta = {
            "mtime": mtime,
            "mode": parse_mode(metadata.get("mode")),
            "md5": md5,
            "content_type": content_type,
            **kept_meta(metadata),
        }
        self.meta.put(info.key, new.etag, meta)
        new = self._with_meta(new, meta)
        self.overlay.put_file(new)
        return new

    def copy_tree(
        self, src_dir: str, dst_dir: str
    ) -> tuple[list[str], list[tuple[str, Exception]]]:
        """Copy every object below src_dir to dst_dir, in parallel, server-side.

        Returns the source keys copied and (key, exception) for each failure.
        """
        self.flush(src_dir)
        self.flush(dst_dir)
        entries = self.list_all(src_dir)
        copied: list[str] = []
        errors: list[tuple[str, Exception]] = []
        targets = tree_dest_keys([e["Key"] for e in entries], src_dir, dst_dir)

        def one(entry: dict):
            src_key = entry["Key"]
            dst_key = targets[src_key]
            info = self.copy_object(src_key, dst_key, int(entry.get("Size", 0)))
            return src_key, dst_key, info

        futures = [self.executor.submit(one, e) for e in entries]
        for entry, fut in zip(entries, futures, strict=True):
            try:
                src_key, dst_key, info = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported per member
                errors.append((entry["Key"], exc))
                continue
            copied.append(src_key)
            if dst_key.endswith("/"):
                self.overlay.put_dir(dst_key)
            else:
                meta = self.meta.get(src_key, info.etag)
                if meta is not None:
                    self.meta.put(dst_key, info.etag, meta)
                    info = self._with_meta(info, meta)
                self.overlay.put_file(info)
        if not entries:
            self.make_dir(dst_dir)  # e.g. a folder that was only a `_$folder$` marker
        else:  # the copy shows the source's date before it is listed
            self.meta.put_folder_date(dst_dir, self.folder_date(src_dir))
        return copied, errors

    # ------------------------------------------------------------------ for the dav room
    def cached_listing(self, dir_key: str) -> Listing | None:
        """A folder's members with own recent writes, if its listing is cached; no S3 call."""
        raw = self.listings.get(dir_key)
        return None if raw is None else self.overlay.apply(raw)

    def set_dir_mtime(self, dir_key: str, mtime: float) -> None:
        """Rewrite a folder's marker with `mtime` (as s3fs keeps a folder's time); the
        cached listing, which holds the old marker, is dropped."""
        self.make_dir(dir_key, mtime)
        self.listings.invalidate(dir_key)

    def remove_keys(self, keys: list[str]) -> list[tuple[str, str]]:
        """delete_keys, every key shown gone at once (read-your-writes)."""
        errors = self.delete_keys(keys)
        for key in keys:
            self.overlay.delete_file(key)
        return errors

    def remove_moved_tree(self, dir_key: str, keys: list[str]) -> list[tuple[str, str]]:
        """delete_keys of what a move copied out of `dir_key`; once all are gone,
        nothing below `dir_key` is shown."""
        errors = self.delete_keys(keys)
        if not errors:
            self.overlay.delete_tree(dir_key)
        return errors
