"""Memory per cached listing entry: what `cache.listing_entries` bounds (docs/caching.md).

Builds the Listing of a folder of N objects from ListObjectsV2-shaped pages (as
boto3 gives them: datetime LastModified, quoted ETag), fills in the metadata a
HEAD adds (mtime, mode, content type), computes the shown names a PROPFIND asks
for, and stores it in a ListingCache; tracemalloc measures what stays allocated
once the pages are gone.

Run: python -m benchmarks.listing_memory [--entries 100000] [--name-length 24]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import tracemalloc
from datetime import UTC, datetime, timedelta

from s3dav.store.listing import build_listing
from s3dav.store.listingcache import ListingCache

FOLDER = "photos/2024/"


def pages_of(n: int, name_length: int) -> list[dict]:
    """n objects, 1000 a page, names of `name_length` characters."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    pages: list[dict] = []
    for start in range(0, n, 1000):
        contents = []
        for i in range(start, min(n, start + 1000)):
            name = f"IMG_{i:08d}_".ljust(name_length, "x")[: max(name_length, 14)] + ".jpg"
            etag = hashlib.md5(name.encode()).hexdigest()
            contents.append(
                {
                    "Key": FOLDER + name,
                    "LastModified": when + timedelta(seconds=i),
                    "ETag": f'"{etag}"',
                    "Size": 3_000_000 + i,
                    "StorageClass": "STANDARD",
                }
            )
        pages.append({"Contents": contents, "CommonPrefixes": []})
    return pages


def measure(n: int, name_length: int) -> tuple[int, float]:
    """(bytes held by a cached listing of n objects, bytes per entry)."""
    pages = pages_of(n, name_length)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    listing = build_listing(FOLDER, pages)
    listing.files = {
        name: info.with_meta(mtime=info.last_modified, mode=0o100644, content_type="image/jpeg")
        for name, info in listing.files.items()
    }
    listing.display()  # what a PROPFIND computes once per listing
    cache = ListingCache(ttl=30)
    cache.put(listing)
    del pages, listing
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert cache.cached_members == n + 1
    return held, held / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--name-length", type=int, default=24)
    args = ap.parse_args()
    held, per = measure(args.entries, args.name_length)
    print(
        f"{args.entries} entries (names of {args.name_length}+4 characters): "
        f"{held / 1024**2:.1f} MiB held, {per:.0f} bytes per entry"
    )


if __name__ == "__main__":
    main()
