"""The benchmark's lean moto listing pages exactly as moto's own ListObjects(V2) does."""

from __future__ import annotations

import random
import uuid

import pytest
from moto.s3.models import S3Backend
from moto.s3.utils import _VersionedKeyStore

from benchmarks import motoserver

PATCHED = {
    S3Backend: ("list_objects", "list_objects_v2"),
    _VersionedKeyStore: ("__setitem__", "setlist", "pop", "__delitem__", "clear"),
}


def names(items) -> list[str]:
    return [i if isinstance(i, str) else i.name for i in items]


def walk_v2(backend, bucket, prefix, delimiter, start_after, max_keys) -> list[list[str]]:
    """Every page of a listing, followed through its continuation tokens."""
    pages, token = [], None
    while True:
        items, truncated, token = backend.list_objects_v2(
            bucket, prefix, delimiter, token, None if token else start_after, max_keys
        )
        pages.append(names(items))
        if not truncated or len(pages) > 500:
            return pages


def walk_v1(backend, bucket, prefix, delimiter, max_keys) -> list[tuple[list[str], list[str]]]:
    pages, marker = [], None
    while True:
        keys, folders, truncated, marker = backend.list_objects(
            bucket, prefix, delimiter, marker, max_keys
        )
        pages.append((names(keys), sorted(folders)))
        if not truncated or len(pages) > 500:
            return pages


@pytest.fixture
def backend(monkeypatch):
    for cls, attrs in PATCHED.items():
        for attr in attrs:  # recorded, so that teardown puts moto's own back
            monkeypatch.setattr(cls, attr, getattr(cls, attr))
    b = S3Backend("us-east-1", "123456789012")
    b.bucket_name = f"bench-lean-{uuid.uuid4().hex[:8]}"
    b.create_bucket(b.bucket_name, "us-east-1")
    rng = random.Random(7)
    parts = ["a", "b", "ab", "a b", "é", "z", "IMG_1", "x.y"]
    for _ in range(400):
        key = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        key += rng.choice(["", "/", "-1", ".jpg"])
        b.put_object(b.bucket_name, key, b"x")
    return b


CASES = [
    (prefix, delimiter, after, max_keys)
    for prefix in [None, "a", "a/", "ab/", "é/", "nothing/"]
    for delimiter in [None, "/"]
    for after in [None, "a/b", "ab/z", "a"]
    for max_keys in [1, 7, 1000]
]


def test_lean_listing_pages_as_moto_does(backend):
    bucket = backend.get_bucket(backend.bucket_name)
    want_v2 = {c: walk_v2(backend, bucket, *c) for c in CASES}
    want_v1 = {(p, d, m): walk_v1(backend, bucket, p, d, m) for p, d, _, m in CASES}
    motoserver.track_key_names()
    motoserver.lean_listing()
    for case, want in want_v2.items():
        assert walk_v2(backend, bucket, *case) == want, case
    for (p, d, m), want in want_v1.items():
        if d is None:  # moto's own v1 never pages its folders; S3 (and the lean one) does
            assert walk_v1(backend, bucket, p, d, m) == want, (p, d, m)
    # v1 with folders: every key and folder once, in S3's order
    pages = walk_v1(backend, bucket, "a/", "/", 3)
    got = [n for keys, folders in pages for n in keys + folders]
    flat = walk_v2(backend, bucket, "a/", "/", None, 1000)[0]
    assert sorted(got) == flat and len(got) == len(set(got))


def test_lean_listing_sees_keys_come_and_go(backend):
    motoserver.track_key_names()
    motoserver.lean_listing()
    bucket = backend.get_bucket(backend.bucket_name)
    before = walk_v2(backend, bucket, "new/", None, None, 1000)
    assert before == [[]]
    backend.put_object(backend.bucket_name, "new/1", b"x")
    backend.put_object(backend.bucket_name, "new/2", b"x")
    assert walk_v2(backend, bucket, "new/", None, None, 1000) == [["new/1", "new/2"]]
    backend.delete_object(backend.bucket_name, "new/1")
    assert walk_v2(backend, bucket, "new/", None, None, 1000) == [["new/2"]]
