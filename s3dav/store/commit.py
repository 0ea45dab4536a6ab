"""Writing objects: a PUT's upload and its commit, the MD5 self-copy, folder markers.

A committed upload is shown at once (Overlay) and its metadata remembered
(MetaStore), so it is never HEADed. A multipart upload gets its MD5 stored in
S3 by one guarded self-copy, after the answer when the content cache holds its
body (AfterPut). Write-back uploads are journalled first and recorded here
again when they reach S3 (`uploaded`).
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import time
from dataclasses import replace

from botocore.exceptions import ClientError

from s3dav.store.heads import Heads
from s3dav.store.keylocks import KeyLocks
from s3dav.store.keys import DIRECTORY_CONTENT_TYPE
from s3dav.store.listing import FileInfo, etag_md5
from s3dav.store.metastore import meta_record, with_record
from s3dav.store.objmeta import DIR_MODE, FILE_MODE, carried_metadata, format_mtime
from s3dav.store.treestate import TreePart, TreeState
from s3dav.transfer.afterput import AfterPut
from s3dav.transfer.contentcache import ContentCache
from s3dav.transfer.journal import BodyReader, Job
from s3dav.transfer.partchecks import PartChecksums
from s3dav.transfer.partpool import PartPool
from s3dav.transfer.upload import StreamingUpload
from s3dav.transfer.uploads import (
    Body,
    InFlightUploads,
    Upload,
    UploadResult,
    UploadTarget,
    UploadTuning,
)
from s3dav.transfer.writeback import WriteBack

_log = logging.getLogger(__name__)

# Content types a PUT may carry that say nothing about the file. moto's server
# (werkzeug) even swallows the body of a form-encoded PutObject.
IGNORED_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def own_file_meta(metadata: dict[str, str], md5_hex: str | None, content_type: str) -> dict:
    """What the MetaStore keeps for a file s3dav wrote itself (no HEAD ever needed)."""
    return meta_record(metadata, md5=md5_hex, content_type=content_type, mode=FILE_MODE)


def hashed(result: UploadResult, meta: dict, tee) -> UploadResult:
    """`result` with the body's MD5, hashed from the cached copy `tee` when the upload
    did not (off the upload's path); `meta` gets it too. `result` itself when unknown."""
    if result.md5_hex:
        return result
    md5_hex = tee.md5_hex()
    if not md5_hex:
        return result
    meta["md5"] = md5_hex
    return replace(result, md5_hex=md5_hex)


class Commits(TreePart):
    def __init__(
        self,
        state: TreeState,
        heads: Heads,
        *,
        content: ContentCache | None,
        writeback: WriteBack | None,
        after_put: AfterPut | None,
        checksums: PartChecksums,
        part_pool: PartPool | None,
        in_flight: InFlightUploads | None = None,
    ) -> None:
        super().__init__(state)
        self.in_flight = in_flight  # the gateway's multipart uploads being sent
        self.heads = heads
        self.content = content
        self.writeback = writeback
        self.after_put = after_put  # None: the MD5 self-copy and cache ingest run before the answer
        self.checksums = checksums
        self.part_pool = part_pool  # part buffers shared by the process's uploads
        self._commit_locks = KeyLocks()

    def file_metadata(
        self, mtime: float | None, carried: dict[str, str] | None = None
    ) -> dict[str, str]:
        return {
            "mode": str(FILE_MODE),
            **(carried or {}),
            "mtime": format_mtime(mtime if mtime is not None else time.time()),
        }

    def carried_for(self, info: FileInfo | None) -> dict[str, str]:
        """What a PUT over `info` keeps of its metadata (objmeta.carried_metadata).

        Usually known from the listing (HEAD memo, own write). Only for an object
        whose metadata was never read (`cache.head_unseen: false`, a failed HEAD)
        does it cost one HEAD.
        """
        if info is None:
            return {}
        if not info.meta_known:
            try:
                info = self.heads.head(info.key)
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
        # hashed from that copy after the answer (_after_answer).
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

    def upload_done(self, upload: Upload) -> FileInfo:
        """Record a finished upload so that it is seen at once."""
        result: UploadResult = upload.result
        meta = own_file_meta(upload.metadata, result.md5_hex or None, upload.content_type)
        if upload.write_back:  # stored in the MetaStore when it reaches S3 (`uploaded`)
            info = self._file_info(upload, result.etag, meta)
            self.overlay.put_file(info)
            return info
        if self._finish_later(upload):
            return self._record_multipart(upload, meta)
        etag = result.etag
        if result.multipart:
            etag = self._store_md5(upload.key, upload.metadata, upload.content_type, result)
        self.meta.put(upload.key, etag, meta)
        if upload.tee is not None and self.content is not None:
            upload.tee.ingest(self.content, self.bucket, upload.key, etag)
            upload.tee = None
        info = self._file_info(upload, etag, meta)
        # unless a newer upload of this key has committed since
        self.overlay.put_file_if(info, expect_etag=result.etag)
        return info

    def _file_info(self, upload: Upload, etag: str, meta: dict) -> FileInfo:
        result = upload.result
        return with_record(
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
        self.after_put.submit(self.bucket, key, lambda: self._after_answer(upload, meta, tee))
        return info

    def _after_answer(self, upload: StreamingUpload, meta: dict, tee) -> None:
        """A multipart upload's MD5 (hashed here if need be), self-copy and cache ingest.

        Under the key's commit lock, and only while the gateway still shows this
        upload: a newer one that has committed since is left as it is.
        """
        result, key = upload.result, upload.key
        etag = result.etag
        try:
            done = hashed(result, meta, tee)
            with self._commit_locks.lock(key):
                if self._shows(key, result.etag):
                    if done is not result:  # the MD5 shows at once, before the copy
                        self.meta.put(key, result.etag, meta)
                        self.overlay.put_file_if(
                            self._file_info(upload, result.etag, meta), expect_etag=result.etag
                        )
                    try:
                        etag = self._store_md5(key, upload.metadata, upload.content_type, done)
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

    def _shows(self, key: str, etag: str) -> bool:
        """Whether the gateway's own record of `key` is still the upload `etag`."""
        info = self.overlay.file(key)
        return info is None or info.etag == etag

    def _store_md5(
        self, key: str, stored: dict[str, str], content_type: str, result: UploadResult
    ) -> str:
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
            **stored,
            "md5chksum": base64.b64encode(bytes.fromhex(result.md5_hex)).decode(),
        }
        # The copy gets a full-object CRC32 in place of the parts' composite one,
        # which any reader can check (and moto drops the composite type on a copy).
        extra = {"ChecksumAlgorithm": "CRC32"} if self.checksums.enabled else {}
        try:
            resp = self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                CopySourceIfMatch=f'"{result.etag}"',
                Metadata=metadata,
                MetadataDirective="REPLACE",
                ContentType=content_type,
                **extra,
            )
        except ClientError as exc:
            _log.warning("could not store the MD5 of s3://%s/%s: %s", self.bucket, key, exc)
            return result.etag
        return resp["CopyObjectResult"]["ETag"].strip('"')

    def put_empty(self, key: str, *, content_type: str | None = None) -> FileInfo:
        upload = self.new_upload(key, content_type=content_type, mtime=None)
        upload.close()
        return self.upload_done(upload)

    def make_dir(self, dir_key: str, mtime: float | None = None) -> None:
        stamp = format_mtime(mtime if mtime is not None else time.time())
        marker = {"mode": str(DIR_MODE), "mtime": stamp}
        resp = self.client.put_object(
            Bucket=self.bucket,
            Key=dir_key,
            Body=b"",
            ContentType=DIRECTORY_CONTENT_TYPE,
            Metadata=marker,
        )
        etag = str(resp.get("ETag", "")).strip('"')
        if etag:  # the marker's metadata is known: no HEAD when it is listed
            meta = meta_record(
                marker, md5=etag_md5(etag), content_type=DIRECTORY_CONTENT_TYPE, mtime=float(stamp)
            )
            self.meta.put(dir_key, etag, meta)
        self.meta.put_folder_date(dir_key, float(stamp))  # dated in its parent's listing at once
        self.overlay.put_dir(dir_key)

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

    def uploaded(self, job: Job, result: UploadResult, body_path) -> None:
        """A write-back upload reached S3: show its real ETag, cache its bytes."""
        meta = own_file_meta(job.metadata, job.md5_hex, job.content_type)
        etag = result.etag
        if result.multipart:
            etag = self._store_md5(job.key, job.metadata, job.content_type, result)
        self.meta.put(job.key, etag, meta)
        if self.content is not None:
            with BodyReader(body_path, job.size) as f:
                self.content.put_object(self.bucket, job.key, etag, f.read)
        self.overlay.put_file(
            with_record(
                FileInfo(key=job.key, size=result.size, etag=etag, last_modified=time.time()),
                meta,
            )
        )

    def pending_visible(self, job: Job) -> None:
        """After a restart: show a journalled upload at once, before it reaches S3."""
        meta = own_file_meta(job.metadata, job.md5_hex, job.content_type)
        self.overlay.put_file(
            with_record(
                FileInfo(key=job.key, size=job.size, etag=job.md5_hex, last_modified=job.created),
                meta,
            )
        )
