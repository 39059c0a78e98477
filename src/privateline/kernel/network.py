"""Shortening client addresses before anything stores them.

Promises WEB-4, WEB-6, WEB-7 (and WEB-10/WEB-11 later): the full client address is
used only to answer the request; what is kept is the network prefix, IPv4 cut to /24
and IPv6 to /48, the usual granularity of a customer's access network, so a stored
address no longer points to one connection.
"""

from __future__ import annotations

import functools
import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncate_address(address: str) -> str | None:
    """The network prefix of `address` as text, or None when it is not an IP address.

    An IPv4 address mapped into IPv6 (``::ffff:192.0.2.7``) is treated as IPv4, so the
    mapping cannot smuggle the full address past the /48 cut.
    """
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return str(network.network_address)


# One client can rotate freely within an IPv6 /64, so that is what counts as one source.
IPV6_SOURCE_PREFIX = 64


# Sources repeat (a phone registers every few minutes, a browser sends many requests): the
# answer for each is remembered, up to a bound, instead of parsed by `ipaddress` every time.
@functools.lru_cache(maxsize=4096)
def source_key(address: str | None) -> str:
    """What counts as one source for the limits on sign-ins and link requests (R-12).

    An IPv4 address is itself; an IPv6 address counts as its /64 (IPv4-mapped ones as
    the IPv4 address), so rotating through one's own /64 does not reset the count.
    """
    if address is None:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_SOURCE_PREFIX}", strict=False))
    return str(ip)
