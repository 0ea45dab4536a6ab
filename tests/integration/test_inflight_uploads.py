"""Two gateways in one process keep their in-flight multipart uploads apart
(s3dav/transfer/uploads.py `InFlightUploads`, handed by app.py to the uploads and
to the stale-upload sweeper): each knows only the uploads it is sending itself."""

from __future__ import annotations

import os
import socket
import threading

from s3dav import config as s3config
from s3dav.app import build_gateway
from s3dav.server.serve import make_server
from s3dav.store.staleuploads import abort_stale_uploads
from tests.support.helpers import TEST_ENV, free_port, open_uploads, wait_until

MIB = 1024 * 1024


def serve_in_process(moto, bucket: str, cache_dir) -> tuple:
    """A gateway built and served in this process; (gateway, server, port)."""
    port = free_port()
    raw = {
        "server": {"host": "127.0.0.1", "port": port, "threads": 4},
        "s3": {
            "endpoint_url": moto.url,
            "access_key_id": TEST_ENV["AWS_ACCESS_KEY_ID"],
            "secret_access_key": TEST_ENV["AWS_SECRET_ACCESS_KEY"],
            "part_size": "5MiB",
            "multipart_threshold": "5MiB",
            "abort_stale_uploads_after": "1h",
        },
        "cache": {"dir": str(cache_dir)},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    gw = build_gateway(s3config.build(raw, environ=dict(TEST_ENV)))
    server = make_server(gw)
    server.prepare()
    threading.Thread(target=server.serve, name="test-gateway", daemon=True).start()
    return gw, server, port


def in_flight(gw) -> frozenset[str]:
    return gw.providers["/"].tree.in_flight.ids()


def test_two_gateways_in_one_process_know_only_their_own_uploads(moto, s3, bucket, tmp_path):
    a, server_a, port_a = serve_in_process(moto, bucket, tmp_path / "a")
    b, server_b, _ = serve_in_process(moto, bucket, tmp_path / "b")
    try:
        body = os.urandom(12 * MIB)
        sock = socket.create_connection(("127.0.0.1", port_a), timeout=30)
        head = f"PUT /f.bin HTTP/1.1\r\nHost: 127.0.0.1:{port_a}\r\n"
        sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[: 6 * MIB])
        assert wait_until(lambda: len(open_uploads(s3, bucket)) == 1, 10)
        sending = {u["UploadId"] for u in open_uploads(s3, bucket)}
        assert in_flight(a) == sending
        assert in_flight(b) == frozenset()
        # Gateway A's own sweep keeps the upload it is sending, however old.
        keep = a.providers["/"].tree.in_flight.ids
        assert abort_stale_uploads(s3, bucket, "", older_than=-60, keep=keep) == 0
        sock.sendall(body[6 * MIB :])
        assert sock.recv(100).split(b" ")[1] == b"201"
        sock.close()
        assert s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read() == body
        assert open_uploads(s3, bucket) == []
        assert in_flight(a) == frozenset() and in_flight(b) == frozenset()
    finally:
        for server, gw in ((server_a, a), (server_b, b)):
            server.stop()
            gw.close()
