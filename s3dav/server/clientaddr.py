"""Which address a request comes from, also behind a reverse proxy.

Behind Caddy, nginx or Traefik every request's TCP peer is the proxy, so login
throttling keyed on the peer would let one client's wrong passwords block
everyone. When the peer is one of `server.trusted_proxies`, the client is the
right-most `X-Forwarded-For` hop that is not itself a trusted proxy (what
nginx's `real_ip_recursive` does). From any other peer the header is ignored:
a client cannot pick its own throttling key by sending one.
"""

from __future__ import annotations

import ipaddress

from s3dav.networks import Network

# The WSGI environ key under which GatewayApp leaves the request's client address.
CLIENT_ADDR = "s3dav.client_addr"


def parse_hop(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or
    "[2001:db8::1]:443"; None when it is no address."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(addr, trusted: tuple[Network, ...]) -> bool:
    if addr is None:
        return False
    if getattr(addr, "ipv4_mapped", None) is not None:
        addr = addr.ipv4_mapped  # ::ffff:10.0.0.1 on a dual-stack socket
    return any(addr.version == net.version and addr in net for net in trusted)


def is_loopback(address: str) -> bool:
    """Is `address` (client_address()'s answer) this machine's loopback (127/8, ::1, mapped)?"""
    addr = parse_hop(address)
    if addr is None:
        return False
    if getattr(addr, "ipv4_mapped", None) is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def local_caller(environ: dict, trusted: tuple[Network, ...]) -> bool:
    """Does a request come from this machine itself (not through a proxy on it)?

    The client address (as client_address() finds it) must be loopback; and a
    request that an untrusted loopback peer forwarded (it carries a forwarding
    header) is a remote caller behind a proxy that `server.trusted_proxies`
    does not name, so it is not local either.
    """
    peer = environ.get("REMOTE_ADDR", "-")
    if not is_loopback(client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), trusted)):
        return False
    if is_trusted(parse_hop(peer), trusted):
        return True
    return not any(environ.get(h) for h in FORWARDING_HEADERS)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The address to log and throttle a request by.

    `peer` unless it is a trusted proxy and `forwarded_for` is set; then the
    right-most hop that is not a trusted proxy. A hop that is no address ends
    the walk: the trusted proxy that reported it stands for the client.
    """
    if not trusted or not forwarded_for or not is_trusted(parse_hop(peer), trusted):
        return peer
    nearest = peer
    for hop in reversed(forwarded_for.split(",")):
        addr = parse_hop(hop)
        if addr is None:
            return nearest
        if not is_trusted(addr, trusted):
            return str(addr)
        nearest = str(addr)
    return nearest


def request_client(environ: dict) -> str:
    """The client address GatewayApp worked out, else the TCP peer."""
    return environ.get(CLIENT_ADDR) or environ.get("REMOTE_ADDR", "-")
