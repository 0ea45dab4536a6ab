"""/metrics stays bounded whatever methods clients make up; /readyz tells strangers little.

(issue 18, "Also": 3,000 requests with made-up methods grew /metrics from 52 KB
to 4.5 MB; /readyz named the bucket to anyone.)
"""

from __future__ import annotations

import random
import string

import requests


def made_up_method(rng: random.Random) -> str:
    return "X" + "".join(rng.choices(string.ascii_uppercase, k=10))


def test_made_up_methods_do_not_grow_metrics(make_gateway, bucket):
    gw = make_gateway(bucket)
    rng = random.Random(19)
    with requests.Session() as session:
        session.request(made_up_method(rng), gw.url + "/", timeout=10)  # OTHER exists now
        before = len(session.get(gw.url + "/metrics", timeout=10).content)
        statuses = set()
        for _ in range(3000):
            r = session.request(made_up_method(rng), gw.url + "/x.txt", timeout=10)
            statuses.add(r.status_code)
        text = session.get(gw.url + "/metrics", timeout=10).text
    assert statuses <= {400, 405, 501}, statuses
    assert len(text.encode()) < 1.2 * before, (before, len(text.encode()))
    other = [
        ln for ln in text.splitlines() if ln.startswith('s3dav_http_requests_total{method="OTHER"')
    ]
    assert sum(float(ln.rsplit(" ", 1)[1]) for ln in other) == 3001
    assert 'method="X' not in text


def test_readyz_names_no_bucket_to_a_remote_caller(make_gateway, bucket, s3):
    gw = make_gateway(bucket, config={"server": {"trusted_proxies": ["127.0.0.1"]}})
    s3.delete_bucket(Bucket=bucket)  # not ready: the detail would name the bucket
    remote = gw.request("GET", "/readyz", headers={"X-Forwarded-For": "203.0.113.5"})
    assert remote.status_code == 503
    assert remote.text == "not ready\n"
    local = gw.request("GET", "/readyz")
    assert local.status_code == 503
    assert local.text == f"bucket {bucket} unreachable: ClientError\n"
