"""The cheap bulk HEAD path against moto's server: same answers as boto3, counted once."""

from __future__ import annotations

import pytest

from s3dav.quickhead import FALLBACK, GIVE_UP_AFTER, QuickHead
from s3dav.s3client import RequestCounter, S3Settings, make_client
from tests.helpers import TEST_ENV

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
    gone = QuickHead(client, bucket, counter)
    gone.base = f"http://127.0.0.1:1/{bucket}/"
    assert gone("plain.txt") is FALLBACK
    # After GIVE_UP_AFTER such answers in a row it pauses: each HEAD is not paid twice.
    sent = counter.snapshot()["by_kind"]["HEAD"]
    for _ in range(GIVE_UP_AFTER + 5):
        assert gone("plain.txt") is FALLBACK
    assert counter.snapshot()["by_kind"]["HEAD"] == sent + GIVE_UP_AFTER - 1
    gone.paused_until = 0.0  # the pause is over: it tries again
    gone("plain.txt")
    assert counter.snapshot()["by_kind"]["HEAD"] == sent + GIVE_UP_AFTER
