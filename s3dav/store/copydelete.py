"""Server-side copies and batched deletes of files and folders.

Every one first waits for pending uploads below the keys it touches
(Commits.flush), and records what it changed in the Overlay and the MetaStore,
so that the next listing shows it without a HEAD. The last-member rule
(`keep_parent`) keeps a folder that a delete or move would empty.
"""

from __future__ import annotations

import time

from s3dav.store.commit import Commits
from s3dav.store.keys import FOLDER_SUFFIX, parent_and_name, tree_dest_keys
from s3dav.store.listing import FileInfo, etag_md5
from s3dav.store.metastore import meta_record, with_record
from s3dav.store.objmeta import FILE_MODE, format_mtime
from s3dav.store.resolve import Resolver
from s3dav.store.treestate import TreePart, TreeState

COPY_PART_MAX = 512 * 1024**2  # few, large UploadPartCopy requests for huge objects
DELETE_BATCH = 1000


def copy_part_size(size: int, part_size: int) -> int:
    """UploadPartCopy part size: at least part_size, at most 512 MiB, about ten parts."""
    return max(part_size, min(COPY_PART_MAX, size // 10))


class CopyDelete(TreePart):
    def __init__(self, state: TreeState, resolver: Resolver, commits: Commits) -> None:
        super().__init__(state)
        self.resolver = resolver
        self.commits = commits

    def keep_parent(self, key: str) -> None:
        """Last-member rule: write the parent's marker before its last member goes.

        A folder that exists only as a common prefix would vanish with its last
        object; docs/SEMANTICS.md (*Folders*) says it must not.
        """
        parent, name = parent_and_name(key)
        if parent == self.prefix or parent == "":
            return
        listing = self.resolver.listing(parent)
        if listing.own_marker is not None:
            return
        if set(listing.files) | set(listing.dirs) <= {name}:
            self.commits.make_dir(parent)

    def delete_file(self, key: str) -> None:
        self.commits.flush(key)
        self.keep_parent(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        self.overlay.delete_file(key)

    def delete_keys(self, keys: list[str]) -> list[tuple[str, str]]:
        """Batched DeleteObjects; returns (key, S3 error code) for each key S3 refused."""
        errors: list[tuple[str, str]] = []
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            resp = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            for err in resp.get("Errors", []) or []:
                errors.append((err.get("Key", ""), err.get("Code", "")))
        return errors

    def remove_keys(self, keys: list[str]) -> list[tuple[str, str]]:
        """delete_keys; each key that went is shown gone at once (read-your-writes), each
        one S3 refused stays shown: it is still there."""
        errors = self.delete_keys(keys)
        self._shown_gone(keys, errors)
        return errors

    def remove_moved_tree(self, dir_key: str, keys: list[str]) -> list[tuple[str, str]]:
        """delete_keys of every key below `dir_key`: once all are gone, nothing below it
        is shown (one mark for the tree); if S3 refused some, only the others are."""
        errors = self.delete_keys(keys)
        if errors:
            # What is left is listed anew: a subfolder may be gone or still there.
            self._shown_gone(keys, errors)
            self.listings.invalidate_tree(dir_key)
        else:
            self.overlay.delete_tree(dir_key)
        return errors

    def _shown_gone(self, keys: list[str], errors: list[tuple[str, str]]) -> None:
        refused = {key for key, _ in errors}
        for key in keys:
            if key not in refused:
                self.overlay.delete_file(key)

    def delete_tree(self, dir_key: str) -> list[tuple[str, str]]:
        """Remove a folder, everything below it and all its marker forms."""
        self.commits.flush(dir_key)
        self.keep_parent(dir_key)
        keys = [e["Key"] for e in self.resolver.list_all(dir_key)]
        keys.append(dir_key.rstrip("/") + FOLDER_SUFFIX)
        if dir_key not in keys:
            keys.append(dir_key)
        return self.remove_moved_tree(dir_key, keys)

    def copy_object(
        self,
        src_key: str,
        dst_key: str,
        size: int,
        *,
        metadata=None,
        content_type: str | None = None,
        storage_class: str | None = None,
        version_id: str | None = None,
    ) -> FileInfo:
        """Server-side copy (of `version_id` of the source: a restore); above 5 GiB in parts
        with UploadPartCopy.

        The copy keeps the source's `storage_class` when it is known (S3 would
        write STANDARD); else the share's (store/objectargs.py adds it).
        """
        source = {"Bucket": self.bucket, "Key": src_key}
        if version_id:
            source["VersionId"] = version_id
        extra = {"StorageClass": storage_class} if storage_class else {}
        if metadata is not None:
            extra.update(Metadata=metadata, MetadataDirective="REPLACE")
            if content_type:
                extra["ContentType"] = content_type
        if size <= self.settings.copy_threshold:
            resp = self.client.copy_object(
                Bucket=self.bucket, Key=dst_key, CopySource=source, **extra
            )
            etag = resp["CopyObjectResult"]["ETag"].strip('"')
        else:
            etag = self._copy_in_parts(source, dst_key, size, extra)
        now = time.time()
        return FileInfo(dst_key, size, etag, now, storage_class=storage_class)

    def _copy_in_parts(self, source: dict, dst_key: str, size: int, extra: dict) -> str:
        create = {k: v for k, v in extra.items() if k != "MetadataDirective"}
        if "Metadata" not in create:
            head = self.client.head_object(**source)  # Bucket, Key (and VersionId)
            create = {
                **create,
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
        self.commits.flush(src.key)
        self.commits.flush(dst_key)
        info = self.copy_object(src.key, dst_key, src.size, storage_class=src.storage_class)
        if src.meta_known:  # the copy's metadata is the source's: no HEAD when listed
            record = meta_record(
                dict(src.keep),
                md5=src.md5,
                content_type=src.content_type,
                mtime=src.mtime,
                mode=src.mode,
            )
            self.meta.put(dst_key, info.etag, record)
            info = with_record(info, record)
        self.overlay.put_file(info)
        return info

    def set_mtime(self, info: FileInfo, mtime: float) -> FileInfo:
        """Rewrite the object's metadata in place (a self-copy) with a new mtime."""
        self.commits.flush(info.key)
        head = self.client.head_object(Bucket=self.bucket, Key=info.key)
        metadata = dict(head.get("Metadata") or {})
        metadata["mtime"] = format_mtime(mtime)
        metadata.setdefault("mode", str(FILE_MODE))
        content_type = head.get("ContentType") or "application/octet-stream"
        new = self.copy_object(
            info.key,
            info.key,
            info.size,
            metadata=metadata,
            content_type=content_type,
            storage_class=info.storage_class,
        )
        md5 = etag_md5(new.etag) or info.md5
        meta = meta_record(metadata, md5=md5, content_type=content_type, mtime=mtime)
        self.meta.put(info.key, new.etag, meta)
        new = with_record(new, meta)
        self.overlay.put_file(new)
        return new

    def copy_tree(
        self, src_dir: str, dst_dir: str
    ) -> tuple[list[str], list[tuple[str, Exception]]]:
        """Copy every object below src_dir to dst_dir, in parallel, server-side.

        Returns the source keys copied and (key, exception) for each failure.
        """
        self.commits.flush(src_dir)
        self.commits.flush(dst_dir)
        entries = self.resolver.list_all(src_dir)
        copied: list[str] = []
        errors: list[tuple[str, Exception]] = []
        targets = tree_dest_keys([e["Key"] for e in entries], src_dir, dst_dir)

        def one(entry: dict):
            src_key = entry["Key"]
            dst_key = targets[src_key]
            size, storage_class = int(entry.get("Size", 0)), entry.get("StorageClass")
            info = self.copy_object(src_key, dst_key, size, storage_class=storage_class)
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
                    info = with_record(info, meta)
                self.overlay.put_file(info)
        if not entries:
            self.commits.make_dir(dst_dir)  # e.g. a folder that was only a `_$folder$` marker
        else:  # the copy shows the source's date before it is listed
            self.meta.put_folder_date(dst_dir, self.resolver.folder_date(src_dir))
        return copied, errors
