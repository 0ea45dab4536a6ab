"""store/s3client.py reads S3's ISO 8601 times with the standard library (a LIST page's
1000 LastModified were three quarters of its parse), the same instants as botocore's."""

from __future__ import annotations

import pytest
from botocore import utils

from s3dav.store.s3client import RequestCounter, S3Settings, fast_timestamp, make_client

TIMES = [
    "2026-01-01T00:00:00.000Z",
    "2026-12-02T18:51:07Z",
    "2026-12-02T18:51:07.123456Z",
    "2026-12-02T18:51:07.1234567Z",
    "2026-12-02T20:51:07+02:00",
    "2026-12-02T18:51:07",  # no zone: botocore's reading
    "Wed, 02 Dec 2026 18:51:07 GMT",  # an HTTP date: botocore's
    "1764701467",
    1764701467,
]


@pytest.mark.parametrize("value", TIMES)
def test_the_same_instant_as_botocore(value):
    ours, theirs = fast_timestamp(value), utils.parse_timestamp(value)
    assert (ours.tzinfo is None) == (theirs.tzinfo is None)
    assert ours.timestamp() == theirs.timestamp()


def test_garbage_is_botocores_to_refuse():
    with pytest.raises(ValueError):
        fast_timestamp("2026-13-45T99:00:00Z")


def test_the_gateways_client_parses_with_it():
    client = make_client(
        S3Settings(endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b"),
        RequestCounter(),
    )
    factory = client._endpoint._response_parser_factory  # what parses every answer
    assert factory.create_parser("rest-xml")._timestamp_parser is fast_timestamp
