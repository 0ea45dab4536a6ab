"""Fixtures used by integration tests alone (the root tests/conftest.py has the shared ones)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.helpers import free_port, stop_process, wait_http

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def latency_proxy(moto, tmp_path):
    """tests/support/latencyproxy.py as a process in front of moto, at 0 ms; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "proxy.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.latencyproxy", "--upstream", moto.url,
             "--port", str(port), "--latency-ms", "0"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_http(url + "/__proxy__/counts", proc=proc)
        yield url
        stop_process(proc)


@pytest.fixture
def redis_server(tmp_path):
    """A loopback Redis (Debian's redis-server) for replicas: (URL, process); stopped by PID."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc
    client.close()
    stop_process(proc)


@pytest.fixture
def redis_url(redis_server):
    return redis_server[0]
