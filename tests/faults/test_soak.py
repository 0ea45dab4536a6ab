"""Many clients at once (issue 5, item 7): bounded soak of PUT/GET/PROPFIND on
overlapping paths. No failed request, every object ends holding exactly one
complete PUT's bytes, and the gateway's memory and threads stay bounded.
A longer run: benchmarks/soak.py."""

from __future__ import annotations

import re

import pytest

from tests.support.faultproxy import fault_config
from tests.support.soakload import check_store, proc_figures, run_soak


def test_soak_12_clients_overlapping_paths(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config={"server": {"threads": 32}})
    rss0, threads0 = proc_figures(gw.pid)
    result = run_soak(gw.url, clients=12, ops_per_client=25, max_seconds=60)
    rss1, threads1 = proc_figures(gw.pid)
    assert result.failures == [], result.failures[:10]
    assert sum(result.ops.values()) == 12 * 25
    assert check_store(result, s3, bucket, gw.url) == []
    assert not re.search(r"s3dav\.access: \S+ \S+ 5\d\d ", gw.log())
    # Bounded: cheroot's 32 workers + the S3 pool (32) + a few; RSS growth modest.
    assert threads1 <= 32 + 32 + 16, threads1
    assert rss1 - rss0 < 200_000, (rss0, rss1)  # KiB
    print(
        f"\nsoak: {dict(result.ops)} in {result.seconds:.1f}s, "
        f"{result.bytes_up / 1e6:.1f} MB up, {result.bytes_down / 1e6:.1f} MB down; "
        f"failed 0, objects lost or corrupted 0; "
        f"gateway RSS {rss0 // 1024}->{rss1 // 1024} MiB, threads {threads0}->{threads1}"
    )


@pytest.mark.slow
def test_soak_12_clients_with_a_fifth_of_s3_requests_failing(make_gateway, bucket, s3, proxy):
    gw = make_gateway(bucket, config=fault_config(proxy, bucket, max_attempts=8))
    proxy.error_rate, proxy.reset_rate = 0.15, 0.05
    result = run_soak(gw.url, clients=12, ops_per_client=15, max_seconds=60)
    injected = dict(proxy.faults)
    proxy.reset_faults()
    assert result.failures == [], result.failures[:10]
    assert sum(result.ops.values()) == 12 * 15
    assert check_store(result, s3, bucket, gw.url) == []
    # GETs answered from the content cache send nothing to S3, so fewer faults land.
    assert sum(injected.values()) >= 10, injected
    print(
        f"\nsoak with faults: {dict(result.ops)} in {result.seconds:.1f}s; faults injected "
        f"{injected} in {proxy.requests} S3 requests; failed 0, lost or corrupted 0"
    )
