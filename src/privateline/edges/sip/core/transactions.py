"""The transaction layer (RFC 3261 §17): it owns the client and server transactions keyed by
their ids (`matching`), routes each received message to its transaction, and collects what
they have to say.

Sans-IO: the caller feeds parsed messages with their source address and `now`
(`receive`), the TU's requests and responses (`send_request`, `respond`), and the time
(`handle_timer` when `next_timer()` is due); it reads back events for the TU
(`next_event`) and messages for the transport (`data_to_send`).  A transaction that reaches
Terminated is forgotten, after a `TransactionTerminated` event.

Whether a transport is reliable is read from the top Via (§18.1.1, §18.2.1) unless given.
"""

from __future__ import annotations

from collections import deque

from privateline.edges.sip.core.client_transactions import (
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from privateline.edges.sip.core.matching import (
    ClientKey,
    LegacyServerKey,
    LocalProtocolError,
    ServerTransactionKey,
    TransactionKey,
    client_key,
    invite_key_of_cancel,
    request_client_key,
    server_key,
)
from privateline.edges.sip.core.message import Message, Request, Response
from privateline.edges.sip.core.server_transactions import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)
from privateline.edges.sip.core.timers import DEFAULT_TIMERS, TimerSettings, is_reliable
from privateline.edges.sip.core.transaction_base import State
from privateline.edges.sip.core.transaction_events import (
    Addr,
    BadMessage,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
)


def _reliable(message: Message, reliable: bool | None) -> bool:
    if reliable is not None:
        return reliable
    via = message.top_via
    return via is not None and is_reliable(via.transport)


