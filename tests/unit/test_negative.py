"""store/negative.py's pure parts: which names are checked, under which spellings, how
often, and how a listing learns the answer (the S3 side: tests/integration/test_negative_ttl.py)."""

from __future__ import annotations

from s3dav.store.listing import DirInfo, FileInfo, Listing
from s3dav.store.negative import CheckMemory, is_free_probe, learnt, spellings
from tests.support.helpers import nfc, nfd


def test_free_probes():
    for name in ("._a.txt", "._.", ".DS_Store", ".hidden", ".localized", "Desktop.ini"):
        assert is_free_probe(name), name
    for name in ("a.txt", "DS_Store", "hidden", "_a", "photos"):
        assert not is_free_probe(name), name


def test_spellings():
    assert spellings("a.txt") == ["a.txt"]
    assert spellings(nfc("café")) == [nfc("café"), nfd("café")]
    assert spellings("doc (file).txt") == ["doc (file).txt", "doc.txt"]
    assert spellings("x (file 2)") == ["x (file 2)", "x"]
    assert spellings(nfc("été (NFD)")) == [
        nfc("été (NFD)"),
        nfd("été (NFD)"),
        nfc("été"),
        nfd("été"),
    ]
    assert spellings("a (other).txt") == ["a (other).txt"]


def test_memory_checks_a_path_once_per_ttl():
    memory = CheckMemory(3.0)
    assert not memory.claim("d/x", listed_at=100.0, now=102.9)  # the listing counts as a check
    assert memory.claim("d/x", listed_at=100.0, now=103.0)
    assert not memory.claim("d/x", listed_at=100.0, now=105.9)
    assert memory.claim("d/y", listed_at=100.0, now=105.9)  # per path
    assert memory.claim("d/x", listed_at=100.0, now=106.0)


def test_memory_off_at_zero():
    assert not CheckMemory(0.0).claim("d/x", listed_at=0.0, now=1e9)


def test_memory_is_bounded():
    memory = CheckMemory(3.0, max_entries=100)
    for i in range(1000):
        assert memory.claim(f"d/{i}", listed_at=0.0, now=10.0)
    assert len(memory) == 100
    assert not memory.claim("d/999", listed_at=0.0, now=10.0)  # the newest are kept
    assert memory.claim("d/new", listed_at=0.0, now=20.0)
    assert len(memory) == 1  # entries older than the ttl bar nothing: dropped


def _file(key: str) -> FileInfo:
    return FileInfo(key=key, size=1, etag="e", last_modified=1.0)


def test_learnt_sets_and_removes_only_the_names_checked():
    raw = Listing(dir_key="d/", files={"a": _file("d/a"), "x": _file("d/x")}, fetched_at=5.0)
    assert learnt(raw, {"a": _file("d/a")}, {"a": None}) is None  # nothing new
    new = learnt(raw, {"x": None, "n": _file("d/n")}, {"n": DirInfo("d/n/"), "x": None})
    assert new is not None and new is not raw
    assert sorted(new.files) == ["a", "n"] and sorted(new.dirs) == ["n"]
    assert new.clashes == ["n"] and new.fetched_at == 5.0
    assert new.names() == ["a", "n", "n (file)"]
    assert sorted(raw.files) == ["a", "x"]  # the cached one is never changed
