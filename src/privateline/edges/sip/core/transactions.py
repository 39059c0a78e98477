"""The transaction layer (RFC 3261 §17): it owns the client and server transactions keyed by
their ids (`matching`), routes each received message to its transaction, and collects what
they have to say.

Sans-IO: the caller feeds parsed messages with their source address and `now`
(`receive`), the TU's requests and responses (`send_request`, `respond`), and the time
(`handle_timer` when `next_timer()` is due); it reads back events for the TU
(`next_event`) and messages for the transport (`data_to_send`).  A transaction that reaches
Terminated is forgotten, after a `TransactionTerminated` event.

Whether a transport is reliable is read from the top Via (§18.1.1, §18.2.1) unless given.

Timers: the layer keeps a heap of (due time, order, transaction) entries, one live entry per
transaction with a running timer, pushed whenever that transaction's earliest timer changes;
entries left behind by a change or by termination are skipped when they reach the top (lazy
invalidation).  So `next_timer` and `handle_timer` cost O(log n), not O(n), with the tens of
thousands of transactions Timer J keeps alive for 64*T1 on UDP (§17.2.2).  `order` ranks
client transactions before server transactions, each in creation order, which is the order in
which ties fire.
"""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count
from typing import TypeAlias

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


AnyTransaction: TypeAlias = ClientTransaction | ServerTransaction
# (due, (0 client / 1 server, creation number), push number, transaction): compared by due, then
# order; the push number is unique, so two entries never go on to compare their transactions.
_Entry: TypeAlias = tuple[float, tuple[int, int], int, AnyTransaction]


class TransactionLayer:
    """All transactions of one element, keyed by `ClientKey` and `ServerKey` / `LegacyServerKey`."""

    def __init__(self, settings: TimerSettings = DEFAULT_TIMERS) -> None:
        self.settings = settings
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerTransactionKey, ServerTransaction] = {}
        self._events: deque[TransactionEvent] = deque()
        self._sends: list[Outgoing] = []
        self._heap: list[_Entry] = []
        self._created = count()
        self._pushes = count()

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
        transaction.order = (0, next(self._created))
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

    def abandon(self, key: ClientKey) -> None:
        """Forget a client transaction its TU gave up on, with no event: an INVITE client
        transaction in Proceeding has no timer of its own, so one whose CANCEL got no final
        response within 64*T1 (§9.1) would otherwise live for ever.  Unknown keys are ignored."""
        transaction = self._clients.pop(key, None)
        if transaction is not None:
            transaction.heap_entry = None  # its heap entry, if any, is now left behind

    def unfinished(self) -> int:
        """Transactions still waiting for a final response (Calling, Trying, Proceeding): what a
        graceful shutdown waits for.  Completed, Confirmed and Accepted ones only absorb
        retransmissions until their timers end them, and need not be waited for."""
        waiting = (State.CALLING, State.TRYING, State.PROCEEDING)
        return sum(1 for t in (*self._clients.values(), *self._servers.values()) if t.state in waiting)

    # --- time ---------------------------------------------------------------------------

    def next_timer(self) -> float | None:
        """When the earliest timer of any transaction is due; None when none runs."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if entry[3].heap_entry is entry:
                return entry[0]
            heapq.heappop(heap)  # left behind: the transaction's timers changed or it ended
        return None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at `now`, transaction by transaction, earliest first."""
        heap = self._heap
        due: list[AnyTransaction] = []
        # Take every due transaction first, as the timers stood when called: a transaction
        # rescheduled by its own firing is due later than `now` anyway (it fires all it can).
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if entry[3].heap_entry is entry:
                due.append(entry[3])
        for transaction in due:
            transaction.heap_entry = None
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
        created.order = (1, next(self._created))
        self._collect(created)

    def _collect(self, transaction: AnyTransaction) -> None:
        """Take what `transaction` has to say, and reschedule or forget it (after every call into it)."""
        events, sends = transaction.drain()
        if events:
            self._events.extend(events)
        if sends:
            self._sends += sends
        if transaction.state is State.TERMINATED:
            transaction.heap_entry = None
            if isinstance(transaction.key, ClientKey):
                self._clients.pop(transaction.key, None)
            else:
                self._servers.pop(transaction.key, None)
            return
        when = transaction.next_timer()
        entry = transaction.heap_entry
        if when is None:
            transaction.heap_entry = None
        elif entry is None or entry[0] != when:
            entry = (when, transaction.order, next(self._pushes), transaction)
            transaction.heap_entry = entry
            heapq.heappush(self._heap, entry)
            if len(self._heap) > 2 * len(self) + 64:
                self._compact()

    def _compact(self) -> None:
        """Drop the entries left behind, so the heap stays within twice the live transactions."""
        self._heap = [entry for entry in self._heap if entry[3].heap_entry is entry]
        heapq.heapify(self._heap)
