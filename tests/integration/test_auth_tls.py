"""Login throttling, secrets kept out of logs/pages/`s3dav check`, and TLS, with real processes."""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import certifi
import pytest
import requests

from s3dav.passwords import hash_password
from tests.support import security_setup
from tests.support.helpers import TEST_ENV
from tests.support.rawhttp import send_raw
from tests.support.security_setup import PASSWORDS, basic
from tests.support.tls import self_signed


@pytest.mark.slow
def test_failed_logins_are_delayed_then_blocked_and_logged_without_password(
    s3, moto, make_gateway, bucket
):
    sec = security_setup.start(
        s3,
        moto.url,
        make_gateway,
        bucket,
        login_max_failures=3,
        login_delay="0.2s",
        login_block="3s",
    )
    port = sec.gw.port
    guess = "guess-Horse-Battery-42"
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        ans = send_raw(port, "GET", "/ann/a.txt", {"Authorization": basic("ann", guess)})
        took.append(time.monotonic() - t0)
        assert ans.status == 401
    # growing delay: 0.2s, 0.4s, 0.8s
    assert took[1] >= 0.35 and took[2] >= 0.75, took
    # Blocked now: even the right password gets 429 with Retry-After, and no S3 request.
    before = sec.proxy.requests
    blocked = send_raw(port, "GET", "/ann/a.txt", {"Authorization": basic("ann")})
    assert blocked.status == 429, blocked
    assert 1 <= int(blocked.headers["retry-after"]) <= 4
    assert sec.proxy.requests == before
    # The anonymous share still answers the same address.
    assert send_raw(port, "GET", "/pub/p.txt").status == 200
    time.sleep(3.2)
    ok = send_raw(port, "GET", "/ann/a.txt", {"Authorization": basic("ann")})
    assert (ok.status, ok.body) == (200, b"ann's file")
    log = sec.gw.log()
    assert (
        "login failed for user 'ann' on /ann from 127.0.0.1"
        " (3 failures from this address, 3 for this user name)"
    ) in log
    assert "blocking logins from 127.0.0.1" in log
    assert guess not in log and PASSWORDS["ann"] not in log
    sec.proxy.stop()


def test_behind_a_trusted_proxy_each_forwarded_client_is_throttled_alone(
    s3, moto, make_gateway, bucket
):
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=2, login_delay="0.05s", login_block="30s",
        trusted_proxies=["127.0.0.1"],
    )  # fmt: skip
    port = sec.gw.port

    def get(client: str, password: str | None = None):
        headers = {"Authorization": basic("ann", password), "X-Forwarded-For": client}
        return send_raw(port, "GET", "/ann/a.txt", headers).status

    assert [get("203.0.113.5", "wrong-1"), get("203.0.113.5", "wrong-2")] == [401, 401]
    assert get("203.0.113.5") == 429  # that client is blocked, even with the right password
    assert get("203.0.113.6") == 200  # another client behind the same proxy is not
    assert get("198.51.100.1, 203.0.113.5") == 429  # a forged hop in front changes nothing
    log = sec.gw.log()
    assert (
        "login failed for user 'ann' on /ann from 203.0.113.5"
        " (2 failures from this address, 2 for this user name)"
    ) in log
    assert "GET /ann/a.txt 200" in log and "user=ann client=203.0.113.6" in log
    sec.proxy.stop()


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(s3, moto, make_gateway, bucket):
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=2, login_delay="0.05s", login_block="30s",
    )  # fmt: skip
    port = sec.gw.port
    for guess in ("wrong-1", "wrong-2"):
        headers = {"Authorization": basic("ann", guess)}
        assert send_raw(port, "GET", "/ann/a.txt", headers).status == 401
    # A client cannot escape its block by naming another address.
    spoof = {"Authorization": basic("ann"), "X-Forwarded-For": "203.0.113.9"}
    assert send_raw(port, "GET", "/ann/a.txt", spoof).status == 429
    assert "client=127.0.0.1" in sec.gw.log() and "client=203.0.113.9" not in sec.gw.log()
    sec.proxy.stop()


