"""The proxy's response context and its branches (RFC 3261 §16.6, §16.7), the choice of the
best final response (§16.7 steps 6 and 7), and `Wire`, what the proxy asks of its element.

A `Context` is one received request the proxy forwarded: its server transaction, the
request as received, and one `Branch` per forwarded copy, each with its client transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.matching import ClientKey, ServerTransactionKey
from privateline.edges.sip.core.message import Message, Request, Response
from privateline.edges.sip.core.respond import reason_phrase
from privateline.edges.sip.core.uri import SipUri

Addr = tuple[str, int]


class Wire(Protocol):
    """What the proxy asks of the element that owns the transaction layer and the outbox."""

    def start(self, request: Request, destination: Addr, transport: str, now: float) -> ClientKey:
        """Send `request` on a new client transaction (§17.1)."""
        ...

    def respond(self, key: ServerTransactionKey, response: Response, now: float) -> None:
        """Send `response` on the server transaction `key` (LocalProtocolError if it takes none)."""
        ...

    def trying(self, key: ServerTransactionKey, now: float) -> None:
        """Send 100 (Trying) on an INVITE server transaction (§16.2)."""
        ...

    def send(self, message: Message, destination: Addr, transport: str) -> None:
        """Send outside any transaction (an ACK for a 2xx, a response forwarded statelessly)."""
        ...

    def cancelled_transaction(self, cancel: Request) -> ServerTransactionKey | None:
        """The INVITE server transaction a CANCEL matches (§9.2)."""
        ...

    def abandon(self, key: ClientKey) -> None:
        """Forget a client transaction given up on (§9.1), with no event."""
        ...


@dataclass(frozen=True)
class Target:
    """Where one copy of a request goes (§16.5, §16.6 item 7)."""

    uri: SipUri
    destination: Addr
    transport: str


@dataclass(eq=False)
class Branch:
    """One forwarded copy of the request (§16.6) and what came back on it."""

    key: ClientKey
    request: Request  # as forwarded (our Via on top)
    destination: Addr
    transport: str
    context: Context
    provisional: bool = False  # a 1xx came: a CANCEL may now be sent (§9.1)
    final: int | None = None  # the final status (or the one the proxy stood in for, §16.7, §16.9)
    cancel_wanted: bool = False  # cancel once a provisional arrives (§9.1)
    cancel_sent: bool = False
    deadline: float | None = None  # Timer C (§16.6 item 11), then the wait for the 487 after CANCEL
    deadline_is_timer_c: bool = True


@dataclass(eq=False)
class Context:
    """The response context of one request (§16.7)."""

    key: ServerTransactionKey
    request: Request  # as received (with received/rport stamped), for responses of our own
    source: Addr
    transport: str
    branches: list[Branch] = field(default_factory=list)
    finals: list[Response] = field(default_factory=list)  # the stored final responses (§16.7 step 4)
    sent: int | None = None  # the status of the final response sent upstream
    cancelled: bool = False
    server_alive: bool = True
    live_branches: int = 0  # branches whose client transaction is not yet terminated

    @property
    def invite(self) -> bool:
        return self.request.method == "INVITE"

    def pending(self) -> list[Branch]:
        return [b for b in self.branches if b.final is None]


def best_response(finals: list[Response]) -> Response | None:
    """§16.7 step 6: a 6xx if there is one, else one of the lowest class (the first received);
    a 503 becomes 500 (the proxy must not pass on that the next hop is unavailable); for a
    401 or 407, step 7 gathers every challenge of all the 401 and 407 responses into it."""
    if not finals:
        return None
    global_failure = next((r for r in finals if r.status >= 600), None)
    chosen = global_failure or min(finals, key=lambda r: r.status // 100)
    if chosen.status == 503:
        return Response(500, reason_phrase(500), chosen.headers, chosen.body)
    if chosen.status in (401, 407):
        gathered: list[tuple[str, str]] = []
        for response in finals:
            if response.status in (401, 407):
                gathered += [
                    (name, value)
                    for name, value in response.headers
                    if name in ("WWW-Authenticate", "Proxy-Authenticate")
                ]
        kept = [(n, v) for n, v in chosen.headers if n not in ("WWW-Authenticate", "Proxy-Authenticate")]
        return Response(chosen.status, chosen.reason, Headers([*kept, *gathered]), chosen.body)
    return chosen
