"""`s3dav check`: is the configuration sound and can every share be used?

Reaches each bucket, proves list/put/delete with a probe key under the share's
prefix, and reports folder/file name clashes and stale multipart uploads.
The exit code says whether all is well.
"""

from __future__ import annotations

import sys
import time
import unicodedata
import uuid
from dataclasses import dataclass, field

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from s3dav.config import Config, Share
from s3dav.dav.provider import RESERVED_PATHS, RESERVED_PREFIX
from s3dav.errors import operator_problem
from s3dav.preflight import missing_extras, plain_http_basic_warning
from s3dav.store.keys import FOLDER_SUFFIX
from s3dav.store.listing import visible_name
from s3dav.store.s3client import RequestCounter, make_client

STALE_UPLOAD_AGE = 24 * 3600
# /healthz, /readyz, /metrics and /_s3dav/ are answered by the gateway at the server root.
RESERVED_NAMES = (*(p.strip("/") for p in RESERVED_PATHS), RESERVED_PREFIX.strip("/"))


def _say(ok: bool, text: str) -> None:
    print(f"[{'ok' if ok else 'FAIL'}] {text}")


def _warn(text: str) -> None:
    """Worth a look, but the gateway works: does not change the exit code."""
    print(f"[warn] {text}")


def preflight(cfg: Config) -> bool:
    """What `serve` would refuse (missing extras: FAIL) or warn about at start."""
    ok = True
    for problem in missing_extras(cfg):
        _say(False, problem)
        ok = False
    warning = plain_http_basic_warning(cfg)
    if warning:
        _warn(warning)
    return ok


def scan_clashes(
    client, bucket: str, prefix: str, progress=None, reserved: tuple[str, ...] = ()
) -> tuple[list[str], int, list[str]]:
    """Keys that are both a file and a folder (`a` and `a/...`).

    Returns (clashing names, keys seen, names among `reserved` that exist as files or folders).
    """
    files: set[str] = set()
    dirs: set[str] = set()
    seen = 0
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []) or []:
            key = entry["Key"]
            seen += 1
            if key.endswith(FOLDER_SUFFIX):
                dirs.add(key[: -len(FOLDER_SUFFIX)])
            elif key.endswith("/"):
                dirs.add(key[:-1])
            else:
                files.add(key)
            parts = key.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        if progress:
            progress(seen)
    taken = {prefix + name for name in reserved} & (files | dirs)
    return sorted(files & dirs), seen, sorted(k[len(prefix) :] for k in taken)


@dataclass
class NameReport:
    """Keys whose names the gateway shows other than they are (share-relative)."""

    not_nfc: list[str] = field(default_factory=list)  # shown by their NFC name
    twins: list[str] = field(default_factory=list)  # NFC names two spellings share
    refused: list[str] = field(default_factory=list)  # hidden: no path can name them


def name_report(keys: list[str]) -> NameReport:
    """Sort share-relative keys into the name cases of docs/SEMANTICS.md (*Names*).

    A twin is an NFC/NFD pair of one name in one folder, file or folder (`été/a`
    and `e\u0301te\u0301/b` make the folder a twin): one wins the name, the
    other is shown by an alternate name, as with a file and a folder.
    """
    report = NameReport()
    spellings: dict[str, set[str]] = {}
    for key in keys:
        body = key[:-1] if key.endswith("/") else key
        segments = body.split("/")
        if not all(visible_name(seg) for seg in segments):
            report.refused.append(key)
            continue
        if unicodedata.normalize("NFC", key) != key:
            report.not_nfc.append(key)
        for i in range(1, len(segments) + 1):
            path = "/".join(segments[:i])
            spellings.setdefault(unicodedata.normalize("NFC", path), set()).add(path)
    report.twins = sorted(nfc for nfc, seen in spellings.items() if len(seen) > 1)
    return report


def check_names(client, bucket: str, prefix: str, where: str) -> bool:
    """Report keys not in NFC, NFC/NFD twins and names hidden as refused; False on twins
    or hidden keys (entries not reachable by their own name)."""
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(e["Key"][len(prefix) :] for e in page.get("Contents", []) or [])
    report = name_report([k for k in keys if k])
    ok = True
    if report.not_nfc:
        shown = ", ".join(ascii(k) for k in report.not_nfc[:10])
        count = len(report.not_nfc)
        print(f"[note] {where}: {count} key(s) not in NFC, shown by their NFC name: {shown}")
    if report.twins:
        _say(
            False,
            f"{where}: {len(report.twins)} name(s) exist in NFC and another spelling (the NFC one"
            f" is shown, the other as 'name (NFD)'): {', '.join(report.twins[:10])}",
        )
        ok = False
    if report.refused:
        shown = ", ".join(ascii(k) for k in report.refused[:10])
        _say(
            False,
            f"{where}: {len(report.refused)} key(s) with names no path can name (hidden): {shown}",
        )
        ok = False
    return ok


