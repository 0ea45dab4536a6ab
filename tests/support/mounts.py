"""Kernel mounts for client tests (s3fs-fuse), unmounted whatever happened."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.helpers import TEST_ENV, wait_until


def is_mounted(mnt: Path) -> bool:
    return any(
        line.split()[1] == str(mnt) for line in Path("/proc/mounts").read_text().splitlines()
    )


def unmount(mnt: Path) -> None:
    """Unmount, waiting for the client's final uploads (davfs2 uploads at unmount)."""
    if not is_mounted(mnt):
        return
    r = subprocess.run(["umount", str(mnt)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and is_mounted(mnt):
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


@contextmanager
def small_tmpfs(mnt: Path, size: str = "16m") -> Iterator[Path]:
    """A real file system of `size` at `mnt` (root only), unmounted afterwards."""
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill_disk(disk: Path) -> Path:
    """Take every free byte of the file system with one file; the file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1024 * 1024, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
    return filler


def mount_s3fs(moto_url: str, bucket: str, mnt: Path, workdir: Path) -> None:
    passwd = workdir / "s3fs.passwd"
    passwd.write_text(f"{TEST_ENV['AWS_ACCESS_KEY_ID']}:{TEST_ENV['AWS_SECRET_ACCESS_KEY']}\n")
    passwd.chmod(0o600)
    mnt.mkdir()
    r = subprocess.run(
        [
            "s3fs",
            bucket,
            str(mnt),
            "-o",
            f"url={moto_url}",
            "-o",
            "use_path_request_style",
            "-o",
            f"passwd_file={passwd}",
            "-o",
            "stat_cache_expire=1",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: is_mounted(mnt), 20), "s3fs did not mount"
