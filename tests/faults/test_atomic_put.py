"""Atomic replace (docs/SEMANTICS.md, *Consistency*): a PUT replaces the whole object or nothing.

Each test has an old object in S3, breaks a PUT over it in one way (client gone,
gateway killed, S3 failing), then reads S3 directly: the old bytes are there,
no truncated object appeared, and no multipart upload was left open.
"""

from __future__ import annotations

import os
import signal
import time

from tests.support.faultproxy import fault_config
from tests.support.helpers import OLD, open_uploads, s3_bytes, wait_until
from tests.support.rawhttp import start_raw_put

MIB = 1024 * 1024


def small_gateway(make_gateway, bucket, endpoint=None, **s3):
    cfg = {
        "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB", **s3},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    if endpoint:
        cfg["s3"]["endpoint_url"] = endpoint
    return make_gateway(bucket, config=cfg)


def assert_old_intact(s3, bucket: str, key: str = "f.bin") -> None:
    assert s3_bytes(s3, bucket, key) == OLD
    assert wait_until(lambda: open_uploads(s3, bucket) == []), open_uploads(s3, bucket)


def test_client_gone_mid_put_small_and_multipart(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=OLD)
    gw = small_gateway(make_gateway, bucket)
    # as in the issue: a 50 MiB PUT dropped after 12 MiB (and a small one cut short)
    for announced, sent in [(100_000, 40_000), (50 * MIB, 12 * MIB)]:
        sock = start_raw_put(gw, "/f.bin", {"Content-Length": str(announced)})
        chunk = os.urandom(MIB)
        left = sent
        while left > 0:
            n = min(left, len(chunk))
            sock.sendall(chunk[:n])
            left -= n
        if sent > 5 * MIB:  # the multipart upload has really started
            assert wait_until(lambda: open_uploads(s3, bucket) != [], 10)
        sock.close()
        assert_old_intact(s3, bucket)
        assert gw.request("GET", "/f.bin").content == OLD
    assert "unhandled error" not in gw.log()
    assert wait_until(lambda: gw.log().count("PUT /f.bin 400") == 2), gw.log()[-2000:]


def test_client_gone_mid_chunked_put(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=OLD)
    gw = small_gateway(make_gateway, bucket)
    for total in (50_000, 12 * MIB):
        sock = start_raw_put(gw, "/f.bin", {"Transfer-Encoding": "chunked"})
        block = os.urandom(256 * 1024)
        sent = 0
        while sent < total:
            piece = block[: min(len(block), total - sent)]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        if total > 5 * MIB:
            assert wait_until(lambda: open_uploads(s3, bucket) != [], 10)
        sock.close()  # no terminating 0-chunk: the body never ended
        assert_old_intact(s3, bucket)
        assert gw.request("GET", "/f.bin").content == OLD
    # A complete chunked PUT does replace it.
    sock = start_raw_put(gw, "/f.bin", {"Transfer-Encoding": "chunked"})
    sock.sendall(b"5\r\nhello\r\n0\r\n\r\n")
    assert sock.recv(100).split(b" ")[1] == b"204"
    sock.close()
    assert s3_bytes(s3, bucket, "f.bin") == b"hello"
    assert gw.log().count("PUT /f.bin 400") == 2


def share_config(bucket: str, **s3) -> dict:
    """Small parts, and one share on the prefix `share/` (uploads outside it are not ours)."""
    return {
        "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB", **s3},
        "shares": [{"path": "/", "bucket": bucket, "prefix": "share/"}],
    }


def test_gateway_killed_mid_put_then_restart_aborts_stale_upload(make_gateway, bucket, s3):
    # An upload outside the share's prefix is not the gateway's to abort.
    foreign = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/x.bin")["UploadId"]
    s3.put_object(Bucket=bucket, Key="share/f.bin", Body=OLD)
    gw = make_gateway(bucket, config=share_config(bucket, abort_stale_uploads_after="1s"))
    sock = start_raw_put(gw, "/f.bin", {"Content-Length": str(30 * MIB)})
    block = os.urandom(MIB)
    for _ in range(12):
        sock.sendall(block)
    assert wait_until(lambda: any(u["Key"] == "share/f.bin" for u in open_uploads(s3, bucket)), 10)
    os.kill(gw.pid, signal.SIGKILL)
    gw.proc.wait(10)
    sock.close()
    assert s3_bytes(s3, bucket, "share/f.bin") == OLD
    assert any(u["Key"] == "share/f.bin" for u in open_uploads(s3, bucket))
    time.sleep(1.2)  # older than abort_stale_uploads_after
    gw.start()
    keys = [u["Key"] for u in open_uploads(s3, bucket)]
    assert keys == ["elsewhere/x.bin"], keys
    assert "aborted 1 stale multipart upload" in gw.log()
    assert gw.request("GET", "/f.bin").content == OLD
    s3.abort_multipart_upload(Bucket=bucket, Key="elsewhere/x.bin", UploadId=foreign)


def test_stale_uploads_are_swept_while_running_but_not_the_ones_being_sent(
    make_gateway, bucket, s3
):
    s3.put_object(Bucket=bucket, Key="share/f.bin", Body=OLD)
    stale = {"abort_stale_uploads_after": "2s", "abort_stale_uploads_every": "0.5s"}
    gw = make_gateway(bucket, config=share_config(bucket, **stale))
    # Left by another tool after the gateway started: only a sweep while running ends it.
    s3.create_multipart_upload(Bucket=bucket, Key="share/left.bin")
    body = os.urandom(20 * MIB)
    sock = start_raw_put(gw, "/f.bin", {"Content-Length": str(len(body))})
    sock.sendall(body[: 12 * MIB])
    assert wait_until(lambda: any(u["Key"] == "share/f.bin" for u in open_uploads(s3, bucket)), 10)
    assert wait_until(lambda: all(u["Key"] != "share/left.bin" for u in open_uploads(s3, bucket)))
    time.sleep(3)  # our own upload is now older than 2 s, and several sweeps ran since
    assert [u["Key"] for u in open_uploads(s3, bucket)] == ["share/f.bin"]
    sock.sendall(body[12 * MIB :])
    assert sock.recv(100).split(b" ")[1] == b"204"
    sock.close()
    assert s3_bytes(s3, bucket, "share/f.bin") == body
    assert open_uploads(s3, bucket) == []
    assert "aborted 1 stale multipart upload(s) in s3://" in gw.log()


def test_s3_failing_mid_upload_leaves_old_object(make_gateway, bucket, s3, proxy):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=OLD)
    gw = make_gateway(bucket, config=fault_config(proxy, bucket, max_attempts=2))
    cases = [
        ("PutObject", 100_000),
        ("UploadPart", 12 * MIB),  # the second part fails for good
        ("CompleteMultipartUpload", 12 * MIB),
    ]
    for operation, size in cases:

        def rule(seen, operation=operation):
            if seen.operation != operation:
                return False
            return operation != "UploadPart" or seen.query.get("partNumber") == ["2"]

        proxy.fail_when = rule
        r = gw.request("PUT", "/f.bin", data=os.urandom(size))
        assert r.status_code == 503, (operation, r.status_code, r.text[:300])
        assert r.headers.get("Retry-After")
        proxy.fail_when = None
        assert_old_intact(s3, bucket)
        assert gw.request("GET", "/f.bin").content == OLD, operation
    assert proxy.faults["rule"] >= 6
    assert "unhandled error" not in gw.log()
