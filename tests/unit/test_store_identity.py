"""A store's identity is a pure function of endpoint, bucket and prefix.

Two gateways on one cache directory: integration/test_cache_identity.py.
"""

from __future__ import annotations

import re

from s3dav.store.stores import normalize_endpoint, store_identity


def test_identity_is_a_pure_function_of_endpoint_bucket_prefix():
    assert normalize_endpoint("HTTP://Host.Example:80/", "us-east-1") == "http://host.example"
    assert normalize_endpoint("https://h:443", "x") == "https://h"
    assert normalize_endpoint("http://[::1]:9000", "x") == "http://[::1]:9000"
    assert normalize_endpoint(None, "eu-west-1") == "aws:eu-west-1"
    a = store_identity("http://h:9000", "r", "b", "p/")
    assert a == store_identity("HTTP://H:9000/", "r", "b", "p/")
    others = [
        store_identity("http://h:9001", "r", "b", "p/"),
        store_identity("http://h:9000", "r", "c", "p/"),
        store_identity("http://h:9000", "r", "b", ""),
    ]
    assert len({a.dirname, *(o.dirname for o in others)}) == 4
    assert re.fullmatch(r"b_p-[0-9a-f]{16}", a.dirname)
