"""SIGTERM: uploads in flight finish (within server.shutdown_timeout), new work is
refused, the process exits 0; an upload that does not finish in time is aborted."""

from __future__ import annotations

import os
import signal
import socket
import time

from tests.support.helpers import OLD, open_uploads, s3_bytes, wait_until
from tests.support.rawhttp import start_raw_put

MIB = 1024 * 1024


def gateway(make_gateway, bucket, timeout: str):
    return make_gateway(
        bucket,
        config={
            "server": {"shutdown_timeout": timeout},
            "s3": {"part_size": "5MiB", "multipart_threshold": "5MiB"},
            "shares": [{"path": "/", "bucket": bucket}],
        },
    )


def test_sigterm_lets_inflight_upload_finish_refuses_new_work_exits_0(make_gateway, bucket, s3):
    gw = gateway(make_gateway, bucket, "20s")
    body = os.urandom(12 * MIB)  # multipart
    sock = start_raw_put(gw, "/big.bin", {"Content-Length": str(len(body))})
    sock.sendall(body[: 7 * MIB])
    assert wait_until(lambda: open_uploads(s3, bucket) != [], 10)
    gw.proc.send_signal(signal.SIGTERM)
    # New connections are refused once the listening socket is closed.
    assert wait_until(lambda: not _accepts(gw.port), 5)
    time.sleep(0.5)
    sock.sendall(body[7 * MIB :])
    sock.settimeout(20)
    status = sock.recv(200).split(b" ")[1]
    sock.close()
    assert status == b"201"
    assert gw.proc.wait(20) == 0
    assert s3_bytes(s3, bucket, "big.bin") == body
    assert open_uploads(s3, bucket) == []
    assert "stopped" in gw.log()


def test_sigterm_aborts_an_upload_that_does_not_finish_in_time(make_gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="f.bin", Body=OLD)
    gw = gateway(make_gateway, bucket, "2s")
    sock = start_raw_put(gw, "/f.bin", {"Content-Length": str(20 * MIB)})
    sock.sendall(os.urandom(6 * MIB))
    assert wait_until(lambda: open_uploads(s3, bucket) != [], 10)
    started = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(15) == 0
    assert time.monotonic() - started < 10
    sock.close()
    assert s3_bytes(s3, bucket, "f.bin") == OLD
    assert open_uploads(s3, bucket) == []


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
