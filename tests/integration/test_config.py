"""Configuration: validation in-process, and the CLI's one-line errors as a process."""

import os
import subprocess
import sys

import pytest

from tests.support.helpers import TEST_ENV, free_port


def _run(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "s3dav", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**TEST_ENV, "PATH": "/usr/bin:/bin"},
        **kw,
    )


def test_cli_version_and_help():
    out = _run(["--version"])
    assert out.returncode == 0 and out.stdout.startswith("s3dav ")
    out = _run(["serve", "--help"])
    assert out.returncode == 0
    for flag in [
        "--host",
        "--port",
        "--endpoint-url",
        "--bucket",
        "--prefix",
        "--region",
        "--cache-dir",
        "--auth",
        "--read-only",
        "--config",
    ]:
        assert flag in out.stdout


def test_cli_bad_config_is_one_line(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("server: {port: 80, colour: blue}\n")
    out = _run(["serve", "--config", str(f)])
    assert out.returncode != 0
    assert out.stderr.strip() == "s3dav: config error: unknown key server.colour"
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_cli_unreachable_endpoint(tmp_path):
    port = free_port()  # nothing listens there
    out = _run(
        [
            "serve",
            "--bucket",
            "b",
            "--endpoint-url",
            f"http://127.0.0.1:{port}",
            "--port",
            str(free_port()),
            "--cache-dir",
            str(tmp_path),
        ]
    )
    assert out.returncode != 0
    assert "cannot reach S3" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_missing_bucket(tmp_path, moto):
    out = _run(
        [
            "serve",
            "--bucket",
            "no-such-bucket-here",
            "--endpoint-url",
            moto.url,
            "--port",
            str(free_port()),
            "--cache-dir",
            str(tmp_path),
        ]
    )
    assert out.returncode != 0
    assert "bucket 'no-such-bucket-here' does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_reports_a_bad_env_value_in_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "s3dav", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **TEST_ENV, "S3DAV_CACHE__METADATA_TTL": "soon"},
    )
    assert out.returncode == 2
    assert out.stderr == (
        "s3dav: config error: cache.metadata_ttl: expected a duration like 30s, got 'soon'\n"
    )
