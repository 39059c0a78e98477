"""Which address a request really came from.

Behind a reverse proxy the connection's address is the proxy's.  The forwarded
address (``X-Forwarded-For``) is believed only when the connection comes from a proxy
the operator configured as trusted; otherwise anyone could write any address into the
header.  Walking the header from the right, the first address that is not itself a
trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        return cls(tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: TrustedProxies) -> str | None:
    """The client's address for a connection from `peer` with the given header values."""
    if peer is None or not proxies.trusts(peer):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not proxies.trusts(hop):
            return hop
    return peer
