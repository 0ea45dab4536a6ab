"""ListingCache's bound on members in all (cache.listing_entries), oldest listings first."""

from __future__ import annotations

from s3dav.store.listing import DirInfo, FileInfo, Listing
from s3dav.store.listingcache import ListingCache


def folder(key: str, files: int, dirs: int = 0) -> Listing:
    listing = Listing(dir_key=key)
    for i in range(files):
        listing.files[f"f{i}"] = FileInfo(key=f"{key}f{i}", size=1, etag="e", last_modified=0.0)
    for i in range(dirs):
        listing.dirs[f"d{i}"] = DirInfo(key=f"{key}d{i}/")
    return listing


def test_members_in_all_stay_below_the_bound_oldest_dropped_first():
    cache = ListingCache(ttl=300, max_members=100)
    cache.put(folder("a/", 39))  # 40 with the folder itself
    cache.put(folder("b/", 29, dirs=10))
    assert cache.cached_members == 80
    cache.put(folder("c/", 39))  # 120 > 100: a/ (stored first) goes
    assert cache.get("a/") is None
    assert cache.get("b/") is not None and cache.get("c/") is not None
    assert cache.cached_members == 80


def test_a_listing_stored_again_counts_once_and_becomes_the_newest():
    cache = ListingCache(ttl=300, max_members=100)
    cache.put(folder("a/", 39))
    cache.put(folder("b/", 39))
    cache.put(folder("a/", 39))  # again: now b/ is the oldest
    assert cache.cached_members == 80
    cache.put(folder("c/", 29))
    assert cache.get("b/") is None and cache.get("a/") is not None


def test_a_listing_above_the_bound_is_not_kept_and_drops_nothing():
    cache = ListingCache(ttl=300, max_members=100)
    cache.put(folder("a/", 9))
    cache.put(folder("huge/", 500))
    assert cache.get("huge/") is None
    assert cache.get("a/") is not None and cache.cached_members == 10


def test_invalidation_and_expiry_give_their_members_back():
    cache = ListingCache(ttl=300, max_members=100)
    cache.put(folder("a/", 9))
    cache.put(folder("a/b/", 9))
    cache.invalidate("a/b/")
    assert cache.cached_members == 10
    cache.invalidate_tree("a/")
    assert cache.cached_members == 0
    cache.put(folder("x/", 9))
    cache.invalidate()
    assert cache.cached_members == 0
    expired = ListingCache(ttl=0, max_members=100)
    stale = folder("x/", 9)
    stale.fetched_at -= 1
    expired.put(stale)
    assert expired.get("x/") is None and expired.cached_members == 0


def test_the_folder_count_bound_still_holds():
    cache = ListingCache(ttl=300, max_entries=2)
    for key in ("a/", "b/", "c/"):
        cache.put(folder(key, 1))
    assert cache.get("a/") is None and cache.cached_members == 4


def test_a_listing_in_flight_across_an_invalidation_is_not_served():
    """A LIST sent before a folder, a tree above it, or everything was invalidated
    lands stale: it is not served (the change it missed came after it was sent)."""
    for drop in (
        lambda c: c.invalidate("a/b/"),
        lambda c: c.invalidate_tree("a/"),
        lambda c: c.invalidate_tree(""),
        lambda c: c.invalidate(),
    ):
        cache = ListingCache(ttl=300)
        in_flight = folder("a/b/", 3)  # fetched_at: when its LIST was sent
        drop(cache)
        cache.put(in_flight)
        assert cache.get("a/b/") is None
        cache.put(folder("a/b/", 3))  # sent after the invalidation: served
        assert cache.get("a/b/") is not None
    other = ListingCache(ttl=300)
    sibling = folder("a/bc/", 1)
    other.invalidate_tree("a/b/")  # not a tree above a/bc/
    other.put(sibling)
    assert other.get("a/bc/") is not None