def test_no_secret_in_logs_error_pages_or_check_output(s3, moto, make_gateway, bucket, tmp_path):
    access_key, secret_key = "AKIAS3DAVLEAKTEST0001", "s3cr3t-Key-must-not-leak-0123456789"
    password = "Ann-password-must-not-leak-42"
    pw_hash = hash_password(password)
    wrong = "Wrong-password-must-not-leak-17"
    env = {"LEAK_KEY_ID": access_key, "LEAK_SECRET": secret_key, "ANN_HASH": pw_hash}
    config = {
        "s3": {
            "endpoint_url": moto.url,
            "access_key_id": "${LEAK_KEY_ID}",
            "secret_access_key": "${LEAK_SECRET}",
        },
        "logging": {"level": "debug"},
        "users": {"ann": {"password_hash": "${ANN_HASH}"}},
        "shares": [
            {"path": "/", "bucket": bucket, "users": ["ann"]},
            {"path": "/missing", "bucket": "no-such-bucket-here", "users": ["ann"]},
        ],
    }
    # The gateway refuses to start with a missing bucket: that message must be clean too.
    bad = subprocess.run(
        [sys.executable, "-m", "s3dav", "serve", "--config", "/dev/stdin"],
        input=_yaml(config).encode(),
        capture_output=True,
        timeout=60,
        env={**TEST_ENV, "PATH": "/usr/bin:/bin", **env},
    )
    assert bad.returncode != 0
    config["shares"].pop()
    gw = make_gateway(config=config, env=env)
    good = {"Authorization": "Basic " + base64.b64encode(f"ann:{password}".encode()).decode()}
    badauth = {"Authorization": "Basic " + base64.b64encode(f"ann:{wrong}".encode()).decode()}
    pages = []
    for method, path, headers, body in [
        ("PUT", "/f.txt", good, b"data"),
        ("GET", "/f.txt", good, b""),
        ("GET", "/f.txt", badauth, b""),
        ("GET", "/f.txt", {}, b""),
        ("GET", "/nope.txt", good, b""),
        ("PROPFIND", "/", good, b"<bad"),
        ("GET", "/%2e%2e/x", good, b""),
        ("COPY", "/f.txt", {**good, "Destination": "/x/%00"}, b""),
        ("PROPFIND", "/", {**good, "Depth": "infinity"}, b""),
        ("GET", "/", good, b""),
    ]:
        ans = send_raw(gw.port, method, path, headers, body)
        pages.append(ans.body.decode("utf-8", "replace") + repr(ans.headers))
    gw.stop()
    check = subprocess.run(
        [sys.executable, "-m", "s3dav", "check", "--config", str(gw.config_path)],
        capture_output=True,
        timeout=120,
        env={**gw.env, **env},
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    outputs = {
        "gateway log": gw.log(),
        "error pages": "\n".join(pages),
        "check output": check.stdout.decode() + check.stderr.decode(),
        "failed start": bad.stdout.decode() + bad.stderr.decode(),
    }
    assert "login failed for user 'ann'" in outputs["gateway log"]  # the log was written
    secrets = [
        access_key,
        secret_key,
        password,
        wrong,
        pw_hash,
        pw_hash.split("$")[-1],
        good["Authorization"].split()[1],
        badauth["Authorization"].split()[1],
    ]
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}...) appears in the {where}"


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data)


def test_tls_with_a_self_signed_certificate(make_gateway, bucket, s3, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the helpers' readiness probe too
    pw = "tls-Pa55word"
    gw = make_gateway(
        config={
            "server": {"tls": {"cert": str(cert), "key": str(key)}},
            "users": {"ann": {"password_hash": hash_password(pw)}},
            "shares": [{"path": "/", "bucket": bucket, "users": ["ann"]}],
        }
    )
    assert gw.url.startswith("https://")
    auth = ("ann", pw)
    put = requests.put(gw.url + "/t.txt", data=b"over tls", auth=auth, verify=str(cert), timeout=30)
    assert put.status_code == 201
    got = requests.get(gw.url + "/t.txt", auth=auth, verify=str(cert), timeout=30)
    assert (got.status_code, got.content) == (200, b"over tls")
    assert s3.get_object(Bucket=bucket, Key="t.txt")["Body"].read() == b"over tls"
    assert requests.get(gw.url + "/t.txt", verify=str(cert), timeout=30).status_code == 401
    # A client that does not trust the certificate is refused by the TLS handshake.
    try:
        requests.get(gw.url + "/healthz", verify=certifi.where(), timeout=30)
        trusted = True
    except requests.exceptions.SSLError:
        trusted = False
    assert trusted is False
    # Plain HTTP on the TLS port gets no data, and the server keeps serving HTTPS.
    try:
        plain = requests.get(f"http://127.0.0.1:{gw.port}/t.txt", auth=auth, timeout=10)
        assert plain.status_code == 400 and b"over tls" not in plain.content
    except requests.ConnectionError:
        pass
    assert requests.get(gw.url + "/healthz", verify=str(cert), timeout=30).status_code == 200
