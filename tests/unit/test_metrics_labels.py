"""Metric labels fold what clients make up; who counts as a local caller.

The gateway's /metrics and /readyz: integration/test_metrics_bounds.py.
"""

from __future__ import annotations

from s3dav.networks import parse_networks
from s3dav.server.clientaddr import local_caller
from s3dav.server.metrics import method_label, status_label


def test_labels_fold_unknown_methods_and_statuses():
    assert method_label("PROPFIND") == "PROPFIND" and method_label("GET") == "GET"
    assert method_label("XQWERTY") == "OTHER" and method_label("get") == "OTHER"
    assert status_label("207") == "207" and status_label("000") == "000"
    assert status_label("999") == "other" and status_label("2x0") == "other"


def test_local_caller_rules():
    trusted = parse_networks(["127.0.0.1"])
    assert local_caller({"REMOTE_ADDR": "127.0.0.1"}, ())
    assert local_caller({"REMOTE_ADDR": "::1"}, ())
    assert not local_caller({"REMOTE_ADDR": "192.0.2.7"}, ())
    remote = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    assert not local_caller(remote, trusted)  # through a trusted proxy, from far away
    assert not local_caller(remote, ())  # through a proxy nobody declared
    assert local_caller({**remote, "HTTP_X_FORWARDED_FOR": "127.0.0.1"}, trusted)
