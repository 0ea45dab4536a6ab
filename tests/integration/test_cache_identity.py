"""Every cache and store is keyed by endpoint + bucket + prefix (issue 19, item 2).

Two buckets may hold the same key with the same bytes (hence the same ETag) but
different metadata; two gateways may share one cache.dir. Neither may see the
other's metadata, dead properties or journalled uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from email.utils import formatdate
from pathlib import Path

import yaml

from s3dav.transfer.journal import MAGIC, TRAILER
from tests.support.cachedirs import store_dir
from tests.support.helpers import TEST_ENV, free_port, pending, propfind, wait_until
from tests.support.latencyproxy import set_latency

PROPPATCH = (
    b'<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:z="urn:z"><set><prop>'
    b"<z:color>red</z:color></prop></set></propertyupdate>"
)
PROPFIND_COLOR = (
    b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><color xmlns="urn:z"/></prop></propfind>'
)


def new_bucket(s3) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def lastmodified(xml: str) -> str:
    return re.search(r"getlastmodified>([^<]+)<", xml).group(1)


def test_two_buckets_with_the_same_file_each_show_their_own_mtime(make_gateway, s3, moto):
    one, two = new_bucket(s3), new_bucket(s3)
    s3.put_object(Bucket=one, Key="same.txt", Body=b"same", Metadata={"mtime": "1600000000"})
    s3.put_object(Bucket=two, Key="same.txt", Body=b"same", Metadata={"mtime": "1700000000"})
    shares = [{"path": "/one", "bucket": one}, {"path": "/two", "bucket": two}]
    gw = make_gateway(config={"shares": shares})
    want = {
        "/one": formatdate(1600000000, usegmt=True),
        "/two": formatdate(1700000000, usegmt=True),
    }
    for _round in ("cold", "after a restart: from the on-disk metadata cache"):
        for share, when in want.items():
            r = propfind(gw, share + "/")
            assert r.status_code == 207
            block = r.text.split("same.txt")[1]
            assert lastmodified(block) == when, share
            r = gw.request("GET", share + "/same.txt")
            assert r.status_code == 200 and r.content == b"same"
            assert r.headers["Last-Modified"] == when, share
        gw.restart()
    log = gw.log()
    cache = Path(gw.config["cache"]["dir"])
    for share, bucket in (("/one", one), ("/two", two)):
        line = (
            f"share {share}: bucket {bucket}, prefix (none), endpoint {moto.url}, "
            f"auth anonymous, read-write, cache dir {store_dir(cache, bucket)}"
        )
        assert line in log


def test_two_gateways_on_one_cache_dir_keep_dead_properties_apart(make_gateway, s3, tmp_path):
    one, two = new_bucket(s3), new_bucket(s3)
    for bucket in (one, two):
        s3.put_object(Bucket=bucket, Key="same.txt", Body=b"same")
    cache = {"dir": str(tmp_path / "shared-cache")}
    gw_one = make_gateway(one, config={"cache": dict(cache)})
    gw_two = make_gateway(two, config={"cache": dict(cache)})
    assert gw_one.request("PROPPATCH", "/same.txt", data=PROPPATCH).status_code == 207
    r = propfind(gw_one, "/same.txt", depth="0", body=PROPFIND_COLOR)
    assert r.status_code == 207 and ">red<" in r.text
    r = propfind(gw_two, "/same.txt", depth="0", body=PROPFIND_COLOR)
    assert r.status_code == 207 and ">red<" not in r.text
    assert "404 Not Found" in r.text  # the property is unknown there
    assert store_dir(cache["dir"], one) != store_dir(cache["dir"], two)


def proxy_counts(proxy_url: str) -> dict[str, int]:
    """The latency proxy's requests by kind (tests/support/latencyproxy.py)."""
    import requests

    return requests.get(proxy_url + "/__proxy__/counts", timeout=5).json()


