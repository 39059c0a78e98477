"""The transaction timers (RFC 3261 §17, Table 4 in Appendix A; RFC 6026 §8.2 to §8.4).

Times are floats in seconds that the caller passes in (`now`): this layer owns no clock.  The
three base values are settings; every timer is derived from them as the RFC's table says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Timer(Enum):
    """The named timers of RFC 3261 §17 (A to K) and RFC 6026 (L, M)."""

    A = "A"  # INVITE request retransmit interval, UDP only (§17.1.1.2)
    B = "B"  # INVITE transaction timeout (§17.1.1.2)
    D = "D"  # wait time for response retransmissions (§17.1.1.2)
    E = "E"  # non-INVITE request retransmit interval, UDP only (§17.1.2.2)
    F = "F"  # non-INVITE transaction timeout (§17.1.2.2)
    G = "G"  # INVITE response retransmit interval (§17.2.1)
    H = "H"  # wait time for ACK receipt (§17.2.1)
    I = "I"  # wait time for ACK retransmissions (§17.2.1)  # noqa: E741
    J = "J"  # wait time for non-INVITE request retransmissions (§17.2.2)
    K = "K"  # wait time for response retransmissions (§17.1.2.2)
    L = "L"  # wait time for accepted INVITE request retransmissions (RFC 6026 §8.7)
    M = "M"  # wait time for retransmission of 2xx to INVITE (RFC 6026 §8.4)


@dataclass(frozen=True)
class TimerSettings:
    """T1, T2, T4 (§17.1.1.1, §17.1.2.2) and Timer D's floor (§17.1.1.2: "at least 32 seconds")."""

    t1: float = 0.5  # RTT estimate
    t2: float = 4.0  # the maximum retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # the maximum duration a message remains in the network
    timer_d: float = 32.0

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.t4 <= 0 or self.timer_d < 0:
            raise ValueError("timer settings need 0 < T1 <= T2, T4 > 0 and Timer D >= 0")

    @property
    def timeout(self) -> float:
        """64*T1: Timers B, F, H, J (unreliable), L and M."""
        return 64 * self.t1

    def wait_d(self, reliable: bool) -> float:
        """Timer D: at least 32 s for unreliable transports, zero for reliable ones (§17.1.1.2)."""
        return 0.0 if reliable else self.timer_d

    def wait_k(self, reliable: bool) -> float:
        """Timer K: T4 unreliable, zero reliable (§17.1.2.2)."""
        return 0.0 if reliable else self.t4

    def wait_i(self, reliable: bool) -> float:
        """Timer I: T4 unreliable, zero reliable (§17.2.1)."""
        return 0.0 if reliable else self.t4

    def wait_j(self, reliable: bool) -> float:
        """Timer J: 64*T1 unreliable, zero reliable (§17.2.2)."""
        return 0.0 if reliable else self.timeout


DEFAULT_TIMERS = TimerSettings()


# §18.1.1, §17.1.1.2: retransmissions and the waiting timers apply to unreliable transports only.
UNRELIABLE_TRANSPORTS = frozenset({"UDP", "DTLS"})


def is_reliable(transport: str) -> bool:
    """Whether a Via transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ...) is reliable."""
    return transport.upper() not in UNRELIABLE_TRANSPORTS
