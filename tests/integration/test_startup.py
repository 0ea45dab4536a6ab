"""Starting up: a busy port is one clear line and exit 2; the start log says what is served.

(issue 19, item 7: a busy port printed "s3dav listening on ..." and then a traceback, rc=1.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import yaml

from s3dav.passwords import hash_password
from tests.support.helpers import TEST_ENV


def serve(config: dict, tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s3dav.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "s3dav", "serve", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **TEST_ENV},
    )


def test_a_busy_port_is_one_line_and_exit_2(bucket, moto, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        config = {
            "server": {"host": "127.0.0.1"},
            "s3": {"endpoint_url": moto.url},
            "shares": [{"path": "/", "bucket": bucket}],
            "cache": {"dir": str(tmp_path / "cache")},
        }
        done = serve(config, tmp_path, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr == f"s3dav: port {port} is in use; pick another with --port\n"
    assert done.stdout == ""


def test_the_start_log_says_what_is_served(make_gateway, bucket, s3, moto):
    users = {"ann": {"password_hash": hash_password("ann-Pa55word-7x")}}
    config = {
        "s3": {"secret_access_key": "TOPSECRETKEY", "access_key_id": "testing"},
        "users": users,
        "shares": [
            {"path": "/", "bucket": bucket},
            {"path": "/ann", "bucket": bucket, "prefix": "users/ann/", "users": ["ann"]},
            {"path": "/pub", "bucket": bucket, "prefix": "pub/", "read_only": True},
        ],
    }
    gw = make_gateway(config=config)
    log = gw.log()
    lines = [ln.split("s3dav.app: ", 1)[1] for ln in log.splitlines() if "s3dav.app: share " in ln]
    cache = gw.config["cache"]["dir"]
    assert len(lines) == 3
    at = f"endpoint {moto.url}"
    want = [
        f"share /: bucket {bucket}, prefix (none), {at}, auth anonymous, read-write",
        f"share /ann: bucket {bucket}, prefix users/ann/, {at}, auth basic (1 user), read-write",
        f"share /pub: bucket {bucket}, prefix pub/, {at}, auth anonymous, read-only",
    ]
    for line, start in zip(lines, want, strict=True):
        assert line.startswith(start + f", cache dir {cache}/stores/"), line
    assert "TOPSECRETKEY" not in log
    assert log.index("s3dav.app: share /pub") < log.index("listening on")