class Progress:
    """A one-line progress display for the key scan, only on a terminal."""

    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, seen: int) -> None:
        if not self.out.isatty():
            return
        rate = seen / max(time.monotonic() - self.started, 1e-6)
        print(f"\r  scanning: {seen:,} keys ({rate:,.0f}/s)", end="", file=self.out, flush=True)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=self.out, flush=True)  # clear the progress line


def run_check(cfg: Config) -> int:
    """Print one line per finding; 0 when all is well, 1 when any FAIL was printed."""
    from s3dav.app import s3_settings

    if cfg.embedded:
        _say(True, "config is valid (no bucket configured: serve would use the embedded S3)")
        return 0 if preflight(cfg) else 1
    _say(True, "config is valid")
    all_ok = preflight(cfg)
    client = make_client(s3_settings(cfg), RequestCounter(), pool_size=4)
    for share in cfg.shares:
        all_ok = check_share(client, share) and all_ok
    print("all is well" if all_ok else "problems found (see [FAIL] above)")
    return 0 if all_ok else 1


def check_share(client, share: Share) -> bool:
    """Every check of one share, in order; the ones after S3 refused access are skipped."""
    where = f"share {share.path} (s3://{share.bucket}/{share.prefix})"
    if not check_access(client, share, where):
        return False
    ok = check_probe_write(client, share, where) if not share.read_only else True
    scanned = check_keys(client, share, where)
    if scanned is None:
        return False
    ok = scanned and ok
    try:
        ok = check_names(client, share.bucket, share.prefix, where) and ok
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: name scan failed: {operator_problem(exc)}")
        ok = False
    return check_stale_uploads(client, share, where) and ok


def check_access(client, share: Share, where: str) -> bool:
    """The bucket answers, and lists under the prefix."""
    try:
        client.head_bucket(Bucket=share.bucket)
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: {operator_problem(exc)}")
        return False
    try:
        client.list_objects_v2(Bucket=share.bucket, Prefix=share.prefix, MaxKeys=1)
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: list refused: {operator_problem(exc)}")
        return False
    _say(True, f"{where}: list")
    return True


def check_probe_write(client, share: Share, where: str) -> bool:
    """A probe key under the prefix can be written and deleted again."""
    probe = f"{share.prefix}.s3dav-check-{uuid.uuid4().hex}"
    try:
        client.put_object(Bucket=share.bucket, Key=probe, Body=b"s3dav check")
        client.delete_object(Bucket=share.bucket, Key=probe)
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: put/delete refused: {operator_problem(exc)}")
        return False
    _say(True, f"{where}: put and delete")
    return True


def check_keys(client, share: Share, where: str) -> bool | None:
    """File/folder clashes and keys hidden by the own endpoints; None when the scan failed."""
    progress = Progress()
    try:
        reserved = RESERVED_NAMES if share.path == "/" else ()
        clashes, seen, hidden = scan_clashes(client, share.bucket, share.prefix, progress, reserved)
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: key scan failed: {operator_problem(exc)}")
        return None
    finally:
        progress.done()
    ok = True
    if clashes:
        _say(
            False,
            f"{where}: {len(clashes)} name(s) are both a file and a folder "
            f"(the folder is shown): {', '.join(clashes[:10])}",
        )
        ok = False
    else:
        _say(True, f"{where}: {seen} keys, no file/folder name clashes")
    if seen == 0 and share.prefix:
        _warn(
            f"{where}: no keys under the prefix {share.prefix!r}: a typo in the prefix?"
            " (fine for a new, empty share)"
        )
    if hidden:
        _say(
            False,
            f"{where}: {', '.join(hidden)} exist(s) in the bucket but GET there answers the"
            " gateway's own endpoint; mount this share under a path (e.g. /files)",
        )
        ok = False
    return ok


def check_stale_uploads(client, share: Share, where: str) -> bool:
    """No multipart upload under the prefix is older than a day."""
    try:
        uploads = client.list_multipart_uploads(Bucket=share.bucket, Prefix=share.prefix)
    except (ClientError, BotoCoreError) as exc:
        _say(False, f"{where}: cannot list multipart uploads: {operator_problem(exc)}")
        return False
    now = time.time()
    stale = [
        u
        for u in uploads.get("Uploads", []) or []
        if now - u["Initiated"].timestamp() > STALE_UPLOAD_AGE
    ]
    if stale:
        _say(False, f"{where}: {len(stale)} stale multipart upload(s) older than a day")
        return False
    _say(True, f"{where}: no stale multipart uploads")
    return True
