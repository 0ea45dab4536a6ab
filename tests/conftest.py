"""The fixtures shared by every test folder (tests/README.md: layout, markers, rules).

A moto S3 server per session, a fresh bucket per test, gateways on demand, the fault
proxy. A folder-local conftest.py holds only fixtures that folder alone uses.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

from tests.support.helpers import TEST_ENV, Gateway, MotoServer


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(moto):
    return boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def bucket(s3):
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_gateway(tmp_path, moto):
    """Start gateways for this test; all are stopped by PID afterwards."""
    started: list[Gateway] = []

    def make(
        bucket: str | None = None,
        *,
        config: dict | None = None,
        name: str = "gw",
        env: dict | None = None,
        args: list[str] | None = None,
    ) -> Gateway:
        cfg = config or {}
        cfg.setdefault("s3", {}).setdefault("endpoint_url", moto.url)
        if bucket is not None and "shares" not in cfg:
            cfg["shares"] = [{"path": "/", "bucket": bucket}]
        gw = Gateway(tmp_path / f"{name}-{len(started)}", cfg, env=env, args=args)
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()


@pytest.fixture
def gw(make_gateway, bucket):
    return make_gateway(bucket)


@pytest.fixture
def proxy(moto):
    """A fault-injecting proxy in front of moto (support/faultproxy.py); stopped afterwards."""
    from tests.support.faultproxy import FaultProxy

    p = FaultProxy(moto.url)
    yield p
    p.stop()


CLIENTS = Path(__file__).parent / "clients"


def pytest_collection_modifyitems(config, items):
    """Every test in tests/clients/ is about a real client (run, or replayed): mark it `client`."""
    for item in items:
        if CLIENTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.client)
