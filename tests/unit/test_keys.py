"""Unit tests of the pure path/key and listing logic (no S3)."""

from datetime import UTC, datetime

import pytest

from s3dav.store.keys import (
    BadPath,
    name_of_entry,
    normalize_prefix,
    parent_and_name,
    path_to_key,
)
from s3dav.store.listing import build_listing, etag_md5
from s3dav.store.objmeta import format_mtime, parse_mode, parse_mtime


def test_path_to_key_basic():
    assert path_to_key("/a/b.txt") == "a/b.txt"
    assert path_to_key("/a/b.txt", "users/ann/") == "users/ann/a/b.txt"
    assert path_to_key("/", "p/") == "p/"
    assert path_to_key("/a/", collection=True) == "a/"
    assert path_to_key("/a", "p/", collection=True) == "p/a/"


def test_path_to_key_nfc():
    nfd = "/cafe\u0301.txt"
    assert path_to_key(nfd) == "caf\u00e9.txt"


@pytest.mark.parametrize(
    "bad",
    ["/a/../b", "/..", "/./a", "/a//b", "//a", "/a\x00b", "/a\x01", "/a\\..\\b", "/a/./"],
)
def test_refused_paths(bad):
    with pytest.raises(BadPath):
        path_to_key(bad)


def test_key_length_limit():
    path_to_key("/" + "a" * 1024)
    with pytest.raises(BadPath):
        path_to_key("/" + "a" * 1025)
    with pytest.raises(BadPath):
        path_to_key("/" + "\u00e9" * 513)  # 1026 bytes in UTF-8


def test_prefix_and_parent():
    assert normalize_prefix("/users/ann") == "users/ann/"
    assert normalize_prefix("") == ""
    assert parent_and_name("a/b/c") == ("a/b/", "c")
    assert parent_and_name("a/b/") == ("a/", "b")
    assert parent_and_name("x") == ("", "x")


def test_name_of_entry():
    assert name_of_entry("") is None
    assert name_of_entry("f.txt") == ("f.txt", False)
    assert name_of_entry("d/") == ("d", True)
    assert name_of_entry("d/x") == ("d", True)
    assert name_of_entry("old_$folder$") == ("old", True)
    assert name_of_entry("_$folder$") == ("_$folder$", False)


def test_mtime_forms():
    assert parse_mtime("1700000000") == 1700000000
    assert parse_mtime("1700000000.5") == 1700000000.5
    assert parse_mtime("1700000000000") == 1700000000  # milliseconds
    assert parse_mtime("1700000000000000000") == 1700000000  # nanoseconds
    assert parse_mtime("junk") is None
    assert parse_mtime(None) is None
    assert format_mtime(1700000000.0) == "1700000000"
    assert format_mtime(1700000000.75) == "1700000000"
    assert parse_mode("16877") == 0o40755
    assert parse_mode("493") == 0o755
    assert parse_mode("x") is None


def _entry(key, size=1, etag="0" * 32):
    return {
        "Key": key,
        "Size": size,
        "ETag": f'"{etag}"',
        "LastModified": datetime(2024, 1, 1, tzinfo=UTC),
    }


def test_listing_all_four_folder_forms_and_clash():
    pages = [
        {
            "CommonPrefixes": [
                {"Prefix": "p/implicit/"},
                {"Prefix": "p/marker/"},
                {"Prefix": "p/both/"},
            ],
            "Contents": [
                _entry("p/", 0),  # the folder's own marker
                _entry("p/file.txt", 5),
                _entry("p/legacy_$folder$", 0),
                _entry("p/both", 3),  # a file and a folder of one name
            ],
        }
    ]
    listing = build_listing("p/", pages)
    assert set(listing.dirs) == {"implicit", "marker", "both", "legacy"}
    assert set(listing.files) == {"file.txt", "both"}  # the file is kept, shown by another name
    assert listing.names() == ["both", "both (file)", "file.txt", "implicit", "legacy", "marker"]
    assert listing.lookup("both") is listing.dirs["both"]
    assert listing.lookup("both (file)") is listing.files["both"]
    assert listing.own_marker is not None
    assert listing.clashes == ["both"]
    assert listing.files["file.txt"].size == 5


def test_etag_md5():
    assert etag_md5('"' + "a" * 32 + '"') == "a" * 32
    assert etag_md5("abc-3") is None
