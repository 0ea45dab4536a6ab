"""Write-back mode (cache.write_back: true): PUT answered from local disk, uploaded later.

S3 is reached through the latency proxy (tests/support/latencyproxy.py) so that a test
can hold every S3 request for a minute and prove the PUT did not wait for S3.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.cachedirs import store_dir
from tests.support.helpers import hrefs, pending, propfind, wait_until
from tests.support.latencyproxy import set_latency

ROOT = Path(__file__).resolve().parents[2]


def wb_gateway(make_gateway, bucket, latency_proxy):
    return make_gateway(
        bucket, config={"s3": {"endpoint_url": latency_proxy}, "cache": {"write_back": True}}
    )


def test_put_answered_without_s3_and_resumed_after_kill_9(make_gateway, bucket, latency_proxy, s3):
    gw = wb_gateway(make_gateway, bucket, latency_proxy)
    assert propfind(gw, "/").status_code == 207  # listing warm: a PUT needs no S3 request
    set_latency(latency_proxy, 60_000)  # S3 now answers after a minute
    bodies = {f"/w{i}.txt": os.urandom(1000 + i) for i in range(5)}
    for path, body in bodies.items():
        # timeout well under the proxy's delay: a write-through PUT would fail here
        assert gw.request("PUT", path, data=body, timeout=10).status_code == 201
    assert pending(gw) == 5
    for path, body in bodies.items():
        assert gw.request("GET", path, timeout=10).content == body  # read from the journal
    names = hrefs(propfind(gw, "/", timeout=10).text)
    assert all(p in names for p in bodies)
    journal = list((store_dir(Path(gw.workdir, "cache"), bucket) / "writeback").glob("*.up"))
    assert len(journal) == 5

    os.kill(gw.pid, signal.SIGKILL)
    gw.proc.wait(10)
    gw._log.close()
    set_latency(latency_proxy, 0)
    gw.start()
    assert "resuming 5 journalled uploads" in gw.log()
    assert wait_until(lambda: pending(gw) == 0, 60), "write-back uploads still pending"
    for path, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=path[1:])["Body"].read() == body
    journal_dir = store_dir(Path(gw.workdir, "cache"), bucket) / "writeback"
    assert [p.name for p in journal_dir.iterdir()] == [".lock"]


def test_newer_put_wins_and_delete_waits_for_upload(make_gateway, bucket, latency_proxy, s3):
    gw = wb_gateway(make_gateway, bucket, latency_proxy)
    set_latency(latency_proxy, 300)
    for version in (b"one", b"two", b"three"):
        assert gw.request("PUT", "/v.txt", data=version).status_code in (201, 204)
    assert gw.request("GET", "/v.txt").content == b"three"
    assert wait_until(lambda: pending(gw) == 0, 60), "write-back uploads still pending"
    assert s3.get_object(Bucket=bucket, Key="v.txt")["Body"].read() == b"three"
    set_latency(latency_proxy, 0)

    assert gw.request("PUT", "/gone.txt", data=b"bye").status_code == 201
    assert gw.request("DELETE", "/gone.txt").status_code == 204
    assert wait_until(lambda: pending(gw) == 0, 60), "write-back uploads still pending"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert "gone.txt" not in keys


def test_uploaded_file_is_read_from_cache(make_gateway, bucket, latency_proxy):
    gw = wb_gateway(make_gateway, bucket, latency_proxy)
    body = os.urandom(200_000)
    assert gw.request("PUT", "/c.bin", data=body).status_code == 201
    assert wait_until(lambda: pending(gw) == 0, 60), "write-back uploads still pending"
    before = gw.s3_counts()
    assert gw.request("GET", "/c.bin").content == body
    assert gw.s3_delta(before) == {}


def test_client_gone_mid_put_leaves_old_object_in_write_back(
    make_gateway, bucket, latency_proxy, s3
):
    """A write-back body cut short is refused (400) and never journalled or uploaded."""
    from tests.support.helpers import wait_until
    from tests.support.rawhttp import start_raw_put

    s3.put_object(Bucket=bucket, Key="f.bin", Body=b"old bytes")
    gw = wb_gateway(make_gateway, bucket, latency_proxy)
    sock = start_raw_put(gw, "/f.bin", {"Content-Length": "100000"})
    sock.sendall(os.urandom(40_000))
    sock.close()
    assert wait_until(lambda: "PUT /f.bin 400" in gw.log()), gw.log()[-2000:]
    assert gw.request("GET", "/f.bin").content == b"old bytes"
    assert pending(gw) == 0
    assert s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read() == b"old bytes"


def test_uploads_wait_for_puts_to_pause_but_never_long_and_not_for_a_delete(
    make_gateway, bucket, latency_proxy, s3
):
    """write_back_delay holds uploads while PUTs arrive; MAX_HOLD caps it; flush() skips it."""
    from s3dav.transfer.writeback import MAX_HOLD

    gw = make_gateway(
        bucket,
        config={
            "s3": {"endpoint_url": latency_proxy},
            "cache": {"write_back": True, "write_back_delay": "10m"},
        },
    )
    assert propfind(gw, "/").status_code == 207
    before = gw.s3_counts()
    assert gw.request("PUT", "/held.txt", data=b"held").status_code == 201
    time.sleep(1.0)
    assert pending(gw) == 1 and gw.s3_delta(before) == {}  # not uploaded yet: held
    assert wait_until(lambda: pending(gw) == 0, MAX_HOLD + 30)  # but not for 10 minutes
    assert s3.get_object(Bucket=bucket, Key="held.txt")["Body"].read() == b"held"

    assert gw.request("PUT", "/gone.txt", data=b"bye").status_code == 201
    # DELETE waits for the upload (flush), which does not wait for the hold
    assert gw.request("DELETE", "/gone.txt", timeout=MAX_HOLD - 1).status_code == 204
    assert pending(gw) == 0
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="gone.txt")
