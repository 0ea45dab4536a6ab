"""The client address behind a reverse proxy (s3dav/server/clientaddr.py): pure logic."""

from __future__ import annotations

import pytest

from s3dav.config import ConfigError
from s3dav.networks import parse_networks
from s3dav.options import parse_networks_list
from s3dav.server.clientaddr import client_address, parse_hop

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    "peer, xff, want",
    [
        ("127.0.0.1", None, "127.0.0.1"),  # no header: the peer
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
        ("127.0.0.1", "203.0.113.5, 10.1.2.3", "203.0.113.5"),  # through two proxies
        ("127.0.0.1", "198.51.100.9, 203.0.113.5", "203.0.113.5"),  # a forged left hop
        ("127.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "2001:db8::7", "2001:db8::7"),
        ("127.0.0.1", "10.9.9.9, 10.1.1.1", "10.9.9.9"),  # all trusted: the farthest
        ("127.0.0.1", "evil<script>, 10.1.1.1", "10.1.1.1"),  # no address: its reporter
        ("127.0.0.1", "evil", "127.0.0.1"),
        ("::ffff:127.0.0.1", "203.0.113.5", "203.0.113.5"),  # dual-stack peer
        ("fd00::1", "203.0.113.5", "203.0.113.5"),
        ("192.0.2.1", "203.0.113.5", "192.0.2.1"),  # untrusted peer: header ignored
    ],
)
def test_client_address(peer, xff, want):
    assert client_address(peer, xff, TRUSTED) == want


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("127.0.0.1", "203.0.113.5", ()) == "127.0.0.1"


def test_parse_hop_rejects_what_is_no_address():
    assert parse_hop("unknown") is None and parse_hop("") is None
    assert str(parse_hop(" 192.0.2.1 ")) == "192.0.2.1"


def test_config_takes_a_list_or_comma_separated_text_and_names_a_bad_entry():
    assert parse_networks_list(["10.0.0.1/8", "::1"], "k") == ["10.0.0.0/8", "::1/128"]
    assert parse_networks_list("10.0.0.0/8, 192.168.1.2", "k") == ["10.0.0.0/8", "192.168.1.2/32"]
    assert parse_networks_list("", "k") == []
    with pytest.raises(ConfigError, match="server.trusted_proxies: .*'nginx'"):
        parse_networks_list(["10.0.0.0/8", "nginx"], "server.trusted_proxies")
