"""Login throttling against a running gateway: no reset by another user's login, no parallel
burst past the limit, per-user-name counting, and unknown names hashed in the log (issue 18).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import security_setup
from tests.support.rawhttp import send_raw
from tests.support.security_setup import basic


def _get(port: int, share: str, auth: str, client: str | None = None) -> int:
    headers = {"Authorization": auth}
    if client is not None:
        headers["X-Forwarded-For"] = client
    path = {"ann": "/ann/a.txt", "bob": "/bob/secret.txt"}[share]
    return send_raw(port, "GET", path, headers).status


def test_own_valid_logins_between_guesses_do_not_reset_the_count(s3, moto, make_gateway, bucket):
    """bob (the attacker, with his own account) guesses ann's password from one address."""
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=3, login_delay="0.05s", login_block="30s",
    )  # fmt: skip
    port = sec.gw.port
    statuses = []
    for i in range(4):
        statuses.append(_get(port, "ann", basic("ann", f"guess-{i}")))
        statuses.append(_get(port, "bob", basic("bob")))  # bob's own right password
    assert statuses == [401, 200, 401, 200, 401, 429, 429, 429]
    log = sec.gw.log()
    assert len(re.findall(r"login failed for user 'ann'", log)) == 3
    assert "blocking logins from 127.0.0.1 for 30s after 3 failures" in log
    sec.proxy.stop()


def test_parallel_guesses_are_reserved_before_the_check(s3, moto, make_gateway, bucket):
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=5, login_delay="0.05s", login_block="30s",
    )  # fmt: skip
    port = sec.gw.port
    with ThreadPoolExecutor(40) as pool:
        statuses = list(
            pool.map(lambda i: _get(port, "ann", basic("ann", f"parallel-{i}")), range(40))
        )
    assert (statuses.count(401), statuses.count(429), len(statuses)) == (5, 35, 40)
    assert len(re.findall(r"login failed for user 'ann'", sec.gw.log())) == 5
    assert _get(port, "ann", basic("ann")) == 429  # blocked now, the right password too
    sec.proxy.stop()


@pytest.mark.slow
def test_guesses_at_one_name_from_many_addresses_block_that_name_for_a_while(
    s3, moto, make_gateway, bucket
):
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=3, login_user_max_failures=4, login_delay="0.05s", login_block="6s",
        trusted_proxies=["127.0.0.1"],
    )  # fmt: skip
    port = sec.gw.port
    assert _get(port, "ann", basic("ann"), "203.0.113.1") == 200  # ann's own device
    guesses = [_get(port, "ann", basic("ann", f"g-{i}"), f"198.51.100.{i}") for i in range(4)]
    assert guesses == [401, 401, 401, 401]  # one guess per address: no address is blocked
    assert _get(port, "ann", basic("ann", "g-9"), "198.51.100.9") == 429  # the name is
    assert _get(port, "ann", basic("ann"), "198.51.100.10") == 429  # even the right password
    assert _get(port, "ann", basic("ann"), "203.0.113.1") == 200  # but not on ann's device
    assert _get(port, "bob", basic("bob"), "198.51.100.9") == 200  # other names are free
    log = sec.gw.log()
    assert "blocking logins as user 'ann' for 6s after 4 failures" in log
    time.sleep(6.2)  # the block ends: ann is not locked out for good
    assert _get(port, "ann", basic("ann"), "198.51.100.10") == 200
    sec.proxy.stop()


def test_unknown_user_names_are_logged_as_a_short_hash(s3, moto, make_gateway, bucket):
    sec = security_setup.start(
        s3, moto.url, make_gateway, bucket,
        login_max_failures=5, login_delay="0.05s", login_block="30s",
    )  # fmt: skip
    port = sec.gw.port
    typed = "Password-typed-as-user-77"  # a password typed into the user field
    for _ in range(2):
        auth = "Basic " + base64.b64encode(f"{typed}:x".encode()).decode()
        assert _get(port, "ann", auth) == 401
    assert _get(port, "ann", basic("ann", "wrong")) == 401
    log = sec.gw.log()
    tag = "?sha256:" + hashlib.sha256(typed.encode()).hexdigest()[:8]
    assert len(re.findall(re.escape(f"login failed for user {tag} on /ann"), log)) == 2
    assert "login failed for user 'ann' on /ann" in log  # a known name as it is
    assert typed not in log
    sec.proxy.stop()
