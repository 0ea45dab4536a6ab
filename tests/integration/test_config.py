"""Configuration: validation in-process, and the CLI's one-line errors as a process."""

import subprocess
import sys

import pytest

from s3dav.config import ConfigError, build, load
from tests.support.helpers import TEST_ENV, free_port


def test_defaults_and_flags_override_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "server: {port: 9000}\nshares: [{path: /, bucket: b1}]\ncache: {metadata_ttl: 1m}\n"
    )
    cfg = load(str(f), {"port": 9100, "bucket": None}, environ={})
    assert cfg.server["port"] == 9100
    assert cfg.cache["metadata_ttl"] == 60.0
    assert cfg.cache["size"] == 10 * 1024**3
    assert cfg.shares[0].bucket == "b1"
    cfg = load(str(f), {"bucket": "b2", "prefix": "x/y", "read_only": True}, environ={})
    assert (cfg.shares[0].bucket, cfg.shares[0].prefix, cfg.shares[0].read_only) == (
        "b2",
        "x/y/",
        True,
    )


def test_env_overrides(tmp_path):
    cfg = load(
        None,
        {},
        environ={
            "S3DAV_SERVER__PORT": "9200",
            "S3DAV_CACHE__WRITE_BACK": "true",
            "S3DAV_SHARES": "[{path: /, bucket: envb}]",
        },
    )
    assert cfg.server["port"] == 9200
    assert cfg.cache["write_back"] is True
    assert cfg.shares[0].bucket == "envb"


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"server": {"prot": 1}}, "unknown key server.prot"),
        ({"bogus": 1}, "unknown key bogus"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"cache": {"size": "lots"}}, "cache.size"),
        ({"shares": [{"path": "/"}]}, "shares[0].bucket: missing"),
        ({"shares": [{"bucket": "b", "users": ["ann"]}]}, "no user 'ann'"),
        ({"s3": {"secret_access_key": "${NOPE_NOT_SET}"}}, "NOPE_NOT_SET"),
        ({"macos": {"metadata_files": "maybe"}}, "macos.metadata_files"),
    ],
)
def test_bad_config_names_the_key(raw, words):
    with pytest.raises(ConfigError) as err:
        build(raw, environ={})
    assert words in str(err.value)


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
