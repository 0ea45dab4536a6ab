"""Where a gateway keeps one store's caches: cache.dir/stores/<bucket>_<prefix>-<hash>/."""

from __future__ import annotations

from pathlib import Path


def store_dir(cache_dir: Path | str, bucket: str) -> Path:
    """The one store directory of `bucket` below `cache_dir` (asserts there is exactly one)."""
    found = [
        d
        for d in Path(cache_dir, "stores").iterdir()
        if (d / "IDENTITY").read_text().startswith(f"s3://{bucket}/")
    ]
    assert len(found) == 1, found
    return found[0]
