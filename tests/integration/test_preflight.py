"""What `s3dav serve` and `s3dav check` say before serving: a plain-text password_hash, a
missing optional extra, Basic auth over plain HTTP, a prefix with no keys (issues 14, 18, 19).

Each runs the real CLI as a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from s3dav.passwords import hash_password
from tests.support.helpers import TEST_ENV, free_port, stop_process, wait_http

HASH = hash_password("preflight-Pa55")


def run(command: str, config: dict, tmp_path: Path, env: dict | None = None, timeout=60):
    path = tmp_path / "s3dav.yaml"
    config.setdefault("cache", {}).setdefault("dir", str(tmp_path / "cache"))
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "s3dav", command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **TEST_ENV, **(env or {})},
    )


def with_users(moto_url: str, bucket: str, password_hash: str) -> dict:
    return {
        "s3": {"endpoint_url": moto_url},
        "users": {"ann": {"password_hash": password_hash}},
        "shares": [{"path": "/", "bucket": bucket, "users": ["ann"]}],
    }


def test_a_plain_text_password_hash_is_refused_by_serve_and_check(moto, bucket, tmp_path):
    config = with_users(moto.url, bucket, "Ann-plain-password-42")
    for command in ("serve", "check"):
        out = run(command, config, tmp_path)
        assert out.returncode == 2, out.stderr
        assert out.stdout == ""
        assert out.stderr == (
            "s3dav: config error: users.ann.password_hash: not a hash made by"
            " `s3dav hash-password` (expected scrypt$N$r$p$salt$digest)\n"
        )
        assert "Ann-plain-password-42" not in out.stderr  # never echo what may be a password
    truncated = with_users(moto.url, bucket, HASH.rsplit("$", 1)[0] + "$AAAA")
    out = run("check", truncated, tmp_path)
    assert (out.returncode, out.stderr) == (
        2,
        "s3dav: config error: users.ann.password_hash: the salt or digest of the scrypt hash"
        " is too short\n",
    )


def _no_redis(tmp_path: Path) -> dict:
    """An environment where `import redis` fails as it does when the extra is not installed."""
    stub = tmp_path / "no-redis" / "redis"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(stub.parent), os.environ.get("PYTHONPATH", "")])}


def test_a_redis_lock_url_without_the_replicas_extra_is_one_line(moto, bucket, tmp_path):
    config = {
        "s3": {"endpoint_url": moto.url},
        "locks": {"storage": "redis://127.0.0.1:6399/0"},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    env = _no_redis(tmp_path)
    out = run("serve", config, tmp_path, env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr == (
        "s3dav: locks.storage: redis://... needs the Python package 'redis', which is not"
        " installed: pip install 's3dav[replicas]'\n"
    )
    check = run("check", config, tmp_path, env)
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert (
        "[FAIL] locks.storage: redis://... needs the Python package 'redis', which is not"
        " installed: pip install 's3dav[replicas]'"
    ) in check.stdout.splitlines()


def test_basic_auth_over_plain_http_beyond_loopback_is_warned(moto, bucket, tmp_path):
    port = free_port()
    config = with_users(moto.url, bucket, HASH)
    config["server"] = {"host": "0.0.0.0", "port": port}
    check = run("check", dict(config), tmp_path)
    want = (
        "Basic auth over plain HTTP on 0.0.0.0: passwords for / cross the network readable;"
        " set server.tls, or serve only behind a TLS proxy on a trusted network"
        " (docs/SECURITY.md)"
    )
    assert check.returncode == 0, check.stdout
    assert f"[warn] {want}" in check.stdout.splitlines()
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "s3dav", "serve", "--config", str(tmp_path / "s3dav.yaml")],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **TEST_ENV},
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 401
        finally:
            stop_process(proc)
    assert f"WARNING s3dav.cli: {want}" in log.read_text()
    # On loopback, or with TLS, there is nothing to say.
    config["server"] = {"host": "127.0.0.1", "port": port}
    quiet = run("check", config, tmp_path)
    assert quiet.returncode == 0 and "[warn]" not in quiet.stdout


def test_check_warns_on_a_share_prefix_with_no_keys(moto, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="users/ann/a.txt", Body=b"a")
    config = {
        "s3": {"endpoint_url": moto.url},
        "shares": [
            {"path": "/ann", "bucket": bucket, "prefix": "users/ann/"},
            {"path": "/typo", "bucket": bucket, "prefix": "users/anne/"},
        ],
    }
    out = run("check", config, tmp_path)
    assert out.returncode == 0, out.stdout  # a warning, not a failure
    warns = [line for line in out.stdout.splitlines() if line.startswith("[warn]")]
    assert warns == [
        f"[warn] share /typo (s3://{bucket}/users/anne/): no keys under the prefix"
        " 'users/anne/': a typo in the prefix? (fine for a new, empty share)"
    ]
