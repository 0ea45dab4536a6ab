"""Address ranges in settings (`server.trusted_proxies`), parsed once.

Top level, not in server/: the option table (options.py) checks them when the
configuration is loaded, the server's client-address logic uses them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges ("10.0.0.0/8", "::1"); ValueError names a bad one."""
    nets = []
    for item in items:
        text = str(item).strip()
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {text!r}") from None
    return tuple(nets)
