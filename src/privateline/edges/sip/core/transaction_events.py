"""What the transaction layer tells its user, and what it asks the transport to send
(as h11's `_events.py`: frozen dataclasses, compared by value).

An address is `(host, port)` as the transport gives and takes it.  Messages to send are
`Outgoing`: the message, not bytes, so the transport picks the wire form (§7.3.3 compact
forms for UDP, §18.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from privateline.edges.sip.core.matching import ClientKey, ServerTransactionKey, TransactionKey
from privateline.edges.sip.core.message import Message, Request, Response
from privateline.edges.sip.core.timers import Timer

Addr: TypeAlias = tuple[str, int]


@dataclass(frozen=True)
class RequestReceived:
    """A new request for the TU (§17.2.1, §17.2.2), or an ACK passed up: for a 2xx it matches
    no transaction (`transaction` None, §17.2.3) or it arrives in Accepted (RFC 6026 §8.7)."""

    transaction: ServerTransactionKey | None
    request: Request
    source: Addr


@dataclass(frozen=True)
class ResponseReceived:
    """A response for the TU (§17.1.1.2, §17.1.2.2); `transaction` None for a response that
    matches no client transaction (§18.1.2: it goes to the core, a proxy forwards it, §16.7)."""

    transaction: ClientKey | None
    response: Response
    source: Addr


@dataclass(frozen=True)
class TransactionTimeout:
    """Timer B or F (client: no final response, §17.1.1.2, §17.1.2.2) or H (server: no ACK, §17.2.1)."""

    transaction: TransactionKey
    timer: Timer


@dataclass(frozen=True)
class TransportError:
    """The transport could not send a message of this transaction (§17.1.4, §17.2.4)."""

    transaction: TransactionKey


@dataclass(frozen=True)
class TransactionTerminated:
    """The transaction reached Terminated and was forgotten (a proxy's response context may close, §16.7)."""

    transaction: TransactionKey


@dataclass(frozen=True)
class BadMessage:
    """A message that cannot be matched: it lacks the top Via, CSeq or Call-ID (§8.1.1).  A
    request can still be answered 400 statelessly by the TU."""

    message: Message
    source: Addr
    reason: str


TransactionEvent: TypeAlias = (
    RequestReceived | ResponseReceived | TransactionTimeout | TransportError | TransactionTerminated | BadMessage
)


@dataclass(frozen=True)
class Outgoing:
    """A message for the transport to send to `destination`; `transaction` None when sent statelessly."""

    message: Message
    destination: Addr
    transaction: TransactionKey | None
