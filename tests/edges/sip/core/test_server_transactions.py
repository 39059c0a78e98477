"""Server transactions: RFC 3261 §17.2.1 (Figure 7, with RFC 6026 §8.5 to §8.7) and §17.2.2 (Figure 8)."""

from __future__ import annotations

import pytest

from privateline.edges.sip.core import Request, Response, parse_message, serialize
from privateline.edges.sip.core.matching import LocalProtocolError, ServerTransactionKey
from privateline.edges.sip.core.message import MESSAGE_FIELDS
from privateline.edges.sip.core.timers import Timer
from privateline.edges.sip.core.transaction_base import State
from privateline.edges.sip.core.transaction_events import (
    RequestReceived,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from privateline.edges.sip.core.transactions import TransactionLayer
from tests.edges.sip.core.transaction_support import UAC, answer, events, methods_or_status, request, run_until


def start(method: str = "INVITE", *, transport: str = "UDP") -> tuple[TransactionLayer, ServerTransactionKey, Request]:
    layer = TransactionLayer()
    req = request(method, transport=transport)
    layer.receive(req, UAC, 0.0)
    [received] = events(layer)
    assert isinstance(received, RequestReceived) and received.request == req and received.source == UAC
    assert received.transaction is not None
    return layer, received.transaction, req


def ack(transport: str = "UDP", branch: str = "z9hG4bKtx1") -> Request:
    return request("ACK", transport=transport, branch=branch, to="<sip:bob@example.test>;tag=b1")


def sent_statuses(layer: TransactionLayer) -> list[str | int]:
    sent = layer.data_to_send()
    assert all(out.destination == UAC for out in sent)
    return methods_or_status(sent)


# --- INVITE server transaction (§17.2.1) ---------------------------------------------------


def test_proceeding_retransmissions_answered_with_the_last_provisional_response() -> None:
    """§17.2.1: absorbed before any provisional; then the most recent provisional is resent."""
    layer, key, invite = start()
    assert layer.state(key) is State.PROCEEDING
    layer.receive(invite, UAC, 0.1)
    assert sent_statuses(layer) == [] and events(layer) == []
    trying = layer.send_trying(key, 0.15)
    assert trying.status == 100 and trying.to is not None and trying.to.tag is None
    assert sent_statuses(layer) == [100]
    layer.respond(key, answer(invite, 180), 0.2)
    layer.receive(invite, UAC, 0.5)
    assert sent_statuses(layer) == [180, 180] and events(layer) == []


def test_non_2xx_completed_timer_g_doubles_up_to_t2_and_ack_confirms() -> None:
    """§17.2.1: Completed with G (T1, doubling to T2) and H; ACK to Confirmed; Timer I = T4."""
    layer, key, invite = start()
    layer.respond(key, answer(invite, 486), 0.0)
    assert layer.state(key) is State.COMPLETED and sent_statuses(layer) == [486]
    sent = run_until(layer, 16.0)
    assert [when for when, _ in sent] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert {out.message.status for _, out in sent if isinstance(out.message, Response)} == {486}
    layer.receive(invite, UAC, 16.2)  # a retransmitted INVITE: the final response again
    assert sent_statuses(layer) == [486]
    layer.receive(ack(), UAC, 16.5)
    assert layer.state(key) is State.CONFIRMED and events(layer) == []  # the ACK is absorbed
    assert layer.next_timer() == 21.5
    layer.receive(ack(), UAC, 17.0)
    layer.receive(invite, UAC, 17.0)
    assert sent_statuses(layer) == [] and events(layer) == []
    run_until(layer, 30.0)
    assert events(layer) == [TransactionTerminated(key)] and key not in layer


def test_timer_h_fires_without_ack() -> None:
    """§17.2.1: Timer H = 64*T1, then inform the TU and terminate."""
    layer, key, invite = start()
    layer.respond(key, answer(invite, 404), 1.0)
    run_until(layer, 40.0)
    assert events(layer) == [TransactionTimeout(key, Timer.H), TransactionTerminated(key)]


def test_reliable_invite_server_no_retransmission_and_timer_i_zero() -> None:
    layer, key, invite = start(transport="TCP")
    layer.respond(key, answer(invite, 486), 0.0)
    assert sent_statuses(layer) == [486] and layer.next_timer() == 32.0  # H only, no G
    layer.receive(ack("TCP"), UAC, 0.3)
    assert key not in layer and events(layer) == [TransactionTerminated(key)]


def test_2xx_accepted_timer_l_and_the_ack_is_passed_to_the_tu() -> None:
    """RFC 6026 §8.5 to §8.7: 2xx to Accepted (Timer L); the TU retransmits the 2xx through it;
    INVITE retransmissions are absorbed; an ACK matching it goes to the TU."""
    layer, key, invite = start()
    ok = answer(invite, 200)
    layer.respond(key, ok, 0.0)
    assert layer.state(key) is State.ACCEPTED and sent_statuses(layer) == [200]
    assert run_until(layer, 31.0) == []  # the transaction does not retransmit the 2xx itself
    layer.respond(key, ok, 0.5)
    assert sent_statuses(layer) == [200]
    layer.receive(invite, UAC, 0.6)
    assert sent_statuses(layer) == [] and events(layer) == []
    same_branch_ack = ack()
    layer.receive(same_branch_ack, UAC, 0.7)
    assert events(layer) == [RequestReceived(key, same_branch_ack, UAC)]
    with pytest.raises(LocalProtocolError):
        layer.respond(key, answer(invite, 486), 0.8)
    run_until(layer, 32.0)
    assert events(layer) == [TransactionTerminated(key)]


def test_responding_in_completed_or_on_an_unknown_transaction_is_refused() -> None:
    layer, key, invite = start()
    layer.respond(key, answer(invite, 486), 0.0)
    with pytest.raises(LocalProtocolError, match="Completed"):
        layer.respond(key, answer(invite, 200), 0.1)
    with pytest.raises(LocalProtocolError, match="branch"):
        layer.respond(key, answer(request(branch="z9hG4bKother"), 180), 0.1)
    layer.transport_error(key, 0.2)
    assert events(layer) == [TransportError(key), TransactionTerminated(key)]
    with pytest.raises(LocalProtocolError, match="no server transaction"):
        layer.respond(key, answer(invite, 486), 0.3)


# --- non-INVITE server transaction (§17.2.2) ------------------------------------------------


def test_non_invite_trying_proceeding_completed_and_timer_j() -> None:
    """Figure 8: retransmissions absorbed in Trying, answered with the last response after;
    Timer J = 64*T1 on UDP."""
    layer, key, register = start("REGISTER")
    assert layer.state(key) is State.TRYING
    layer.receive(register, UAC, 0.1)
    assert sent_statuses(layer) == [] and events(layer) == []
    with pytest.raises(LocalProtocolError, match="INVITE"):
        layer.send_trying(key, 0.1)
    layer.respond(key, answer(register, 100), 0.2)
    assert layer.state(key) is State.PROCEEDING and sent_statuses(layer) == [100]
    layer.receive(register, UAC, 0.3)
    assert sent_statuses(layer) == [100]
    layer.respond(key, answer(register, 200), 0.4)
    assert layer.state(key) is State.COMPLETED and sent_statuses(layer) == [200]
    layer.receive(register, UAC, 1.0)
    assert sent_statuses(layer) == [200] and events(layer) == []
    with pytest.raises(LocalProtocolError):
        layer.respond(key, answer(register, 500), 1.1)
    assert layer.next_timer() == pytest.approx(32.4)
    run_until(layer, 40.0)
    assert events(layer) == [TransactionTerminated(key)]


def test_a_transaction_that_only_absorbs_retransmissions_keeps_no_parsed_fields() -> None:
    """Completed (Figure 8) lasts 64*T1 on UDP: its request and response are settled
    (`Message.settle`), and a retransmission is still answered with the same response."""
    layer, key, register = start("REGISTER")
    ok = answer(register, 200)
    layer.respond(key, ok, 0.1)
    [first] = layer.data_to_send()
    wire = serialize(first.message)
    assert layer.state(key) is State.COMPLETED
    parsed_left = [set(m.__dict__) - MESSAGE_FIELDS for m in (register, ok)]
    assert parsed_left == [set(), set()]
    layer.receive(parse_message(serialize(register)), UAC, 1.0)
    [again] = layer.data_to_send()
    assert serialize(again.message) == wire and again.destination == UAC


def test_non_invite_timer_j_zero_on_reliable_transport() -> None:
    layer, key, options = start("OPTIONS", transport="TLS")
    layer.respond(key, answer(options, 200), 0.0)
    assert sent_statuses(layer) == [200] and key not in layer
    assert events(layer) == [TransactionTerminated(key)]
    layer.receive(options, UAC, 0.1)  # too late to be a retransmission: a new transaction
    [again] = events(layer)
    assert isinstance(again, RequestReceived) and again.transaction == key


def test_transport_errors() -> None:
    """Figure 7: in Proceeding, inform the TU and terminate; RFC 6026 Accepted: inform, Timer L ends it;
    Figure 8: Proceeding and Completed inform the TU and terminate."""
    layer, key, invite = start()
    layer.respond(key, answer(invite, 200), 0.0)
    layer.transport_error(key, 0.1)
    assert events(layer) == [TransportError(key)] and layer.state(key) is State.ACCEPTED
    layer, key, register = start("REGISTER")
    layer.transport_error(key, 0.0)  # nothing was sent in Trying: nothing to fail
    assert layer.state(key) is State.TRYING
    layer.respond(key, answer(register, 200), 0.1)
    layer.transport_error(key, 0.2)
    assert events(layer) == [TransportError(key), TransactionTerminated(key)] and key not in layer


def test_cancelled_transaction_finds_only_a_live_invite() -> None:
    layer, key, invite = start()
    assert layer.cancelled_transaction(request("CANCEL")) == key
    assert layer.cancelled_transaction(request("CANCEL", branch="z9hG4bKelse")) is None
    assert layer.cancelled_transaction(invite) is None  # not a CANCEL
