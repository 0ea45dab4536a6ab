"""The rules of the versions folder alone: which versions it shows, their names, which
requests are refused (store/versions.py, dav/versions.py).

Against a gateway on moto's versioned buckets: tests/integration/test_versions.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3dav.config import ConfigError, build
from s3dav.dav.versions import destination_path, listed_for, place, refusal
from s3dav.store.versions import build_versions, next_page_args, split_ext, version_name

T0 = datetime(2026, 11, 30, 14, 2, 11, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, UTC)


def v(key, vid, seconds, etag="e", latest=False, size=1):
    return {"Key": key, "VersionId": vid, "LastModified": at(seconds), "ETag": f'"{etag}"',
            "Size": size, "IsLatest": latest}  # fmt: skip


def marker(key, vid, seconds, latest=True):
    return {"Key": key, "VersionId": vid, "LastModified": at(seconds), "IsLatest": latest}


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("report.pdf", "report (2026-11-30 14.02.11).pdf"),
        ("notes", "notes (2026-11-30 14.02.11)"),
        (".bashrc", ".bashrc (2026-11-30 14.02.11)"),
        ("x.tar.gz", "x.tar (2026-11-30 14.02.11).gz"),
    ],
)
def test_a_version_keeps_its_extension_and_shows_the_time_in_utc(name, shown):
    assert version_name(name, T0.timestamp() + 0.7) == shown
    assert shown.endswith(split_ext(name)[1])


def test_only_earlier_versions_and_deleted_files_are_shown():
    pages = [
        {
            "Versions": [
                v("d/a.txt", "a3", 30, "3", latest=True),
                v("d/a.txt", "a2", 20, "2"),
                v("d/a.txt", "a1", 10, "1"),
                v("d/gone.txt", "g1", 5, "g"),
                v("d/only.txt", "o1", 5, "o", latest=True),
                v("d/", "m1", 1, "m", latest=True),  # the folder's own marker
                v("d/sub_$folder$", "f1", 1, "f", latest=True),
            ],
            "DeleteMarkers": [marker("d/gone.txt", "gx", 9)],
            "CommonPrefixes": [{"Prefix": "d/sub/"}],
        }
    ]
    listing = build_versions("d/", pages)
    got = {name: (m.key, m.version_id) for name, m in listing.members.items()}
    assert got == {
        "a (2026-11-30 14.02.21).txt": ("d/a.txt", "a1"),
        "a (2026-11-30 14.02.31).txt": ("d/a.txt", "a2"),
        "gone (2026-11-30 14.02.16).txt": ("d/gone.txt", "g1"),
    }
    assert listing.names() == sorted(got)


def test_versions_within_one_second_are_numbered_oldest_first_and_keep_their_names():
    newest_first = [v("a.txt", f"id{n}", 0.1 * n, str(n)) for n in (3, 2, 1)]
    current = v("a.txt", "now", 5, "now", latest=True)
    before = build_versions("", [{"Versions": [current, *newest_first[1:]]}])
    after = build_versions("", [{"Versions": [current, *newest_first]}])
    names = {m.version_id: name for name, m in after.members.items()}
    assert names == {
        "id1": "a (2026-11-30 14.02.11).txt",
        "id2": "a (2026-11-30 14.02.11-2).txt",
        "id3": "a (2026-11-30 14.02.11-3).txt",
    }
    assert [after.members[n].version_id for n in after.names()] == ["id1", "id2", "id3"]
    for name, m in before.members.items():  # a newer version renames no older one
        assert names[m.version_id] == name


def test_a_version_with_the_bytes_of_the_next_newer_one_is_left_out():
    pages = [
        {
            "Versions": [
                v("a.txt", "self-copy", 30, "same", latest=True),  # e.g. a time change
                v("a.txt", "same-bytes", 20, "same"),
                v("a.txt", "older", 10, "old"),
                v("b.txt", "b2", 20, "b"),
                v("b.txt", "b1", 10, "b"),  # deleted, then rewritten with the same bytes
            ],
            "DeleteMarkers": [marker("b.txt", "bx", 15, latest=False), marker("b.txt", "by", 25)],
        }
    ]
    got = sorted(m.version_id for m in build_versions("", pages).members.values())
    assert got == ["b1", "b2", "older"]


def test_names_two_keys_would_share_are_told_apart_by_the_version_id():
    # Only odd names meet: here an NFC and an NFD key of one name (the NFC one wins it).
    pages = [{"Versions": [v("caf\u00e9", "abcdef0123", 0), v("cafe\u0301", "9876543210", 0)]}]
    names = sorted(build_versions("", pages).members)
    assert names == ["caf\u00e9 (2026-11-30 14.02.11)", "caf\u00e9 (2026-11-30 14.02.11) 98765432"]


def test_pages_continue_from_the_markers_s3_gives():
    assert next_page_args({"IsTruncated": False, "NextKeyMarker": "k"}) is None
    page = {"IsTruncated": True, "NextKeyMarker": "k", "NextVersionIdMarker": "v"}
    assert next_page_args(page) == {"KeyMarker": "k", "VersionIdMarker": "v"}
    assert next_page_args({"IsTruncated": True, "NextKeyMarker": "p/"}) == {"KeyMarker": "p/"}


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/docs/a.txt", None),
        ("/docs/.versions", "folder"),
        ("/docs/.versions/", "folder"),
        ("/.versions/a (2026-11-30 14.02.11).txt", "member"),
        ("/docs/.versions/x/y", "below"),
        ("/docs/.versionsX/y", None),
    ],
)
def test_place_of_a_path(path, where):
    assert place(path, ".versions") == where


@pytest.mark.parametrize(
    ("method", "path", "dest", "refused"),
    [
        ("GET", "/d/.versions/a.txt", "", False),
        ("PROPFIND", "/d/.versions/", "", False),
        ("COPY", "/d/.versions/a.txt", "/d/a.txt", False),  # a restore
        ("COPY", "/d/.versions/", "/e/", True),
        ("COPY", "/d/a.txt", "/d/.versions/a.txt", True),
        ("MOVE", "/d/a.txt", "/d/.versions/", True),
        ("MOVE", "/d/.versions/a.txt", "/d/a.txt", True),
        ("PUT", "/d/.versions/a.txt", "", True),
        ("DELETE", "/d/.versions/", "", True),
        ("MKCOL", "/d/.versions/", "", True),
        ("PROPPATCH", "/d/.versions/a.txt", "", True),
        ("LOCK", "/d/.versions/a.txt", "", True),
        ("PUT", "/d/a.txt", "", False),
        ("MOVE", "/d/a.txt", "/d/b.txt", False),
    ],
)
def test_what_is_refused(method, path, dest, refused):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    if dest:
        environ["HTTP_DESTINATION"] = "http://127.0.0.1:8080/share" + dest
    assert (refusal(environ, ".versions", "/share") is not None) is refused


def test_destination_path_below_the_share():
    assert destination_path("http://h/share/a%20b/c", "/share") == "/a b/c"
    assert destination_path("/share", "/share") == "/"
    assert destination_path("http://h/other/x", "/share") is None
    assert destination_path("http://h/x/y", "") == "/x/y"


@pytest.mark.parametrize(
    ("agent", "listed"),
    [
        ("WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)", True),
        ("Microsoft-WebDAV-MiniRedir/10.0.19043", True),
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/120", True),
        ("rclone/v1.60.1", False),
        ("davfs2/1.6.1 neon/0.32.5", False),
        ("", False),
    ],
)
def test_listed_for_file_managers_browsing_only(agent, listed):
    for method in ("PROPFIND", "GET"):
        assert listed_for({"REQUEST_METHOD": method, "HTTP_USER_AGENT": agent}) is listed
    for method in ("COPY", "MOVE", "DELETE"):  # a walk of the tree never meets it
        assert not listed_for({"REQUEST_METHOD": method, "HTTP_USER_AGENT": agent})


@pytest.mark.parametrize(("value", "ok"), [(".versions", True), ("", True), ("a/b", False),
                                           ("..", False), ("x\x01", False)])  # fmt: skip
def test_versions_folder_setting(value, ok):
    raw = {"shares": [{"path": "/", "bucket": "b", "versions_folder": value}]}
    if ok:
        assert build(raw).shares[0].versions_folder == (value or None)
    else:
        with pytest.raises(ConfigError, match="versions_folder"):
            build(raw)
