"""Which transaction a message belongs to: the transaction keys (RFC 3261 §17.1.3, §17.2.3).

- A response matches a client transaction by the branch of its top Via and its CSeq method
  (§17.1.3): a CANCEL shares the INVITE's branch but not its method.
- A request matches a server transaction by the branch and sent-by of its top Via and its
  method, an ACK matching the INVITE it acknowledges (§17.2.3).
- A request whose branch lacks the magic cookie comes from an RFC 2543 element and is matched
  by Request-URI, From tag, Call-ID, CSeq number, method and top Via (§17.2.3, second half);
  the To tag is compared by the transaction itself (`LegacyServerKey` leaves it out, since
  an ACK's To tag is the one of the response, not of the INVITE).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias

from privateline.edges.sip.core.message import Message, Request


class LocalProtocolError(Exception):
    """The caller (the transaction user) used the transaction layer wrongly: an unknown
    transaction, a response in a state that takes none, a request without an RFC 3261 branch.

    What the peer does wrong is never raised: it is absorbed as the RFC says, or reported as an event.
    """


@dataclass(frozen=True)
class ClientKey:
    """§17.1.3: the branch of the request's top Via and the CSeq method."""

    branch: str
    method: str


@dataclass(frozen=True)
class ServerKey:
    """§17.2.3: branch, sent-by of the top Via, and method (INVITE for an ACK)."""

    branch: str
    host: str
    port: int | None
    method: str


@dataclass(frozen=True)
class LegacyServerKey:
    """§17.2.3 for RFC 2543 requests (no magic cookie): the To tag is checked apart."""

    request_uri: str
    from_tag: str | None
    call_id: str
    cseq_number: int
    method: str
    top_via: str


ServerTransactionKey: TypeAlias = ServerKey | LegacyServerKey
TransactionKey: TypeAlias = ClientKey | ServerKey | LegacyServerKey


def client_key(message: Message) -> ClientKey | None:
    """The client transaction key of a request we send or of a response we receive (§17.1.3);
    None when the message lacks a branch or a CSeq."""
    via, cseq = message.top_via, message.cseq
    if via is None or via.branch is None or cseq is None:
        return None
    return ClientKey(via.branch, cseq.method)


def request_client_key(request: Request) -> ClientKey:
    """The key of a request a client transaction is about to send; LocalProtocolError when it
    has no RFC 3261 branch (§8.1.1.7: the branch MUST start with the magic cookie) or no CSeq."""
    via, cseq = request.top_via, request.cseq
    if via is None or not via.is_rfc3261 or via.branch is None:
        raise LocalProtocolError("a request sent by a client transaction needs a top Via with a z9hG4bK branch")
    if cseq is None or cseq.method != request.method:
        raise LocalProtocolError("a request sent by a client transaction needs a CSeq naming its method")
    return ClientKey(via.branch, cseq.method)


def server_key(request: Request) -> ServerTransactionKey | None:
    """The server transaction key of a received request (§17.2.3); None when it lacks the top
    Via, CSeq or Call-ID needed to match it."""
    via, cseq = request.top_via, request.cseq
    if via is None or cseq is None:
        return None
    method = "INVITE" if request.method == "ACK" else request.method
    if via.is_rfc3261 and via.branch is not None:
        return ServerKey(via.branch, via.host.lower(), via.port, method)
    if request.call_id is None:
        return None
    from_tag = request.from_.tag if request.from_ is not None else None
    return LegacyServerKey(str(request.uri), from_tag, request.call_id, cseq.number, method, str(via))


def invite_key_of_cancel(key: ServerTransactionKey) -> ServerTransactionKey:
    """The key of the INVITE server transaction a CANCEL with `key` cancels (§9.2: same match
    as §17.2.3 but for the method)."""
    return replace(key, method="INVITE")


def to_tag(message: Message) -> str | None:
    return message.to.tag if message.to is not None else None
