"""Unit tests of the read-your-writes overlay and per-key commit locks (no S3)."""

import threading
import time

from s3dav.store.keylocks import KeyLocks
from s3dav.store.listing import FileInfo, Listing
from s3dav.store.overlay import Overlay


def _info(key, etag, t=None):
    return FileInfo(key=key, size=1, etag=etag, last_modified=t or time.time())


def test_own_write_and_delete_show_in_a_stale_listing():
    ov = Overlay()
    stale = Listing(dir_key="d/", files={"old": _info("d/old", "e0", 1000.0)})
    ov.put_file(_info("d/new", "e1"))
    ov.delete_file("d/old")
    merged = ov.apply(stale)
    assert set(merged.files) == {"new"}


def test_put_file_if_never_undoes_a_newer_upload():
    ov = Overlay()
    ov.put_file(_info("k", "first"))
    ov.put_file(_info("k", "second"))  # a later commit of the same key
    assert not ov.put_file_if(_info("k", "first-after-md5-copy"), expect_etag="first")
    merged = ov.apply(Listing(dir_key=""))
    assert merged.files["k"].etag == "second"
    assert ov.put_file_if(_info("k", "second-after-md5-copy"), expect_etag="second")
    assert ov.apply(Listing(dir_key="")).files["k"].etag == "second-after-md5-copy"


def test_deleted_tree_hides_lagging_entries_until_rewritten():
    ov = Overlay()
    lagging = Listing(dir_key="", dirs={}, files={})
    from s3dav.store.listing import DirInfo

    lagging.dirs["gone"] = DirInfo(key="gone/")
    ov.delete_tree("gone/")
    assert "gone" not in ov.apply(lagging).dirs
    ov.put_dir("gone/")
    assert "gone" in ov.apply(lagging).dirs


def test_key_locks_serialise_one_key_and_clean_up():
    locks = KeyLocks()
    order = []

    def worker(n):
        with locks.lock("k"):
            order.append(("in", n))
            time.sleep(0.01)
            order.append(("out", n))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(0, len(order), 2):  # never two holders at once
        assert order[i][0] == "in" and order[i + 1] == ("out", order[i][1])
    assert locks._locks == {}


def test_one_name_lookup_agrees_with_the_whole_merge():
    """apply(only=name), used by every single-path lookup, gives that name's full-merge entry."""
    from s3dav.store.listing import DirInfo

    ov = Overlay()
    old = 1000.0
    listing = Listing(
        dir_key="d/",
        files={
            n: _info(f"d/{n}", "s3", old) for n in ("kept", "deleted", "rewritten", "becomes-dir")
        },
        dirs={"sub": DirInfo(key="d/sub/"), "gone": DirInfo(key="d/gone/")},
        own_marker=_info("d/", "m", old),
    )
    ov.put_file(_info("d/new", "e1"))
    ov.put_file(_info("d/rewritten", "e2"))
    ov.delete_file("d/deleted")
    ov.put_file(_info("d/becomes-dir/x", "e3"))  # a file below the name: the folder wins
    ov.put_file(_info("d/deep/er/y", "e4"))
    ov.put_dir("d/made/")
    ov.delete_tree("d/gone/")
    ov.put_file(_info("other/new", "e5"))  # another folder: never shown here
    whole = ov.apply(listing)
    names = set(whole.files) | set(whole.dirs)
    assert names == {"kept", "rewritten", "becomes-dir", "new", "deep", "made", "sub"}
    for name in names | {"deleted", "gone", "missing", "other"}:
        one = ov.apply(listing, only=name)
        assert one.files.get(name) == whole.files.get(name), name
        assert one.dirs.get(name) == whole.dirs.get(name), name
        assert set(one.files) | set(one.dirs) <= {name}
        assert one.own_marker == whole.own_marker


def test_expired_entries_go_and_a_rewrite_renews_an_entry():
    ov = Overlay(ttl=1.0)
    ov.put_file(_info("a", "1"))
    ov.put_file(_info("b", "1"))
    ov.put_dir("c/")
    time.sleep(0.6)
    ov.put_file(_info("a", "2"))  # renewed: now the newest entry
    time.sleep(0.6)
    merged = ov.apply(Listing(dir_key=""))
    assert set(merged.files) == {"a"} and merged.files["a"].etag == "2"
    assert not merged.dirs
    time.sleep(0.6)
    assert not ov.apply(Listing(dir_key="")).files


def test_merged_listing_is_reused_until_the_listing_or_the_overlay_changes():
    ov = Overlay()
    raw = Listing(dir_key="d/", files={"a": _info("d/a", "e0", 1000.0)})
    ov.put_file(_info("d/b", "e1"))
    first = ov.apply(raw)
    assert ov.apply(raw) is first  # nothing changed: the same merge
    ov.put_file(_info("d/c", "e2"))
    second = ov.apply(raw)
    assert second is not first and set(second.files) == {"a", "b", "c"}
    refetched = Listing(dir_key="d/", files=dict(raw.files))
    assert ov.apply(refetched) is not second  # a new LIST result is merged afresh
    ov.delete_file("d/a")
    assert set(ov.apply(refetched).files) == {"b", "c"}


def test_expired_entries_leave_the_merged_listing():
    ov = Overlay(ttl=0.05)
    raw = Listing(dir_key="d/")
    ov.put_file(_info("d/new", "e1"))
    assert set(ov.apply(raw).files) == {"new"}
    time.sleep(0.1)
    assert set(ov.apply(raw).files) == set()  # expired: S3 is trusted again
    ov.put_dir("d/sub/")
    assert set(ov.apply(raw).dirs) == {"sub"}
    time.sleep(0.1)
    assert ov.apply(raw).dirs == {}
