"""A file: an S3 object read with ranged GETs and written through the tree's uploads."""

from __future__ import annotations

import mimetypes
import time

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_INTERNAL_ERROR, HTTP_NOT_FOUND, DAVError
from wsgidav.dav_provider import DAVNonCollection

from s3dav.dav import archive
from s3dav.dav.common import (
    GETCONTENTLENGTH,
    GETETAG,
    GETLASTMODIFIED,
    RESOURCETYPE,
    S3Resource,
    http_date,
)
from s3dav.dav.conventions import (
    OC_CHECKSUMS,
    checksums_element,
    client_mtime,
    requested_time,
    write_conditions,
)
from s3dav.dav.faults import as_s3_error
from s3dav.dav.request import MTIME_ACCEPTED, forget_resolved
from s3dav.dav.wsgidav_compat import mark_body_read
from s3dav.errors import is_not_found
from s3dav.store.listing import FileInfo
from s3dav.transfer.blockreader import BlockReader
from s3dav.transfer.reader import ObjectChanged, RangedReader


class PutBody:
    """What `begin_write` hands WsgiDAV's PUT: the upload, fed from the socket when it can be.

    WsgiDAV gives a file object with `writelines` its body chunk generator. A
    large known-length body is instead read straight into the upload's part
    buffers (`StreamingUpload.fill_from`); every other body goes chunk by chunk.
    """

    def __init__(self, upload, environ: dict) -> None:
        self.upload = upload
        self.environ = environ

    def write(self, data) -> int:
        return self.upload.write(data)

    def writelines(self, chunks) -> None:
        fill_from = getattr(self.upload, "fill_from", None)
        readinto = getattr(self.environ.get("wsgi.input"), "readinto_direct", None)
        if fill_from is not None and readinto is not None and fill_from(readinto):
            mark_body_read(self.environ)
            return
        for chunk in chunks:
            self.upload.write(chunk)

    def close(self) -> None:
        self.upload.close()


