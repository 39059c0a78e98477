"""Messages and a fake clock for the transaction tests: time is a plain float the test advances."""

from __future__ import annotations

from privateline.edges.sip.core import Request, Response, parse_message, response_to
from privateline.edges.sip.core.transaction_events import Outgoing, TransactionEvent
from privateline.edges.sip.core.transactions import TransactionLayer
from tests.edges.sip.core.torture import sip

UAC = ("198.51.100.1", 5060)
UAS = ("203.0.113.9", 5070)


def request(
    method: str = "INVITE",
    *,
    branch: str = "z9hG4bKtx1",
    transport: str = "UDP",
    sent_by: str = "198.51.100.1:5060",
    cseq: int = 1,
    cseq_method: str | None = None,
    to: str = "<sip:bob@example.test>",
    routes: tuple[str, ...] = (),
    call_id: str = "tx-call-1@198.51.100.1",
) -> Request:
    lines = [
        f"{method} sip:bob@example.test SIP/2.0",
        f"Via: SIP/2.0/{transport} {sent_by};branch={branch}",
        "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKdownstream",
        "Max-Forwards: 70",
        f"To: {to}",
        "From: Alice <sip:alice@example.test>;tag=a1",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        *(f"Route: {route}" for route in routes),
        "Contact: <sip:alice@198.51.100.1>",
    ]
    message = parse_message(sip(*lines))
    assert isinstance(message, Request)
    return message


def answer(to: Request, status: int, *, tag: str = "b1") -> Response:
    return response_to(to, status, to_tag=None if status == 100 else tag)


def events(layer: TransactionLayer) -> list[TransactionEvent]:
    out: list[TransactionEvent] = []
    while (event := layer.next_event()) is not None:
        out.append(event)
    return out


def run_until(layer: TransactionLayer, end: float) -> list[tuple[float, Outgoing]]:
    """Fire every timer due up to `end` at exactly its time; the messages sent, with when."""
    sent: list[tuple[float, Outgoing]] = []
    while (due := layer.next_timer()) is not None and due <= end:
        layer.handle_timer(due)
        sent += [(due, out) for out in layer.data_to_send()]
    return sent


def methods_or_status(sent: list[Outgoing]) -> list[str | int]:
    return [out.message.method if isinstance(out.message, Request) else out.message.status for out in sent]
