"""A longer soak than tests/faults/test_soak.py: many clients, optionally with S3 faults.

    PYTHONPATH=$PWD python benchmarks/soak.py --clients 24 --ops 200 --minutes 10 --fault-rate 0.2

Starts moto's server, optionally the fault proxy (tests/support/faultproxy.py) in front of
it, and a real `s3dav serve`, all on 127.0.0.1; runs PUT/GET/PROPFIND from many
clients on overlapping paths; then checks every object in S3. Prints the figures:
operations, faults injected, failed requests, objects lost or corrupted, and the
gateway's memory and threads before and after.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.faultproxy import FaultProxy  # noqa: E402
from tests.support.helpers import TEST_ENV, Gateway, MotoServer  # noqa: E402
from tests.support.soakload import check_store, proc_figures, run_soak  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=24)
    ap.add_argument("--ops", type=int, default=200, help="operations per client")
    ap.add_argument("--minutes", type=float, default=10.0, help="time limit")
    ap.add_argument("--max-body", type=int, default=2_000_000)
    ap.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of S3 requests answered 503/500 or reset",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s3dav-soak-"))
    moto = MotoServer(work)
    proxy = None
    gw = None
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        bucket = f"soak-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        endpoint = moto.url
        if args.fault_rate > 0:
            proxy = FaultProxy(moto.url)
            endpoint = proxy.url
        gw = Gateway(
            work / "gw",
            {
                "s3": {"endpoint_url": endpoint, "max_attempts": 8},
                "shares": [{"path": "/", "bucket": bucket}],
            },
        )
        if proxy:
            proxy.error_rate = args.fault_rate * 0.75
            proxy.reset_rate = args.fault_rate * 0.25
        rss0, threads0 = proc_figures(gw.pid)
        result = run_soak(
            gw.url,
            clients=args.clients,
            ops_per_client=args.ops,
            max_seconds=args.minutes * 60,
            max_body=args.max_body,
        )
        rss1, threads1 = proc_figures(gw.pid)
        if proxy:
            proxy.reset_faults()
        problems = check_store(result, s3, bucket, gw.url)
        print(
            f"clients: {args.clients}, operations: {sum(result.ops.values())} "
            f"{dict(result.ops)} in {result.seconds:.1f}s"
        )
        print(f"bytes: {result.bytes_up / 1e6:.1f} MB up, {result.bytes_down / 1e6:.1f} MB down")
        if proxy:
            print(
                f"faults injected: {proxy.injected()} {dict(proxy.faults)} "
                f"in {proxy.requests} S3 requests"
            )
        print(f"failed requests: {len(result.failures)}")
        for f in result.failures[:10]:
            print("  ", f)
        print(f"objects checked: {len(result.completed)}, lost or corrupted: {len(problems)}")
        for p in problems[:10]:
            print("  ", p)
        print(
            f"gateway RSS: {rss0 // 1024} -> {rss1 // 1024} MiB; threads: {threads0} -> {threads1}"
        )
        return 1 if result.failures or problems else 0
    finally:
        if gw:
            gw.stop()
        if proxy:
            proxy.stop()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
