"""How many files a second `rclone sync` re-sends: s3dav vs `rclone serve webdav` over S3.

Both servers front a bucket on a local moto server; the same tree is synced twice
with rclone's WebDAV backend (vendor owncloud). Prints the transfer counts.

    python benchmarks/rclone_resync.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.helpers import TEST_ENV, Gateway, MotoServer, free_port, stop_process, wait_http  # noqa: E402
from tests.support.rclone import rclone, transferred  # noqa: E402


def make_tree(root: Path, n: int) -> None:
    for i in range(n):
        path = root / f"d{i % 5}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i))
        os.utime(path, (1_600_000_000 + i, 1_600_000_000 + i))


def sync_twice(tmp: Path, src: Path, url: str) -> tuple[int, int]:
    dst = f":webdav,url='{url}/',vendor=owncloud:dst"
    first = rclone(tmp, "sync", str(src), dst)
    second = rclone(tmp, "sync", str(src), dst)
    if first.returncode or second.returncode:
        raise SystemExit(f"rclone failed:\n{first.stderr[-1500:]}\n{second.stderr[-1500:]}")
    return transferred(first.stderr), transferred(second.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="s3dav-resync-"))
    moto = MotoServer(tmp)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    buckets = [f"b-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for b in buckets:
        s3.create_bucket(Bucket=b)
    src = tmp / "src"
    make_tree(src, args.files)
    gw = Gateway(
        tmp / "gw",
        {"s3": {"endpoint_url": moto.url}, "shares": [{"path": "/", "bucket": buckets[0]}]},
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    serve = subprocess.Popen(
        [
            "rclone",
            "--config",
            str(tmp / "rclone.conf"),
            "serve",
            "webdav",
            f":s3,provider=Other,endpoint='{moto.url}',access_key_id=testing,"
            f"secret_access_key=testing:{buckets[1]}",
            "--addr",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (tmp / "rclone.conf").touch()
        wait_http(f"http://127.0.0.1:{port}/", proc=serve)
        for name, url in (("s3dav", gw.url), ("rclone serve webdav", f"http://127.0.0.1:{port}")):
            first, second = sync_twice(tmp, src, url)
            print(f"{name:22s} files={args.files} first sync={first} second sync={second}")
    finally:
        stop_process(serve)
        gw.stop()
        moto.stop()


if __name__ == "__main__":
    main()
