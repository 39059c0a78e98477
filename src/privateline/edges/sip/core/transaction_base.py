"""What the four transaction machines share: state, timers, and an outbox of events and
messages (RFC 3261 §17).

A machine is fed messages and `now` and never reads a clock: it keeps each running timer as
the time it is due, says when the earliest is (`next_timer`), and fires what is due when
called back (`handle_timer`).  A timer of zero seconds (Timers D, I, J, K on a reliable
transport) fires at once, so the machine goes straight to Terminated.  What a machine has to
say is collected until `drain()`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Generic, TypeVar

from privateline.edges.sip.core.matching import TransactionKey
from privateline.edges.sip.core.message import Message
from privateline.edges.sip.core.timers import Timer, TimerSettings
from privateline.edges.sip.core.transaction_events import Addr, Outgoing, TransactionEvent, TransactionTerminated


class State(Enum):
    """The states of Figures 5 to 8 of RFC 3261, and Accepted of RFC 6026."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


RETRANSMISSION_TIMERS = frozenset({Timer.A, Timer.E, Timer.G})

K = TypeVar("K", bound=TransactionKey)


class Transaction(Generic[K]):
    """Base of the four machines; `peer` is where this transaction's messages go."""

    state: State

    def __init__(self, key: K, peer: Addr, *, reliable: bool, settings: TimerSettings) -> None:
        self.key = key
        self.peer = peer
        self.reliable = reliable
        self.settings = settings
        self._timers: dict[Timer, float] = {}
        self._events: list[TransactionEvent] = []
        self._sends: list[Outgoing] = []
        # Kept by the TransactionLayer that owns this transaction: its rank among transactions
        # when timers tie, and its live entry in the layer's timer heap (see `transactions`).
        self.order: tuple[int, int] = (0, 0)
        self.heap_entry: tuple[Any, ...] | None = None

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def timers(self) -> dict[Timer, float]:
        """The running timers and when each is due (a copy)."""
        return dict(self._timers)

    def next_timer(self) -> float | None:
        timers = self._timers
        return min(timers.values()) if timers else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at `now`, earliest first; on a tie a timeout (B, F, H) before a
        retransmission (A, E, G), so nothing is resent at the moment the transaction gives up."""
        while True:
            due = [(when, timer in RETRANSMISSION_TIMERS, timer.value, timer) for timer, when in self._timers.items()]
            due = [item for item in due if item[0] <= now]
            if not due:
                return
            *_, timer = min(due)
            del self._timers[timer]
            self._fire(timer, now)

    def drain(self) -> tuple[list[TransactionEvent], list[Outgoing]]:
        """The events and messages collected since the last call."""
        events, sends = self._events, self._sends
        self._events, self._sends = [], []
        return events, sends

    def transport_error(self, now: float) -> None:
        """The transport failed to send a message of this transaction (§17.1.4, §17.2.4)."""
        raise NotImplementedError

    def _fire(self, timer: Timer, now: float) -> None:
        raise NotImplementedError

    def _start(self, timer: Timer, duration: float, now: float) -> None:
        if duration <= 0:
            self._fire(timer, now)
        else:
            self._timers[timer] = now + duration

    def _stop(self, *timers: Timer) -> None:
        for timer in timers:
            self._timers.pop(timer, None)

    def _send(self, message: Message) -> None:
        self._sends.append(Outgoing(message, self.peer, self.key))

    def _emit(self, event: TransactionEvent) -> None:
        self._events.append(event)

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._timers.clear()
        self._emit(TransactionTerminated(self.key))
