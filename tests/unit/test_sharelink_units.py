"""Pure parts of share links and direct downloads (issue 17): tokens, forms, paths, params."""

from __future__ import annotations

import io

import pytest

from s3dav.config import ConfigError, build
from s3dav.dav.directget import DirectRule, presign_params, wants_redirect
from s3dav.server.formupload import ChunkReader, FormError, FormFile, boundary_of, filename_of
from s3dav.server.linkstore import Link, LinkStore, TooManyLinks
from s3dav.server.linktokens import (
    BadToken,
    Expired,
    LinkSpec,
    csrf_ok,
    csrf_token,
    link_expiry,
    make_token,
    new_id,
    parse_expiry,
    password_proof,
    proof_ok,
    same_origin,
    verify_token,
)
from s3dav.server.sharelinks import join_below, share_of

KEY = b"k" * 32
SPEC = LinkSpec(new_id(), "id-text", "/ann", "/dir/a.txt", "file", 2_000_000_000)


def test_token_verifies_only_for_its_spec_and_key():
    token = make_token(KEY, SPEC)
    assert verify_token(KEY, token, SPEC, now=1_000_000_000) == SPEC
    for other in (
        LinkSpec(SPEC.id, SPEC.store, SPEC.share, "/dir/b.txt", "file", SPEC.expires),
        LinkSpec(SPEC.id, SPEC.store, "/bob", SPEC.path, "file", SPEC.expires),
        LinkSpec(SPEC.id, "other-store", SPEC.share, SPEC.path, "file", SPEC.expires),
        LinkSpec(SPEC.id, SPEC.store, SPEC.share, SPEC.path, "folder", SPEC.expires),
        LinkSpec(SPEC.id, SPEC.store, SPEC.share, SPEC.path, "file", SPEC.expires + 1),
        LinkSpec(new_id(), SPEC.store, SPEC.share, SPEC.path, "file", SPEC.expires),
        None,
    ):
        with pytest.raises(BadToken):
            verify_token(KEY, token, other, now=1_000_000_000)
    with pytest.raises(BadToken):
        verify_token(b"x" * 32, token, SPEC, now=1_000_000_000)
    for bad in ("", "x", token + "x", token.replace(".", "/"), token[:-1] + "!"):
        with pytest.raises(BadToken):
            verify_token(KEY, bad, SPEC, now=1_000_000_000)


def test_token_expires():
    token = make_token(KEY, SPEC)
    with pytest.raises(Expired):
        verify_token(KEY, token, SPEC, now=SPEC.expires)
    assert verify_token(KEY, token, SPEC, now=SPEC.expires - 1) == SPEC


def test_csrf_and_password_proofs():
    token = csrf_token(KEY, "ann", "hash1")
    assert csrf_ok(KEY, "ann", "hash1", token)
    assert not csrf_ok(KEY, "bob", "hash1", token)
    assert not csrf_ok(KEY, "ann", "hash2", token)  # a new password: old forms fail
    assert not csrf_ok(KEY, "ann", "hash1", None) and not csrf_ok(KEY, "ann", "hash1", "")
    proof = password_proof(KEY, SPEC.id, "pw-hash")
    assert proof_ok(KEY, SPEC.id, "pw-hash", proof)
    assert not proof_ok(KEY, new_id(), "pw-hash", proof)


def test_same_origin():
    own = {"http://127.0.0.1:8080"}
    assert same_origin("http://127.0.0.1:8080", None, own)
    assert same_origin(None, "http://127.0.0.1:8080/_s3dav/links?x", own)
    assert not same_origin("null", None, own)
    assert not same_origin("http://127.0.0.1:8081", None, own)
    assert not same_origin(None, "http://127.0.0.1:8080.evil/x", own)
    assert not same_origin(None, None, own)


def test_expiry_parsing_and_bounds():
    assert parse_expiry("30m") == 1800 and parse_expiry("2") == 2 * 86400
    assert parse_expiry("12h") == 43200 and parse_expiry("1w") == 604800
    for bad in ("", "soon", "-1d", "1y", "1e9"):
        with pytest.raises(ValueError):
            parse_expiry(bad)
    assert link_expiry(100, None, 3600) == 3700
    with pytest.raises(ValueError):
        link_expiry(100, 3601, 3600)
    with pytest.raises(ValueError):
        link_expiry(100, 0, 3600)


def test_share_of_and_join_below():
    shares = ["/ann", "/ann/deep", "/pub"]
    assert share_of("/ann/a.txt", shares) == ("/ann", "/a.txt")
    assert share_of("/ann", shares) == ("/ann", "/")
    assert share_of("/ann/deep/x", shares) == ("/ann/deep", "/x")
    assert share_of("/ANN/a.txt", shares) == ("/ann", "/a.txt")
    assert share_of("/anna/x", shares) is None
    assert share_of("/x", ["/"]) == ("/", "/x")
    assert join_below("/dir", "/sub/c.txt") == "/dir/sub/c.txt"
    assert join_below("/", "/") == "/"


