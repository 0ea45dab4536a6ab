"""The WsgiDAV provider: WebDAV collections and resources over one S3Tree.

Resources are built from a listing entry or a HEAD that the tree already
holds; their getters never call S3. Writes go through the tree, which records
them in the read-your-writes overlay.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import time
import unicodedata
from email.utils import parsedate_to_datetime

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_INTERNAL_ERROR,
    HTTP_NOT_FOUND,
    HTTP_PRECONDITION_FAILED,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider
from wsgidav.xml_tools import etree

from s3dav.dav.propfind import do_propfind
from s3dav.store.keys import (
    BadPath,
    is_macos_metadata,
    parse_mtime,
    path_to_key,
    representable_time,
    tree_dest_keys,
)
from s3dav.store.listing import DirInfo, FileInfo
from s3dav.store.tree import S3Tree
from s3dav.transfer.contentcache import BlockReader
from s3dav.transfer.reader import ObjectChanged, RangedReader

_log = logging.getLogger(__name__)

# The gateway's own endpoints (answered by server/middleware.py before WsgiDAV): no share
# at "/" may hold a file of these names.
RESERVED_PATHS = ("/healthz", "/readyz", "/metrics")
# The gateway's own web UI (dav/webui.py: script, share-link pages): no share at "/"
# may hold a file or folder of this name, nor write anything below it.
RESERVED_PREFIX = "/_s3dav"

RESOLVED = "s3dav.resolved"  # environ key: per-request memo of path -> resource
CREATED = "s3dav.created"  # environ key: a natively handled COPY/MOVE made a new resource
MTIME_ACCEPTED = "s3dav.mtime_accepted"

OC_NS = "{http://owncloud.org/ns}"
OC_CHECKSUMS = OC_NS + "checksums"
# PROPPATCH names that set the modification time besides {DAV:}getlastmodified
# (handled by WsgiDAV's mutable_live_props) and the Win32 ones (its hotfix):
# ownCloud/Nextcloud and newer rclone send <d:lastmodified>epoch</d:lastmodified>.
MTIME_PROPS = ("{DAV:}lastmodified", OC_NS + "lastmodified")
GETLASTMODIFIED = "{DAV:}getlastmodified"
GETCONTENTLENGTH = "{DAV:}getcontentlength"
GETETAG = "{DAV:}getetag"
RESOURCETYPE = "{DAV:}resourcetype"

# RFC 1123 dates of modification times: a listing shows the same few thousand again and again.
http_date = functools.lru_cache(maxsize=1 << 16)(util.get_rfc1123_time)


def checksums_element(md5_hex: str):
    """<oc:checksums><oc:checksum>MD5:hex</oc:checksum></oc:checksums>.

    rclone (owncloud vendor) lower-cases the text, splits it on spaces and
    takes what follows `md5:` / `sha1:`.
    """
    el = etree.Element(OC_CHECKSUMS)
    etree.SubElement(el, OC_NS + "checksum").text = f"MD5:{md5_hex}"
    return el


def client_mtime(environ: dict) -> float | None:
    """The modification time a client asked for with X-OC-Mtime (rclone, ownCloud).

    400 naming the path when it is no number or no representable time (keys.MAX_TIME).
    """
    value = environ.get("HTTP_X_OC_MTIME")
    if value is None:
        return None
    t = parse_mtime(value)
    if t is None:
        path = environ.get("PATH_INFO", "")
        raise DAVError(
            HTTP_BAD_REQUEST,
            f"invalid X-OC-Mtime header for {path}: {value[:40]!r} "
            "(epoch seconds from 1970 to 9999 expected)",
        )
    return t


def parse_time_value(text: str | None) -> float | None:
    """A time from PROPPATCH: RFC 1123 (getlastmodified, Win32 times) or epoch seconds.

    None when unreadable or outside the representable range (keys.representable_time).
    """
    if not text:
        return None
    text = text.strip()
    t = parse_mtime(text)
    if t is not None:
        return t
    try:
        return representable_time(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        from datetime import datetime

        return representable_time(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError):
        return None


def checksum_header(environ: dict) -> str | None:
    """`OC-Checksum` for a GET/HEAD answered from a file this request resolved.

    ownCloud clients check downloads against it. WsgiDAV has shifted PATH_INFO
    to the share by the time the response starts; the memo holds the file.
    """
    path = "/" + environ.get("PATH_INFO", "").strip("/")
    res = (environ.get(RESOLVED) or {}).get(unicodedata.normalize("NFC", path))
    if isinstance(res, S3File) and res.info is not None and res.info.md5:
        return f"MD5:{res.info.md5}"
    return None


def write_conditions(environ: dict) -> dict[str, str]:
    """If-Match / If-None-Match of a PUT, as S3 conditional-write parameters.

    WsgiDAV has already checked them against what the gateway knows; passing
    them on makes S3 check them again at the moment of the write, so that they
    hold against writers elsewhere (other replicas, other tools). S3 takes one
    ETag for IfMatch and only `*` for IfNoneMatch; other forms stay WsgiDAV's.
    """
    out: dict[str, str] = {}
    if_match = (environ.get("HTTP_IF_MATCH") or "").strip()
    if if_match and if_match != "*" and "," not in if_match:
        out["IfMatch"] = if_match.removeprefix("W/")
    if (environ.get("HTTP_IF_NONE_MATCH") or "").strip() == "*":
        out["IfNoneMatch"] = "*"
    return out


def requested_time(time_stamp, path: str) -> float:
    """The time a PROPPATCH or header asks for, or 400 naming the path and the bad value."""
    if isinstance(time_stamp, str) or time_stamp is None:
        t = parse_time_value(time_stamp)
    else:
        t = representable_time(float(time_stamp))
    if t is None:
        shown = time_stamp[:40] if isinstance(time_stamp, str) else time_stamp
        raise DAVError(
            HTTP_BAD_REQUEST,
            f"bad time value {shown!r} for {path} (a date from 1970 to 9999 expected)",
        )
    return t


def forget_resolved(environ: dict) -> None:
    environ.pop(RESOLVED, None)


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
            # as WsgiDAV's own reader would: the connection may be kept alive
            self.environ["wsgidav.some_input_read"] = 1
            self.environ["wsgidav.all_input_read"] = 1
            return
        for chunk in chunks:
            self.upload.write(chunk)

    def close(self) -> None:
        self.upload.close()


class S3Provider(DAVProvider):
    """Maps one share (bucket + prefix) onto WebDAV."""

    def __init__(
        self,
        tree: S3Tree,
        *,
        read_only: bool = False,
        macos_metadata: str = "store",
        quota_bytes: int | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.readonly = read_only
        self.macos_metadata = macos_metadata
        self.quota_bytes = quota_bytes

    def __repr__(self) -> str:
        return f"S3Provider(s3://{self.tree.bucket}/{self.tree.prefix})"

    def is_readonly(self) -> bool:
        return self.readonly

    def key_for(self, path: str, *, collection: bool = False) -> str:
        try:
            return path_to_key(path, self.tree.prefix, collection=collection)
        except BadPath as exc:
            raise DAVError(HTTP_BAD_REQUEST, f"bad path: {exc}") from exc

    def write_key(self, path: str, environ: dict, *, collection: bool = False) -> str:
        """The key a write to `path` goes to: the key of what is shown there, else a new
        NFC name inside the parent folder's real key.

        Listed names need not be their keys (NFD keys, alternate names), so a new
        file in a folder whose key is NFD lands beside its siblings, and overwriting
        an entry shown by an alternate name overwrites that entry.
        """
        self.key_for(path, collection=collection)  # refuses what no key may be
        res = self.get_resource_inst(path, environ)
        if isinstance(res, S3File) and not collection:
            return res.key
        if isinstance(res, S3Collection) and collection:
            return res.dir_key
        parent = self.get_resource_inst(util.get_uri_parent("/" + path.strip("/")), environ)
        if isinstance(parent, S3Collection):
            return child_key(parent.dir_key, util.get_uri_name(path), collection=collection)
        return self.key_for(path, collection=collection)

    def get_resource_inst(self, path: str | None, environ: dict):
        if path is None:  # the parent of the share root (WsgiDAV asks for it in COPY/MOVE/DELETE)
            return None
        memo = environ.setdefault(RESOLVED, {})
        norm = "/" + path.strip("/")
        if norm in memo:
            return memo[norm]
        key = self.key_for(path)
        norm = "/" + "/".join(unicodedata.normalize("NFC", s) for s in norm.split("/") if s)
        if key == self.tree.prefix:
            res = S3Collection(self, "/", environ, DirInfo(key=self.tree.prefix))
        else:
            try:
                info = self.tree.stat(key)
            except Exception as exc:
                raise as_s3_error(exc, f"looking up {path}") from exc
            if info is None:
                res = None
            elif isinstance(info, DirInfo):
                res = S3Collection(self, norm, environ, info)
            else:
                res = S3File(self, norm, environ, info)
        memo[norm] = res
        return res

    def custom_request_handler(self, environ, start_response, default_handler):
        """Refuse PROPFIND Depth infinity on collections (a walk of the whole bucket).

        On a file, infinity means the same as 0, so it is answered.
        """
        if environ.get("REQUEST_METHOD") == "PROPFIND":
            depth = environ.get("HTTP_DEPTH", "infinity").strip().lower()
            if depth == "infinity":
                res = self.get_resource_inst(environ["PATH_INFO"], environ)
                if res is not None and res.is_collection:
                    raise DAVError(
                        HTTP_FORBIDDEN,
                        "PROPFIND with Depth infinity is not supported: use Depth 1",
                        err_condition=PRECONDITION_CODE_PropfindFiniteDepth,
                    )
                environ["HTTP_DEPTH"] = "0"
            server = getattr(default_handler, "__self__", None)
            if server is not None:
                return do_propfind(server, environ, start_response)
        conditional = any(k.startswith("HTTP_IF_") for k in environ)
        if environ.get("REQUEST_METHOD") == "GET" and not conditional:
            # (a conditional GET may end in 304/412: no S3 read before WsgiDAV decides)
            res = self.get_resource_inst(environ["PATH_INFO"], environ)
            if isinstance(res, S3File) and not res.prepare_read():
                forget_resolved(environ)  # deleted meanwhile: WsgiDAV answers 404
                environ.setdefault(RESOLVED, {})["/" + environ["PATH_INFO"].strip("/")] = None
        return default_handler(environ, start_response)

    def check_writable(self, name: str | None = None, path: str | None = None) -> None:
        """Refuse writes to a read-only share, refused macOS files and reserved names."""
        if self.readonly:
            raise DAVError(HTTP_FORBIDDEN, "this share is read-only")
        if path is not None and self.share_path in ("", "/"):
            here = "/" + path.strip("/")
            if here in RESERVED_PATHS or (here + "/").startswith(RESERVED_PREFIX + "/"):
                raise DAVError(HTTP_FORBIDDEN, f"{path} is reserved for the gateway itself")
        if name is not None and self.macos_metadata == "refuse" and is_macos_metadata(name):
            raise DAVError(HTTP_FORBIDDEN, f"macOS metadata files ({name}) are refused here")


def child_key(dir_key: str, name: str, *, collection: bool = False) -> str:
    """The key of a new member `name` (stored NFC) of the folder at `dir_key`."""
    try:
        return path_to_key("/" + name, dir_key, collection=collection)
    except BadPath as exc:
        raise DAVError(HTTP_BAD_REQUEST, f"bad name {name!r}: {exc}") from exc


def as_s3_error(exc: Exception, doing: str) -> DAVError:
    """Turn an S3/network failure into a clear DAVError (never a bare 500 traceback)."""
    if isinstance(exc, DAVError):
        return exc
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("PreconditionFailed",) or status == 412:
            return DAVError(HTTP_PRECONDITION_FAILED, f"{doing}: precondition failed")
        if code in ("NoSuchKey", "404") and exc.operation_name in (
            "PutObject",
            "CompleteMultipartUpload",
        ):
            # a write answers NoSuchKey only when its IfMatch names a missing object
            return DAVError(HTTP_PRECONDITION_FAILED, f"{doing}: the object no longer exists")
        if code in ("AccessDenied",) or status == 403:
            return DAVError(HTTP_FORBIDDEN, f"{doing}: S3 denied access")
        if status in (500, 502, 503, 504) or code in ("SlowDown", "ServiceUnavailable"):
            return DAVError(503, f"{doing}: S3 is unavailable ({code})")
        return DAVError(HTTP_INTERNAL_ERROR, f"{doing}: S3 error {code}")
    if isinstance(exc, ConnectionError | ReadTimeoutError | HTTPClientError):
        # refused, reset, timed out: all retries spent (botocore retried already)
        return DAVError(503, f"{doing}: S3 is unreachable")
    return DAVError(HTTP_INTERNAL_ERROR, f"{doing}: {type(exc).__name__}")


class _Common:
    """Bits shared by files and collections."""

    provider: S3Provider
    environ: dict
    path: str

    @property
    def tree(self) -> S3Tree:
        return self.provider.tree

    def get_ref_url(self):
        """WsgiDAV's, computed once: every property, lock and dead-property lookup asks."""
        ref = self.__dict__.get("_ref_url")
        if ref is None:
            ref = self._ref_url = super().get_ref_url()
        return ref

    def _dest_key(self, dest_path: str, *, collection: bool = False) -> str:
        return self.provider.write_key(dest_path, self.environ, collection=collection)

    def _props_copy(self, dest_path: str, *, move: bool, children: bool) -> None:
        pm = self.provider.prop_manager
        if not pm:
            return
        src_url = self.get_ref_url()
        dest_url = util.quote(self.provider.share_path + dest_path)
        if self.is_collection and not dest_url.endswith("/"):
            dest_url += "/"
        if move:
            pm.move_properties(src_url, dest_url, with_children=children, environ=self.environ)
        elif children:
            pm.copy_tree_properties(src_url, dest_url)
        else:
            pm.copy_properties(src_url, dest_url, self.environ)

    def set_property_value(self, name, value, *, dry_run=False):
        """Also take the mtime from the `lastmodified` forms ownCloud clients send."""
        if name in MTIME_PROPS or name == GETLASTMODIFIED:
            # getlastmodified too: WsgiDAV's own handling turns any error into 403.
            if value is None:
                raise DAVError(HTTP_FORBIDDEN, f"{name} cannot be removed")
            return self.set_last_modified(self.path, value.text, dry_run=dry_run)
        return super().set_property_value(name, value, dry_run=dry_run)

    def _mark_created(self, dest_path: str) -> None:
        existed = self.provider.get_resource_inst(dest_path, self.environ) is not None
        self.environ[CREATED] = not existed


