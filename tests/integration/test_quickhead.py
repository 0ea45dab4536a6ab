"""The cheap bulk HEAD path against moto's server: same answers as boto3, counted once."""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3dav.store.quickhead import FALLBACK, GIVE_UP_AFTER, QuickHead, plain_http_for
from s3dav.store.s3client import RequestCounter, S3Settings, make_client
from tests.support.helpers import TEST_ENV

KEYS = [
    "plain.txt",
    "folder/with space.txt",
    "ünïcödé/naïve café.txt",
    "plus+and%percent~tilde.bin",
    "odd/chars=&;,$@!'()*.txt",
    "question?mark#hash.txt",
]


@pytest.fixture
def client_and_counter(moto):
    counter = RequestCounter()
    settings = S3Settings(
        endpoint_url=moto.url,
        access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    return make_client(settings, counter), counter


def test_answers_like_boto3_for_awkward_keys(s3, bucket, client_and_counter):
    client, counter = client_and_counter
    for i, key in enumerate(KEYS):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=b"x" * (i + 1),
            ContentType="text/plain",
            Metadata={"mtime": str(1_600_000_000 + i), "mode": "33188"},
        )
    quick = QuickHead(client, bucket, counter)
    for key in KEYS:
        got = quick(key)
        assert got is not FALLBACK, key
        want = s3.head_object(Bucket=bucket, Key=key)
        assert got["ETag"] == want["ETag"]
        assert got["ContentLength"] == want["ContentLength"]
        assert got["LastModified"] == want["LastModified"]
        assert got["ContentType"] == want["ContentType"]
        assert {k.lower(): v for k, v in got["Metadata"].items()} == want["Metadata"]
    assert counter.snapshot()["by_kind"] == {"HEAD": len(KEYS)}


def test_missing_key_is_none_and_other_errors_fall_back(s3, bucket, client_and_counter):
    client, counter = client_and_counter
    assert QuickHead(client, bucket, counter)("no/such/key") is None
    # An endpoint that does not answer is not "missing": boto3's path decides.
    dead = make_client(
        S3Settings(endpoint_url="http://127.0.0.1:1", access_key_id="a", secret_access_key="b"),
        counter,
    )
    gone = QuickHead(dead, bucket, counter)
    assert gone("plain.txt") is FALLBACK
    # After GIVE_UP_AFTER such answers in a row it pauses: each HEAD is not paid twice.
    sent = counter.snapshot()["by_kind"]["HEAD"]
    for _ in range(GIVE_UP_AFTER + 5):
        assert gone("plain.txt") is FALLBACK
    assert counter.snapshot()["by_kind"]["HEAD"] == sent + GIVE_UP_AFTER - 1
    gone.paused_until = 0.0  # the pause is over: it tries again
    gone("plain.txt")
    assert counter.snapshot()["by_kind"]["HEAD"] == sent + GIVE_UP_AFTER


def test_a_proxy_keeps_botocores_session(moto):
    proxied = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        config=Config(proxies={"http": "http://127.0.0.1:9"}),
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    assert plain_http_for(proxied, moto.url + "/bkt/") is None
    assert plain_http_for(proxied, "https://s3.example.com/bkt/") is None


def sigv4_valid(method: str, target: str, headers: dict[str, str], secret: str) -> bool:
    """Check a request's SigV4 signature the way S3 does, from what was received."""
    m = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=(\w+)",
        headers["Authorization"],
    )
    credential, signed, signature = m.groups()
    _, date, region, service, _ = credential.split("/")
    got = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    path, _, query = target.partition("?")
    canonical = "\n".join([
        method, path, query,
        "".join(f"{h}:{got[h]}\n" for h in signed.split(";")),
        signed, got["x-amz-content-sha256"],
    ])  # fmt: skip
    scope = f"{date}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["AWS4-HMAC-SHA256", got["x-amz-date"], scope, digest])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == signature


@pytest.fixture
def recorder():
    """A loopback HTTP server that answers every HEAD 404 and keeps what it received."""
    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self):
            seen.append((self.path, dict(self.headers.items())))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_what_is_sent_is_what_was_signed(recorder):
    url, seen = recorder
    secret = "s3cr3t/key+"
    counter = RequestCounter()
    client = make_client(
        S3Settings(endpoint_url=url, access_key_id="AKIDTEST", secret_access_key=secret), counter
    )
    quick = QuickHead(client, "bkt", counter)
    assert quick.plain is not None
    for key in KEYS:
        assert quick(key) is None  # 404
    with pytest.raises(ClientError):  # the verifier agrees with boto3's own requests
        client.head_object(Bucket="bkt", Key=KEYS[2])
    assert len(seen) == len(KEYS) + 1
    for target, headers in seen:
        assert sigv4_valid("HEAD", target, headers, secret), (target, headers)
    target, headers = seen[0]
    assert not sigv4_valid("HEAD", target + "x", headers, secret)  # and it can say no


def test_a_connection_closed_while_idle_is_replaced(recorder):
    url, seen = recorder
    counter = RequestCounter()
    client = make_client(
        S3Settings(endpoint_url=url, access_key_id="a", secret_access_key="b"), counter
    )
    quick = QuickHead(client, "bkt", counter)
    assert quick("one") is None
    kept = quick.plain._local.conn
    assert kept is not None  # HTTP/1.1 keep-alive: the connection stays for the next HEAD
    assert quick("two") is None and quick.plain._local.conn is kept
    kept.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout does
    assert quick("three") is None  # not FALLBACK: one new connection, no second HEAD counted
    assert quick.plain._local.conn is not kept
    assert [path for path, _ in seen] == ["/bkt/one", "/bkt/two", "/bkt/three"]
    assert counter.snapshot()["by_kind"] == {"HEAD": 3}
