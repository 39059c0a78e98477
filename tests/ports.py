"""Ports for the servers and peers a test starts in other processes.

A program in another process cannot be handed a bound socket, so the test picks a port that is free
now and the program binds it a moment later.  The pick is made to lose that race as rarely as may be.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

_handed_out: set[int] = set()


def _ephemeral_range() -> range:
    """The ports the kernel gives to outgoing connections and `bind(0)` (Linux's ip_local_port_range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(span: int = 1) -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (the SIP server binds both, RFC 3261 §18), with
    the `span - 1` ports after it free too.

    The port is taken from below the kernel's ephemeral range: a port that `bind(0)` had just
    handed out could be given to another process's outgoing connection before the program under
    test binds it ("Address already in use").  No port is handed out twice by one test process.
    """
    ephemeral = _ephemeral_range()
    low, high = 20000, min(ephemeral.start, 65536) - span
    if high - low < 1000:  # an unusual ip_local_port_range: take any port outside it
        low, high = 1024, 65536 - span
    for _ in range(200):
        # Not `random`: pytest-randomly seeds it alike in every xdist worker, so they would all
        # try the same ports in the same order.
        port = low + secrets.randbelow(high - low)
        ports = range(port, port + span)
        if any(p in _handed_out or p in ephemeral for p in ports):
            continue
        if all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return port
    raise RuntimeError("no free port on 127.0.0.1")