class S3File(_Common, DAVNonCollection):
    def __init__(
        self,
        provider: S3Provider,
        path: str,
        environ: dict,
        info: FileInfo | None,
        key: str | None = None,
    ) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.provider = provider
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
        return names

    def get_property_value(self, name):
        info = self.info
        if name == OC_CHECKSUMS:
            if not (info and info.md5):
                raise DAVError(HTTP_NOT_FOUND, "no MD5 known for this object")
            return checksums_element(info.md5)
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
        from botocore.exceptions import ClientError

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
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return False
                raise as_s3_error(exc, f"reading {self.path}") from exc
            except Exception as exc:
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
            conditions=conditions,
            carried=carried,
        )
        self._upload.exact_size = exact
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


class S3Collection(_Common, DAVCollection):
    def __init__(self, provider: S3Provider, path: str, environ: dict, info: DirInfo) -> None:
        DAVCollection.__init__(self, path, environ)
        self.provider = provider
        self.info = info
        self.dir_key = info.key

    # -- live properties ----------------------------------------------------------
    def _marker(self) -> FileInfo | None:
        return self.info.marker or self.tree.dir_marker_info(self.dir_key)

    def get_last_modified(self):
        """Never None (S3Tree.folder_date); asked for by several properties, computed once
        per resource until its own listing is read (which may date it better)."""
        t = self.__dict__.get("_date")
        if t is None:
            t = self._date = self.tree.folder_date(self.dir_key)
        return t

    def get_creation_date(self):
        return self.get_last_modified()

    def get_display_info(self):
        return {"type": "Directory"}

    def set_last_modified(self, dest_path, time_stamp, *, dry_run):
        """A folder's time lives in its marker (as s3fs keeps it): rewrite the marker."""
        t = requested_time(time_stamp, self.path)
        if dry_run:
            return True
        self.provider.check_writable()
        if self.dir_key == self.tree.prefix:
            return True  # the share root has no marker of its own
        marker = self._marker()
        if marker is not None and marker.mtime is not None and abs(marker.mtime - t) < 1:
            return True
        try:
            self.tree.make_dir(self.dir_key, t)
        except Exception as exc:
            raise as_s3_error(exc, f"setting the time of {self.path}") from exc
        self.tree.listings.invalidate(self.dir_key)  # its cached marker has the old time
        self.__dict__.pop("_date", None)
        forget_resolved(self.environ)
        return True

    def get_used_bytes(self):
        """Bytes of the files directly in this folder, from a listing.

        Only the request's own target may cost a LIST; for members of a Depth 1
        PROPFIND the figure is given only when their listing is already cached.
        """
        own = "/" + self.environ.get("PATH_INFO", "").strip("/") == "/" + self.path.strip("/")
        try:
            if own:
                listing = self.tree.listing(self.dir_key)
            else:
                raw = self.tree.listings.get(self.dir_key)
                if raw is None:
                    return None
                listing = self.tree.overlay.apply(raw)
        except Exception:  # noqa: BLE001 - a quota figure must not fail PROPFIND
            return None
        return sum(f.size for f in listing.files.values())

    def get_available_bytes(self):
        if self.provider.quota_bytes is None:
            return 2**50  # S3 has no practical limit: 1 PiB
        used = self.get_used_bytes() or 0
        return max(0, self.provider.quota_bytes - used)

    # -- members ------------------------------------------------------------------
    def _listing(self, *, read_ahead: bool = False):
        self.__dict__.pop("_date", None)
        try:
            return self.tree.listing(self.dir_key, read_ahead=read_ahead)
        except Exception as exc:
            raise as_s3_error(exc, f"listing {self.path}") from exc

    def get_member_names(self):
        return self._listing().names()

    def _member(self, name: str, listing):
        path = util.join_uri(self.path, name)
        memo = self.environ.setdefault(RESOLVED, {})
        info = listing.lookup(name)
        if isinstance(info, DirInfo):
            res = S3Collection(self.provider, path, self.environ, info)
        elif isinstance(info, FileInfo):
            res = S3File(self.provider, path, self.environ, info)
        else:
            return None
        memo["/" + path.strip("/")] = res
        return res

    def get_member(self, name):
        return self._member(unicodedata.normalize("NFC", name), self._listing())

    def get_member_list(self):
        listing = self._listing(read_ahead=True)
        return [self._member(name, listing) for name in listing.names()]

    # -- creating -----------------------------------------------------------------
    def create_empty_resource(self, name):
        path = util.join_uri(self.path, name)
        self.provider.check_writable(name, path)
        self.provider.key_for(path)  # the path's own checks (its length)
        key = child_key(self.dir_key, name)
        forget_resolved(self.environ)
        if self.environ.get("REQUEST_METHOD") == "PUT":
            # The body follows in this same request: nothing is written until it
            # has arrived, so no empty object ever replaces or precedes it.
            return S3File(self.provider, path, self.environ, None, key=key)
        try:
            info = self.tree.put_empty(key)  # LOCK on an unmapped URL
        except Exception as exc:
            raise as_s3_error(exc, f"creating {path}") from exc
        return S3File(self.provider, path, self.environ, info)

    def create_collection(self, name):
        path = util.join_uri(self.path, name)
        self.provider.check_writable(name, path)
        self.provider.key_for(path, collection=True)  # the path's own checks (its length)
        dir_key = child_key(self.dir_key, name, collection=True)
        try:
            self.tree.make_dir(dir_key, client_mtime(self.environ))
        except DAVError:
            raise
        except Exception as exc:
            raise as_s3_error(exc, f"creating {path}") from exc
        forget_resolved(self.environ)

    # -- deleting -----------------------------------------------------------------
    def support_recursive_delete(self):
        return True

    def _delete_tree_only(self) -> list:
        try:
            errors = self.tree.delete_tree(self.dir_key)
        except Exception as exc:
            raise as_s3_error(exc, f"deleting {self.path}") from exc
        forget_resolved(self.environ)
        return [
            (self.get_href(), DAVError(HTTP_INTERNAL_ERROR, f"{key}: {reason}"))
            for key, reason in errors
        ]

    def delete(self):
        self.provider.check_writable()
        errors = self._delete_tree_only()
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)
        return errors

    def remove_all_properties(self, *, recursive):
        pm = self.provider.prop_manager
        if pm and recursive:
            pm.remove_tree_properties(self.get_ref_url())
        elif pm:
            pm.remove_properties(self.get_ref_url(), self.environ)

    # -- copying and moving -------------------------------------------------------
    def copy_move_single(self, dest_path, *, is_move):
        """Depth 0 COPY of a collection: the folder without its members."""
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        dir_key = self._dest_key(dest_path, collection=True)
        try:
            self.tree.make_dir(dir_key)
        except Exception as exc:
            raise as_s3_error(exc, f"creating {dest_path}") from exc
        self._props_copy(dest_path, move=is_move, children=False)
        forget_resolved(self.environ)

    def support_recursive_move(self, dest_path):
        return True

    def move_recursive(self, dest_path):
        return self._copy_tree(dest_path, move=True)

    def handle_copy(self, dest_path, *, depth_infinity):
        if not depth_infinity:
            return False
        self._mark_created(dest_path)
        return self._copy_tree(dest_path, move=False) or True

    def handle_move(self, dest_path):
        self._mark_created(dest_path)
        return self._copy_tree(dest_path, move=True) or True

    def _member_href(self, key: str) -> str:
        """The href of the object `key` below this folder, for a 207 answer."""
        rel = key[len(self.dir_key) :]
        if not rel:
            return self.get_href()
        return self.get_href().rstrip("/") + "/" + util.quote(rel)

    def _copy_tree(self, dest_path: str, *, move: bool):
        """Server-side copy of the whole folder; a move deletes only what was copied."""
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        if move:
            self.provider.check_writable()
        dst_dir = self._dest_key(dest_path, collection=True)
        if dst_dir.startswith(self.dir_key):
            raise DAVError(HTTP_FORBIDDEN, f"{dest_path} is {self.path} or below it")
        dest = self.provider.get_resource_inst(dest_path, self.environ)
        try:
            # Keys already at the destination that the copy will not overwrite
            # must go (RFC 4918 9.8.4), but only after the copy succeeded.
            old_dest_keys = []
            if dest is not None and dest.is_collection:
                old_dest_keys = [e["Key"] for e in self.tree.list_all(dst_dir)]
            if move:
                self.tree.keep_parent(self.dir_key)
            copied, errors = self.tree.copy_tree(self.dir_key, dst_dir)
            if errors:
                # 207 naming each member that failed. Nothing is deleted: every
                # source stays, so a repeat of the request completes the job.
                return [
                    (self._member_href(k), as_s3_error(exc, f"copying {k}")) for k, exc in errors
                ]
            new_keys = set(tree_dest_keys(copied, self.dir_key, dst_dir).values())
            stale = [k for k in old_dest_keys if k not in new_keys]
            if dest is not None and not dest.is_collection:
                stale.append(dest.key)
            if stale:
                self.tree.delete_keys(stale)
                for k in stale:
                    self.tree.overlay.delete_file(k)
            if dest is not None:
                dest.remove_all_properties(recursive=True)
            if move:
                failed = self.tree.delete_keys(copied + [self.dir_key.rstrip("/") + "_$folder$"])
                if failed:
                    return [
                        (self._member_href(k), DAVError(HTTP_INTERNAL_ERROR, f"{k}: {r}"))
                        for k, r in failed
                    ]
                self.tree.overlay.delete_tree(self.dir_key)
        except DAVError:
            raise
        except Exception as exc:
            raise as_s3_error(exc, f"copying {self.path}") from exc
        self._props_copy(dest_path, move=move, children=True)
        if move:
            self.remove_all_locks(recursive=True)
        forget_resolved(self.environ)
        return []