class TransactionLayer:
    """All transactions of one element, keyed by `ClientKey` and `ServerKey` / `LegacyServerKey`."""

    def __init__(self, settings: TimerSettings = DEFAULT_TIMERS) -> None:
        self.settings = settings
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerTransactionKey, ServerTransaction] = {}
        self._events: deque[TransactionEvent] = deque()
        self._sends: list[Outgoing] = []

    # --- what the TU asks ---------------------------------------------------------------

    def send_request(
        self, request: Request, destination: Addr, now: float, *, reliable: bool | None = None
    ) -> ClientKey:
        """Start a client transaction for `request` (§17.1); its key is the transaction id.

        An ACK is not sent this way: the one for a non-2xx is the transaction's, the one for a
        2xx is the TU's own (§13.2.2.4, `send_stateless`).
        """
        if request.method == "ACK":
            raise LocalProtocolError("an ACK has no client transaction (§17.1.1.3, §13.2.2.4): use send_stateless")
        key = request_client_key(request)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction with branch {key.branch} and {key.method} exists")
        is_reliable_ = _reliable(request, reliable)
        transaction: ClientTransaction
        if request.method == "INVITE":
            transaction = InviteClientTransaction(
                request, destination, now, reliable=is_reliable_, settings=self.settings
            )
        else:
            transaction = NonInviteClientTransaction(
                request, destination, now, reliable=is_reliable_, settings=self.settings
            )
        self._clients[key] = transaction
        self._collect(transaction)
        return key

    def send_stateless(self, message: Message, destination: Addr) -> None:
        """Send outside any transaction: the ACK for a 2xx, a response forwarded statelessly (§16.7, §16.11)."""
        self._sends.append(Outgoing(message, destination, None))

    def respond(self, key: ServerTransactionKey, response: Response, now: float) -> None:
        """The TU's response on the server transaction `key` (§17.2.1, §17.2.2)."""
        transaction = self._server(key)
        transaction.respond(response, now)
        self._collect(transaction)

    def send_trying(self, key: ServerTransactionKey, now: float) -> Response:
        """Send 100 (Trying) on the INVITE server transaction `key` (§17.2.1: the TU's choice
        when it will not answer within 200 ms)."""
        transaction = self._server(key)
        if not isinstance(transaction, InviteServerTransaction):
            raise LocalProtocolError("100 (Trying) is sent here only for INVITE (§17.2.2: non-INVITE waits)")
        trying = transaction.send_trying(now)
        self._collect(transaction)
        return trying

    def cancelled_transaction(self, cancel: Request) -> ServerTransactionKey | None:
        """The INVITE server transaction a received CANCEL names (§9.2), if it still exists."""
        key = server_key(cancel)
        if cancel.method != "CANCEL" or key is None:
            return None
        invite = invite_key_of_cancel(key)
        return invite if invite in self._servers else None

    # --- what the transport reports -----------------------------------------------------

    def receive(self, message: Message, source: Addr, now: float, *, reliable: bool | None = None) -> None:
        """A parsed message from `source`: matched to its transaction (§17.1.3, §17.2.3) or a new one."""
        if isinstance(message, Response):
            self._receive_response(message, source, now)
        else:
            self._receive_request(message, source, now, _reliable(message, reliable))

    def transport_error(self, key: TransactionKey, now: float) -> None:
        """The transport failed to send a message of `key` (§17.1.4, §17.2.4); unknown keys are ignored."""
        transaction = self._clients.get(key) if isinstance(key, ClientKey) else self._servers.get(key)
        if transaction is not None:
            transaction.transport_error(now)
            self._collect(transaction)

    # --- time ---------------------------------------------------------------------------

    def next_timer(self) -> float | None:
        """When the earliest timer of any transaction is due; None when none runs."""
        return min(
            (when for t in self._transactions() if (when := t.next_timer()) is not None),
            default=None,
        )

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at `now`, transaction by transaction, earliest first."""
        due = [(when, i, t) for i, t in enumerate(self._transactions()) if (when := t.next_timer()) is not None]
        for when, _, transaction in sorted(due, key=lambda item: (item[0], item[1])):
            if when <= now:
                transaction.handle_timer(now)
                self._collect(transaction)

    # --- what comes out -----------------------------------------------------------------

    def next_event(self) -> TransactionEvent | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> list[Outgoing]:
        sends, self._sends = self._sends, []
        return sends

    # --- inspection ---------------------------------------------------------------------

    def state(self, key: TransactionKey) -> State | None:
        """The state of a live transaction; None once it is terminated and forgotten."""
        transaction = self._clients.get(key) if isinstance(key, ClientKey) else self._servers.get(key)
        return None if transaction is None else transaction.state

    def __contains__(self, key: object) -> bool:
        return key in self._clients or key in self._servers

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    # --- inside -------------------------------------------------------------------------

    def _transactions(self) -> list[ClientTransaction | ServerTransaction]:
        return [*self._clients.values(), *self._servers.values()]

    def _server(self, key: ServerTransactionKey) -> ServerTransaction:
        transaction = self._servers.get(key)
        if transaction is None:
            raise LocalProtocolError(f"no server transaction {key}")
        return transaction

    def _receive_response(self, response: Response, source: Addr, now: float) -> None:
        key = client_key(response)
        if key is None:
            self._events.append(BadMessage(response, source, "a response without a top Via branch or CSeq"))
            return
        transaction = self._clients.get(key)
        if transaction is None:
            self._events.append(ResponseReceived(None, response, source))  # §18.1.2: to the core
            return
        transaction.receive_response(response, source, now)
        self._collect(transaction)

    def _receive_request(self, request: Request, source: Addr, now: float, reliable: bool) -> None:
        key = server_key(request)
        if key is None:
            self._events.append(BadMessage(request, source, "a request without a top Via, CSeq or Call-ID"))
            return
        transaction = self._servers.get(key)
        if transaction is not None and isinstance(key, LegacyServerKey) and not transaction.matches_legacy(request):
            transaction = None
        if transaction is not None:
            transaction.receive_request(request, source, now)
            self._collect(transaction)
            return
        if request.method == "ACK":
            self._events.append(RequestReceived(None, request, source))  # §17.2.3: an ACK for a 2xx
            return
        if isinstance(key, LegacyServerKey) and key in self._servers:
            self._events.append(BadMessage(request, source, "an RFC 2543 request clashing with a transaction"))
            return
        created: ServerTransaction
        if request.method == "INVITE":
            created = InviteServerTransaction(key, request, source, now, reliable=reliable, settings=self.settings)
        else:
            created = NonInviteServerTransaction(key, request, source, now, reliable=reliable, settings=self.settings)
        self._servers[key] = created
        self._collect(created)

    def _collect(self, transaction: ClientTransaction | ServerTransaction) -> None:
        events, sends = transaction.drain()
        self._events.extend(events)
        self._sends += sends
        if transaction.state is State.TERMINATED:
            if isinstance(transaction.key, ClientKey):
                self._clients.pop(transaction.key, None)
            else:
                self._servers.pop(transaction.key, None)