def test_link_store_bounds_and_revocation(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite3", max_per_user=2)
    live = [LinkSpec(new_id(), "s", "/ann", "/a", "file", 500) for _ in range(2)]
    for spec in live:
        store.add(Link(spec, "ann", 1, ""), now=100)
    with pytest.raises(TooManyLinks):
        store.add(Link(LinkSpec(new_id(), "s", "/ann", "/a", "file", 500), "ann", 1, ""), now=100)
    assert len(store.of_user("ann", now=100)) == 2
    assert store.of_user("ann", now=500) == []  # expired rows are purged
    store.add(Link(live[0], "ann", 1, ""), now=400)
    assert not store.revoke(live[0].id, "bob") and store.get(live[0].id) is not None
    assert store.revoke(live[0].id, "ann") and store.get(live[0].id) is None
    store.close()


BOUNDARY = b"----x"


def form(*parts: bytes) -> bytes:
    return b"".join(b"--" + BOUNDARY + b"\r\n" + p + b"\r\n" for p in parts) + (
        b"--" + BOUNDARY + b"--\r\n"
    )


def read_file(body: bytes, piece: int = 3) -> tuple[str, bytes]:
    stream = io.BytesIO(body)
    reader = FormFile(lambda n: stream.read(min(n, piece)), BOUNDARY)
    name = reader.open()
    return name, b"".join(reader.chunks())


def test_form_file_streams_the_first_file():
    data = b"line\r\n--" + BOUNDARY[:-1] + b"\r\nend"  # almost a boundary
    body = form(
        b'Content-Disposition: form-data; name="note"\r\n\r\nhello',
        b'Content-Disposition: form-data; name="file"; filename="C:\\\\fake\\\\x.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + data,
    )
    assert read_file(body) == ("x.txt", data)
    assert read_file(body, piece=100000) == ("x.txt", data)


def test_form_file_refusals():
    with pytest.raises(FormError):
        read_file(form(b'Content-Disposition: form-data; name="a"\r\n\r\nno file'))
    cut = form(b'Content-Disposition: form-data; name="f"; filename="a"\r\n\r\ndata')[:-20]
    with pytest.raises(FormError):
        read_file(cut)
    with pytest.raises(FormError):
        boundary_of("application/x-www-form-urlencoded")
    assert boundary_of('multipart/form-data; boundary="ab c"') == b"ab c"
    assert filename_of(b'Content-Disposition: form-data; name="f"') is None


def test_chunk_reader():
    reader = ChunkReader(iter([b"ab", b"", b"cde"]))
    assert reader.read(4) == b"abcd" and reader.read(10) == b"e" and reader.read(1) == b""


def test_presign_params_keep_the_safety_rules():
    rule = DirectRule(threshold=10, expiry=60)
    plain = presign_params("b", "k/x.bin", "x.bin", "application/octet-stream", rule)
    assert plain == {
        "Bucket": "b",
        "Key": "k/x.bin",
        "ResponseContentType": "application/octet-stream",
    }
    for name, ctype in (("x.html", "text/plain"), ("x.bin", "text/html"), ("x.svg", "image/png")):
        params = presign_params("b", "k", name, ctype, rule)
        assert params["ResponseContentDisposition"].startswith("attachment;")
    inline = DirectRule(threshold=10, expiry=60, inline_active=True)
    assert "ResponseContentDisposition" not in presign_params(
        "b", "k", "x.html", "text/html", inline
    )
    assert wants_redirect("GET", 10, rule) and not wants_redirect("GET", 9, rule)
    assert not wants_redirect("HEAD", 10, rule) and not wants_redirect("GET", 10, None)


def test_config_of_links_and_downloads():
    share = {"path": "/", "bucket": "b"}
    cfg = build({"shares": [share]}, environ={})
    assert cfg.share_links["key"] is None and cfg.shares[0].downloads == "proxy"
    assert cfg.shares[0].redirect_threshold == 8 * 1024**2
    assert cfg.shares[0].redirect_expiry == 300
    with pytest.raises(ConfigError, match="share_links.key"):
        build({"share_links": {"key": "short"}, "shares": [share]}, environ={})
    with pytest.raises(ConfigError, match=r"shares\[0\].downloads"):
        build({"shares": [{**share, "downloads": "teleport"}]}, environ={})
    with pytest.raises(ConfigError, match="redirect_expiry"):
        build({"shares": [{**share, "redirect_expiry": "8d"}]}, environ={})
    cfg = build(
        {"share_links": {"key": "${LINK_KEY}"}, "shares": [share]},
        environ={"LINK_KEY": "x" * 20},
    )
    assert cfg.share_links["key"] == "x" * 20 and cfg.share_links["max_expiry"] == 30 * 86400
