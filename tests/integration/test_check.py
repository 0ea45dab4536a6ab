"""`s3dav check` as a process: exit 0 when all is well, one clear [FAIL] line when not."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import boto3
import pytest

from tests.support.helpers import TEST_ENV, free_port, stop_process, wait_http


def check(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s3dav", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **TEST_ENV, **(env or {})},
    )


def fails(out: subprocess.CompletedProcess) -> list[str]:
    return [line for line in out.stdout.splitlines() if line.startswith("[FAIL]")]


def test_good_bucket_exits_0(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key="docs/a.txt", Body=b"a")
    out = check("--endpoint-url", moto.url, "--bucket", bucket)
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert fails(out) == []
    assert "put and delete" in out.stdout and "no stale multipart uploads" in out.stdout
    assert "1 keys, no file/folder name clashes" in out.stdout
    assert out.stdout.rstrip().endswith("all is well")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["docs/a.txt"]


def test_missing_bucket_is_one_clear_line(moto):
    out = check("--endpoint-url", moto.url, "--bucket", "no-such-bucket-here")
    print(out.stdout)
    assert out.returncode == 1
    assert fails(out) == [
        "[FAIL] share / (s3://no-such-bucket-here/): the bucket does not exist (404)"
    ]


def test_clash_and_stale_upload_are_reported(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"file")
    s3.put_object(Bucket=bucket, Key="x/y", Body=b"below")
    out = check("--endpoint-url", moto.url, "--bucket", bucket)
    assert out.returncode == 1
    assert fails(out) == [
        f"[FAIL] share / (s3://{bucket}/): 1 name(s) are both a file and a folder "
        "(the folder is shown): x"
    ]


def test_objects_hidden_by_the_gateways_endpoints_are_reported(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key="metrics", Body=b"put by another tool")
    s3.put_object(Bucket=bucket, Key="healthz/x", Body=b"x")
    out = check("--endpoint-url", moto.url, "--bucket", bucket)
    assert out.returncode == 1
    assert fails(out) == [
        f"[FAIL] share / (s3://{bucket}/): healthz, metrics exist(s) in the bucket but GET there"
        " answers the gateway's own endpoint; mount this share under a path (e.g. /files)"
    ]


def test_progress_shows_on_a_terminal_only(moto, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    cmd = shlex.join(
        [sys.executable, "-m", "s3dav", "check", "--endpoint-url", moto.url, "--bucket", bucket]
    )
    tty = subprocess.run(
        ["script", "-qec", cmd, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **TEST_ENV},
        stdin=subprocess.DEVNULL,
    )
    assert tty.returncode == 0, tty.stdout
    assert "scanning: 1 keys" in tty.stdout
    assert "scanning" not in check("--endpoint-url", moto.url, "--bucket", bucket).stdout


@pytest.fixture
def moto_with_auth(tmp_path):
    """A moto server that checks credentials: only the first request goes unauthenticated."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, **TEST_ENV, "INITIAL_NO_AUTH_ACTION_COUNT": "1"},
    )
    wait_http(url + "/moto-api/", proc=proc)
    yield url
    stop_process(proc)


def test_wrong_credentials_are_one_clear_line(moto_with_auth):
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_with_auth,
        region_name="us-east-1",
        **{"aws_access_key_id": "x", "aws_secret_access_key": "y"},
    )
    s3.create_bucket(Bucket="guarded")  # the one unauthenticated request
    out = check(
        "--endpoint-url",
        moto_with_auth,
        "--bucket",
        "guarded",
        env={"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG", "AWS_SECRET_ACCESS_KEY": "wrong-secret"},
    )
    print(out.stdout)
    assert out.returncode == 1
    assert fails(out) == [
        "[FAIL] share / (s3://guarded/): access denied: check the credentials and the bucket "
        "policy (403)"
    ]
    assert "wrong-secret" not in out.stdout + out.stderr
