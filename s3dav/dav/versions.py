"""Earlier versions as a read-only folder (docs/SEMANTICS.md, *Earlier versions*).

A share with `versions_folder: NAME` has, in every folder F, a virtual collection F/NAME
whose members are the earlier versions of F's files and the files deleted from F (the
names and what is shown: store/versions.py). GET and Range GET read that version
(`VersionId`, never the current object, never the content cache); COPY of one onto a
normal path restores it (server-side CopyObject of the version). Every other method on
F/NAME or below it, and every COPY or MOVE into it, is 403 (`refusal`, checked before
WsgiDAV handles the request), and so are the resources' own write methods.

F/NAME is listed in F's Depth 1 PROPFIND only for file managers (Finder, Windows
Explorer, browsers: `LISTED_FOR`), so that a person can find it; sync tools (rclone, a
davfs2 mount under rsync) do not see it in listings and so never try to download,
upload into or delete it, yet reach it by its path (`rclone lsl remote:F/NAME`).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlparse

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection

from s3dav.dav.common import S3Resource
from s3dav.dav.faults import as_s3_error
from s3dav.dav.files import S3File, client_range
from s3dav.dav.request import RESOLVED, forget_resolved
from s3dav.errors import is_not_found
from s3dav.store.listing import FileInfo, etag_md5
from s3dav.store.versions import Version
from s3dav.transfer.reader import RangedReader

# User-Agent marks of clients a person browses with: they are shown the versions folder.
LISTED_FOR = ("WebDAVFS/", "Microsoft-WebDAV-MiniRedir/", "Mozilla/")
READS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})
READ_ONLY = "earlier versions are read-only; COPY one onto a normal path to restore it"
NO_WRITES_INTO = "nothing can be written into a versions folder"


def listed_for(environ: dict) -> bool:
    """Whether the request lists a folder for a file manager: then its versions folder is
    among the members. Never for a walk of a tree (WsgiDAV's file-by-file COPY or MOVE)."""
    if environ.get("REQUEST_METHOD") not in ("PROPFIND", "GET", "HEAD"):
        return False
    agent = environ.get("HTTP_USER_AGENT", "")
    return any(mark in agent for mark in LISTED_FOR)


def segments(path: str) -> list[str]:
    return [unicodedata.normalize("NFC", s) for s in path.split("/") if s]


def place(path: str, name: str) -> str | None:
    """Where `path` lies with respect to versions folders named `name`: None (nowhere
    near one), "folder" (a versions folder itself), "member" (a version) or "below"."""
    segs = segments(path)
    if name not in segs:
        return None
    rest = len(segs) - 1 - segs.index(name)
    return {0: "folder", 1: "member"}.get(rest, "below")


def destination_path(destination: str, share_path: str) -> str | None:
    """The share-relative path of a Destination header (None: none, or another share)."""
    if not destination:
        return None
    path = urlparse(unquote(destination), allow_fragments=False).path
    share = "/" + share_path.strip("/") if share_path.strip("/") else ""
    if share and not (path == share or path.startswith(share + "/")):
        return None
    return path[len(share) :] or "/"


def refusal(environ: dict, name: str, share_path: str) -> str | None:
    """Why the request may not run (403), if it writes to or into a versions folder."""
    method = environ.get("REQUEST_METHOD", "")
    if method in ("COPY", "MOVE"):
        dest = destination_path(environ.get("HTTP_DESTINATION", ""), share_path)
        if dest is not None and place(dest, name) is not None:
            return NO_WRITES_INTO
    where = place(environ.get("PATH_INFO", ""), name)
    if where is None or method in READS or (method == "COPY" and where == "member"):
        return None
    if method == "COPY":
        return "COPY one version at a time onto a normal path"
    return READ_ONLY


def refuse_writes(environ: dict, name: str, share_path: str) -> None:
    reason = refusal(environ, name, share_path)
    if reason is not None:
        raise DAVError(HTTP_FORBIDDEN, reason)


def _read_only(*_args, **_kwargs):
    raise DAVError(HTTP_FORBIDDEN, READ_ONLY)


class VersionsFolder(S3Resource, DAVCollection):
    """The earlier versions of the files in the folder at `dir_key` (read-only)."""

    read_only = True  # the listing page offers no upload here (dav/browser.py)

    def __init__(self, path: str, environ: dict, dir_key: str) -> None:
        DAVCollection.__init__(self, path, environ)
        self.dir_key = dir_key

    def get_last_modified(self):
        return self.tree.folder_date(self.dir_key)  # the folder's own date: no S3 request

    def get_creation_date(self):
        return self.get_last_modified()

    def get_display_info(self):
        return {"type": "Directory"}

    def _listing(self):
        try:
            return self.tree.versions(self.dir_key)
        except Exception as exc:
            raise as_s3_error(exc, f"listing the versions in {self.path}") from exc

    def _member(self, version: Version | None):
        if version is None:
            return None
        path = util.join_uri(self.path, version.name)
        res = VersionFile(path, self.environ, version)
        self.environ.setdefault(RESOLVED, {})["/" + path.strip("/")] = res
        return res

    def get_member_names(self):
        return self._listing().names()

    def get_member(self, name):
        return self._member(self._listing().members.get(unicodedata.normalize("NFC", name)))

    def get_member_list(self):
        listing = self._listing()
        return [self._member(listing.members[name]) for name in listing.names()]

    create_empty_resource = create_collection = delete = _read_only
    copy_move_single = handle_move = set_last_modified = set_property_value = _read_only

    def handle_copy(self, dest_path, *, depth_infinity):
        raise DAVError(HTTP_FORBIDDEN, "COPY one version at a time onto a normal path")


class VersionFile(S3File):
    """One earlier version: read by its VersionId; COPY restores it; nothing else."""

    read_only = True

    def __init__(self, path: str, environ: dict, version: Version) -> None:
        info = FileInfo(
            key=version.key,
            size=version.size,
            etag=version.etag,
            last_modified=version.last_modified,
            md5=etag_md5(version.etag),
            storage_class=version.storage_class,
        )
        super().__init__(path, environ, info)
        self.version = version
        self.version_id = version.version_id  # dav/directget.py presigns this version

    def _open_reader(self) -> RangedReader:
        """The client's range of this version, its GET sent (never the content cache:
        that holds current objects)."""
        start, end_hint = client_range(self.environ, self.info)
        reader = RangedReader(
            self.tree.client,
            self.tree.bucket,
            self.key,
            self.info.size,
            self.info.etag,
            end_hint=end_hint,
            version_id=self.version_id,
        )
        reader.seek(start)
        reader.open_now()
        return reader

    def prepare_read(self, attempts: int = 3) -> bool:
        """Open the GET first (a version never changes; False: it was deleted)."""
        try:
            self._reader = self._open_reader()
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise as_s3_error(exc, f"reading {self.path}") from exc
        return True

    begin_write = delete = set_last_modified = set_property_value = _read_only
    handle_move = _read_only

    def copy_move_single(self, dest_path, *, is_move):
        """COPY onto a normal path: restore this version there (a server-side copy)."""
        if is_move:
            _read_only()
        self.provider.check_writable(util.get_uri_name(dest_path), dest_path)
        dest_key = self._dest_key(dest_path)
        try:
            self.tree.restore_version(self.version, dest_key)
        except Exception as exc:
            raise as_s3_error(exc, f"restoring {self.path}") from exc
        forget_resolved(self.environ)


def resolve(folder, name: str, rest: list[str]):
    """The versions folder `name` of the collection `folder`, or its member `rest[0]`."""
    versions = VersionsFolder(util.join_uri(folder.path, name), folder.environ, folder.dir_key)
    if not rest:
        return versions
    if len(rest) == 1:
        return versions.get_member(rest[0])
    return None