class S3File(S3Resource, DAVNonCollection):
    """One object; `info` is None for a file a PUT is about to create at `key`.

    (WsgiDAV's base class takes the provider from the request's environ.)
    """

    def __init__(
        self, path: str, environ: dict, info: FileInfo | None, key: str | None = None
    ) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.info = info
        self.key = info.key if info else key
        self._upload = None
        self._reader: RangedReader | None = None

    # -- live properties (no S3 calls) -----------------------------------------
    def get_content_length(self):
        return self.info.size if self.info else 0

    def get_content_type(self):
        if self.info and self.info.content_type:
            return self.info.content_type
        return mimetypes.guess_type(self.key)[0] or "application/octet-stream"

    def get_etag(self):
        return self.info.etag if self.info else None

    def get_last_modified(self):
        return self.info.modified if self.info else time.time()

    def get_creation_date(self):
        return self.get_last_modified()

    def support_etag(self):
        return True

    def get_property_names(self, *, is_allprop):
        names = super().get_property_names(is_allprop=is_allprop)
        if not is_allprop and self.info and self.info.md5:
            names.append(OC_CHECKSUMS)
        return names + archive.extra_names(
            self.info, archive.share_class(self.tree), is_allprop=is_allprop
        )

    def get_property_value(self, name):
        info = self.info
        if name == OC_CHECKSUMS:
            if not (info and info.md5):
                raise DAVError(HTTP_NOT_FOUND, "no MD5 known for this object")
            return checksums_element(info.md5)
        if name in (archive.STORAGE_CLASS, archive.RESTORE):
            return archive.property_value(info, name, archive.share_class(self.tree))
        if info is not None:
            # What WsgiDAV's generic getter answers, without its dispatch (PROPFIND of 2000).
            if name == GETLASTMODIFIED:
                return http_date(info.modified)
            if name == GETCONTENTLENGTH:
                return str(info.size)
            if name == RESOURCETYPE:
                return ""
            if name == GETETAG and info.etag is not None:
                return info.etag
        return super().get_property_value(name)

    def set_property_value(self, name, value, *, dry_run=False):
        """PROPPATCH s3dav:restore asks S3 to restore an archived file (dav/archive.py)."""
        if name == archive.RESTORE:
            return archive.request_restore(self.tree, self.info, self.path, value, dry_run=dry_run)
        if name == archive.STORAGE_CLASS:
            raise DAVError(HTTP_FORBIDDEN, "s3dav:storage-class is set per share")
        return super().set_property_value(name, value, dry_run=dry_run)

    def support_ranges(self):
        return True

    # -- reading ----------------------------------------------------------------
    def _open_reader(self) -> RangedReader:
        """A reader on the client's range of this version, its GET already sent.

        Sending it now, before any byte of the answer, lets an S3 failure become
        a clean 503 rather than a connection cut after 200.
        """
        start, end_hint = 0, None
        rng = self.environ.get("HTTP_RANGE")
        if rng and self.info:
            try:
                ranges, _ = util.obtain_content_ranges(rng, self.info.size)
                if ranges:
                    start, end_hint = ranges[0][0], ranges[0][1]
            except Exception:  # noqa: BLE001 - a bad Range is WsgiDAV's to answer
                start, end_hint = 0, None
        pending = self.tree.open_pending(self.key, self.info.etag)
        if pending is not None:
            pending.seek(start)
            return pending  # write-back: not in S3 yet, served from the journal
        content = self.tree.content
        source = (self.tree.client, self.tree.bucket, self.key, self.info.size, self.info.etag)
        if content is not None and content.enabled and self.info.etag:
            reader = BlockReader(content, *source, end_hint=end_hint)
        else:
            reader = RangedReader(*source, end_hint=end_hint)
        reader.seek(start)
        reader.open_now()
        return reader

    def prepare_read(self, attempts: int = 3) -> bool:
        """Open the GET before WsgiDAV builds the answer's headers from self.info.

        If the object was replaced since our listing (ETag pinned: 412), learn
        the new version and try again, so that headers and bytes always belong
        to one version. False: the object is gone.
        """
        for attempt in range(attempts):
            try:
                if attempt and not self.environ.get("HTTP_RANGE"):
                    # Being rewritten right now: take whatever version S3 has,
                    # and answer with that version's headers.
                    reader = RangedReader(self.tree.client, self.tree.bucket, self.key, 0, None)
                    self.info = self.tree.info_from_response(self.key, reader.open_latest())
                    self._reader = reader
                    return True
                self._reader = self._open_reader()
                return True
            except ObjectChanged:
                try:
                    info = self.tree.head(self.key)
                except Exception as exc:
                    raise as_s3_error(exc, f"reading {self.path}") from exc
                if info is None:
                    return False
                self.info = info
            except Exception as exc:
                if is_not_found(exc):
                    return False
                raise as_s3_error(exc, f"reading {self.path}") from exc
        raise DAVError(503, f"reading {self.path}: it keeps changing; try again")

    def get_content(self):
        reader, self._reader = self._reader, None
        if reader is not None:
            return reader
        try:
            return self._open_reader()
        except ObjectChanged as exc:
            raise DAVError(503, f"reading {self.path}: it changed; try again") from exc
        except Exception as exc:
            raise as_s3_error(exc, f"reading {self.path}") from exc

    # -- writing ----------------------------------------------------------------
    def begin_write(self, *, content_type=None):
        self.provider.check_writable(self.name, self.path)
        environ = self.environ
        mtime = client_mtime(environ)
        length = environ.get("CONTENT_LENGTH")
        exact = int(length) if length and length.isdigit() else None
        hint = environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH")
        expected = exact if exact is not None else (int(hint) if hint and hint.isdigit() else None)
        conditions = write_conditions(environ) if self.tree.settings.conditional_writes else {}
        try:  # an overwrite keeps the old file's owner, group and mode (as COPY and MOVE do)
            carried = self.tree.carried_for(self.info)
        except Exception as exc:
            raise as_s3_error(exc, f"reading the metadata of {self.path}") from exc
        self._upload = self.tree.new_upload(
            self.key,
            content_type=content_type,
            mtime=mtime,
            expected_size=expected,
            exact_size=exact,
            conditions=conditions,
            carried=carried,
        )
        if mtime is not None:
            environ[MTIME_ACCEPTED] = True
        return PutBody(self._upload, environ)

    def end_write(self, *, with_errors):
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if with_errors:
            upload.abort()
            return
        if upload.result is None:
            raise DAVError(HTTP_INTERNAL_ERROR, f"upload of {self.path} did not complete")
        self.info = self.tree.upload_done(upload)
        forget_resolved(self.environ)

    def set_last_modified(self, dest_path, time_stamp, *, dry_run):
        t = requested_time(time_stamp, self.path)
        if dry_run:
            return True
        self.provider.check_writable()
        if self.info and self.info.mtime is not None and abs(self.info.mtime - t) < 1e-6:
            return True
        try:
            self.info = self.tree.set_mtime(self.info, t)
        except Exception as exc:
            raise as_s3_error(exc, f"setting the time of {self.path}") from exc
        forget_resolved(self.environ)
        return True

    def delete(self):
        self.provider.check_writable()
        try:
            self.tree.delete_file(self.key)
        except Exception as exc:
            raise as_s3_error(exc, f"deleting {self.path}") from exc
        self.remove_all_properties(recursive=False)
        self.remove_all_locks(recursive=False)
        forget_resolved(self.environ)

    def copy_move_single(self, dest_path, *, is_move):
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        dest_key = self._dest_key(dest_path)
        if dest_key == self.key:
            raise DAVError(HTTP_FORBIDDEN, f"{dest_path} is {self.path} itself")
        try:
            self.tree.copy_file(self.info, dest_key)
        except Exception as exc:
            raise as_s3_error(exc, f"copying {self.path}") from exc
        self._props_copy(dest_path, move=is_move, children=False)
        forget_resolved(self.environ)

    def handle_copy(self, dest_path, *, depth_infinity):
        client_mtime(self.environ)  # a bad X-OC-Mtime is refused before anything is copied
        self._mark_created(dest_path)
        dest = self.provider.get_resource_inst(dest_path, self.environ)
        self.copy_move_single(dest_path, is_move=False)
        if dest is not None and dest.is_collection:
            dest._delete_tree_only()
        self._apply_client_mtime(dest_path)
        return True

    def handle_move(self, dest_path):
        client_mtime(self.environ)  # a bad X-OC-Mtime is refused before anything is moved
        self._mark_created(dest_path)
        dest = self.provider.get_resource_inst(dest_path, self.environ)
        if dest is not None and not dest.is_collection and self.provider.prop_manager:
            dest.remove_all_properties(recursive=False)
        self.copy_move_single(dest_path, is_move=True)
        if dest is not None and dest.is_collection:
            dest._delete_tree_only()
        try:
            self.tree.delete_file(self.key)
        except Exception as exc:
            raise as_s3_error(exc, f"removing {self.path} after moving it") from exc
        self.remove_all_locks(recursive=False)
        self._apply_client_mtime(dest_path)
        forget_resolved(self.environ)
        return True

    def _apply_client_mtime(self, dest_path: str) -> None:
        """X-OC-Mtime on COPY/MOVE (rclone sends it): set the new file's time."""
        mtime = client_mtime(self.environ)
        if mtime is None:
            return
        forget_resolved(self.environ)
        dest = self.provider.get_resource_inst(dest_path, self.environ)
        if isinstance(dest, S3File):
            dest.set_last_modified(dest_path, mtime, dry_run=False)
            self.environ[MTIME_ACCEPTED] = True