def test_two_gateways_on_one_cache_dir_keep_write_back_journals_apart(
    make_gateway,
    s3,
    moto,
    latency_proxy,
    tmp_path,
):
    one, two = new_bucket(s3), new_bucket(s3)
    cache = str(tmp_path / "shared-cache")
    gw_one = make_gateway(
        one,
        config={"s3": {"endpoint_url": latency_proxy}, "cache": {"dir": cache, "write_back": True}},
    )
    assert propfind(gw_one, "/").status_code == 207  # warm: the PUT needs no S3 request
    set_latency(latency_proxy, 60_000)
    assert gw_one.request("PUT", "/w.txt", data=b"for bucket one", timeout=10).status_code == 201
    assert pending(gw_one) == 1
    # The upload must be on its way (held by the proxy) before the latency drops: one the
    # write-back had not sent yet would go through at 0 ms while gateway one stops.
    assert wait_until(lambda: proxy_counts(latency_proxy).get("PUT", 0) >= 1, 30)
    gw_two = make_gateway(two, config={"cache": {"dir": cache, "write_back": True}})
    assert "resuming" not in gw_two.log()
    assert pending(gw_two) == 0
    assert gw_two.s3_counts().get("PutObject", 0) == 0
    # Gateway one still owns its journal: it resumes the upload after a restart.
    set_latency(latency_proxy, 0)
    gw_one.restart()
    assert "resuming 1 journalled uploads" in gw_one.log()
    assert wait_until(lambda: pending(gw_one) == 0, 60), "write-back uploads still pending"
    assert s3.get_object(Bucket=one, Key="w.txt")["Body"].read() == b"for bucket one"
    assert s3.list_objects_v2(Bucket=two).get("KeyCount") == 0


def test_a_second_gateway_on_the_same_journal_is_refused(make_gateway, bucket, moto, tmp_path):
    cache = str(tmp_path / "shared-cache")
    config = {"cache": {"dir": cache, "write_back": True}}
    make_gateway(bucket, config=json.loads(json.dumps(config)))
    second = {
        **config,
        "s3": {"endpoint_url": moto.url},
        "server": {"host": "127.0.0.1", "port": free_port()},
        "shares": [{"path": "/", "bucket": bucket}],
    }
    path = tmp_path / "second.yaml"
    path.write_text(yaml.safe_dump(second))
    done = subprocess.run(
        [sys.executable, "-m", "s3dav", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **TEST_ENV},
    )
    assert done.returncode == 2
    assert "is in use by another s3dav; give each gateway its own cache.dir" in done.stderr
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stderr


def old_journal_file(directory: Path, bucket: str, key: str, body: bytes) -> Path:
    """An answered upload as the layout before stores/ journalled it (cache.dir/writeback)."""
    directory.mkdir(parents=True)
    record = {
        "id": "1-1-0", "seq": 1, "bucket": bucket, "key": key,
        "content_type": "text/plain", "metadata": {}, "size": len(body),
        "md5_hex": hashlib.md5(body).hexdigest(), "created": 1600000000.0,
    }  # fmt: skip
    raw = json.dumps(record).encode()
    path = directory / "1-1-0.up"
    path.write_bytes(body + raw + TRAILER.pack(len(raw), MAGIC))
    return path


def test_old_layout_journal_is_migrated_and_old_caches_are_not_read(
    make_gateway, bucket, s3, tmp_path
):
    cache = tmp_path / "old-cache"
    old = old_journal_file(cache / "writeback", bucket, "answered.txt", b"answered before")
    (cache / "properties.sqlite3").write_bytes(b"")
    gw = make_gateway(bucket, config={"cache": {"dir": str(cache), "write_back": True}})
    assert wait_until(lambda: pending(gw) == 0, 60), "write-back uploads still pending"
    assert s3.get_object(Bucket=bucket, Key="answered.txt")["Body"].read() == b"answered before"
    assert not old.exists()
    assert "properties.sqlite3 predate per-bucket caches and are no longer read" in gw.log()
