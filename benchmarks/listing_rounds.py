"""Round trips of a big folder's LIST, page by page and in parallel key ranges.

The figures of docs/caching.md, *Big folders*: s3dav's ParallelLister against an
in-memory ListObjectsV2 (tests/support/memlist.py) whose every request sleeps one
simulated round trip, so that what is measured is the listing's critical path, not
moto's CPU (its LIST walks the whole bucket) nor botocore's parsing.

Run: python -m benchmarks.listing_rounds [--rtt-ms 300] [--concurrency 16] [--long]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from concurrent.futures import ThreadPoolExecutor

from s3dav.store.parallellist import ParallelLister
from tests.support.memlist import MemoryBucket


def folders(long: bool) -> dict[str, list[str]]:
    n = 100_000 if long else 20_000
    dated = [
        f"2024-{m:02d}-{d:02d}_{i:04d}.jpg"
        for m in range(1, 13)
        for d in range(1, 29)
        for i in range(math.ceil(n / 336))
    ]
    return {
        f"{n} numbered": [f"f{i:06d}.txt" for i in range(n)],
        f"{n} SHA-1": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(n)],
        f"{n} IMG_": [f"IMG_{i:04d}.JPG" for i in range(n)],
        f"{n} dated": dated[:n],
    }


def rounds(keys: list[str], rtt: float, concurrency: int, after: int, pool) -> tuple[float, int]:
    """(round trips until every page is in, LIST requests)."""
    bucket = MemoryBucket(["g/" + k for k in keys])
    bucket.entries("g/", True)  # built once, outside the timing
    real = bucket.page

    def page(*args, **kw):
        time.sleep(rtt)
        return real(*args, **kw)

    bucket.page = page
    lister = ParallelLister(
        pool.submit, concurrency=concurrency, sequential=after, max_ranges=8 * concurrency
    )
    started = time.monotonic()
    pages = lister.pages(bucket.fetch("g/"), "g/")
    took = time.monotonic() - started
    assert sum(len(p["Contents"]) for p in pages) == len(keys)
    return took / rtt, len(bucket.calls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtt-ms", type=float, default=300)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--long", action="store_true", help="folders of 100,000 (else 20,000)")
    args = ap.parse_args()
    rtt = args.rtt_ms / 1000
    print(f"{'folder':16} {'sequential':>10} {'after 3':>8} {'after 1':>8} {'LISTs':>6}")
    with ThreadPoolExecutor(2 * args.concurrency) as pool:
        for name, keys in folders(args.long).items():
            three, lists = rounds(keys, rtt, args.concurrency, 3, pool)
            one, _ = rounds(keys, rtt, args.concurrency, 1, pool)
            pages = math.ceil(len(keys) / 1000)
            print(f"{name:16} {pages:>10} {three:>8.1f} {one:>8.1f} {lists:>6}")


if __name__ == "__main__":
    main()
