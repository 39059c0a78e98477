"""Client transactions: RFC 3261 §17.1.1 (Figure 5, with RFC 6026 §8.4) and §17.1.2 (Figure 6)."""

from __future__ import annotations

import pytest

from privateline.edges.sip.core import Request
from privateline.edges.sip.core.client_transactions import ack_for
from privateline.edges.sip.core.matching import ClientKey, LocalProtocolError
from privateline.edges.sip.core.timers import Timer, TimerSettings
from privateline.edges.sip.core.transaction_base import State
from privateline.edges.sip.core.transaction_events import (
    ResponseReceived,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from privateline.edges.sip.core.transactions import TransactionLayer
from tests.edges.sip.core.transaction_support import UAS, answer, events, methods_or_status, request, run_until


def start(method: str = "INVITE", *, transport: str = "UDP") -> tuple[TransactionLayer, ClientKey]:
    layer = TransactionLayer()
    key = layer.send_request(request(method, transport=transport), UAS, 0.0)
    sent = layer.data_to_send()
    assert methods_or_status(sent) == [method] and sent[0].destination == UAS and sent[0].transaction == key
    return layer, key


# --- INVITE client transaction (§17.1.1) ---------------------------------------------------


def test_timer_a_retransmits_invite_doubling_and_timer_b_times_out_at_32_s() -> None:
    """§17.1.1.2: Timer A at T1, doubling; Timer B = 64*T1 reported as a timeout."""
    layer, key = start()
    assert layer.state(key) is State.CALLING
    sent = run_until(layer, 40.0)
    assert [when for when, _ in sent] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(out.message.method == "INVITE" for _, out in sent if isinstance(out.message, Request))
    assert events(layer) == [TransactionTimeout(key, Timer.B), TransactionTerminated(key)]
    assert key not in layer and layer.next_timer() is None


def test_reliable_invite_is_not_retransmitted_but_still_times_out() -> None:
    """§17.1.1.2: Timer A only for unreliable transports; Timer B always."""
    layer, key = start(transport="TCP")
    assert layer.next_timer() == 32.0
    assert run_until(layer, 40.0) == []
    assert events(layer) == [TransactionTimeout(key, Timer.B), TransactionTerminated(key)]


def test_calling_proceeding_completed_terminated_with_ack_and_timer_d() -> None:
    """Figure 5: 1xx to Proceeding (no more retransmissions), 486 to Completed with ACK, Timer D 32 s."""
    layer, key = start()
    invite = request()
    layer.receive(answer(invite, 180), UAS, 0.2)
    assert layer.state(key) is State.PROCEEDING
    [received] = events(layer)
    assert isinstance(received, ResponseReceived) and received.transaction == key
    assert received.response.status == 180 and received.source == UAS
    assert layer.next_timer() is None  # no Timer A, no Timer B in Proceeding
    layer.receive(answer(invite, 180), UAS, 0.3)
    assert [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)] == [180]
    busy = answer(invite, 486)
    layer.receive(busy, UAS, 1.0)
    assert layer.state(key) is State.COMPLETED
    assert [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)] == [486]
    [ack] = layer.data_to_send()
    assert isinstance(ack.message, Request) and ack.message.method == "ACK" and ack.destination == UAS
    assert layer.next_timer() == 33.0  # Timer D: 32 s on UDP
    layer.receive(busy, UAS, 2.0)  # a retransmitted final response: ACK again, not passed up
    assert methods_or_status(layer.data_to_send()) == ["ACK"]
    assert events(layer) == []
    run_until(layer, 33.0)
    assert events(layer) == [TransactionTerminated(key)] and key not in layer


def test_final_response_in_calling_goes_straight_to_completed() -> None:
    layer, key = start()
    layer.receive(answer(request(), 503), UAS, 0.1)
    assert layer.state(key) is State.COMPLETED
    assert methods_or_status(layer.data_to_send()) == ["ACK"]


def test_timer_d_is_zero_on_reliable_transport() -> None:
    """§17.1.1.2: Timer D is zero seconds for reliable transports."""
    layer, key = start(transport="TLS")
    layer.receive(answer(request(transport="TLS"), 404), UAS, 0.1)
    assert methods_or_status(layer.data_to_send()) == ["ACK"]
    assert key not in layer
    assert [type(e) for e in events(layer)] == [ResponseReceived, TransactionTerminated]


def test_ack_for_a_non_2xx_response() -> None:
    """§17.1.1.3: Request-URI, Call-ID, From, CSeq number of the INVITE, method ACK; To of the
    response; one Via, the INVITE's top Via (same branch); the INVITE's Route fields."""
    routes = ("<sip:p1.example.test;lr>", "<sip:p2.example.test;lr>")
    invite = request(routes=routes, cseq=7)
    ack = ack_for(invite, answer(invite, 486, tag="busy9"))
    assert ack.method == "ACK" and ack.uri == invite.uri
    assert ack.vias == (invite.vias[0],) and ack.top_via is not None and ack.top_via.branch == "z9hG4bKtx1"
    assert ack.call_id == invite.call_id and ack.from_ == invite.from_
    assert ack.to is not None and invite.to is not None
    assert ack.to.tag == "busy9" and ack.to.uri == invite.to.uri
    assert ack.cseq is not None and (ack.cseq.number, ack.cseq.method) == (7, "ACK")
    assert ack.headers.get_all("Route") == routes
    assert "Contact" not in ack.headers and ack.body == b""
    ack.check()  # a well-formed request: CSeq method matches the Request-Line


def test_2xx_goes_to_accepted_and_retransmitted_2xx_are_passed_to_the_tu() -> None:
    """RFC 6026 §8.4: Accepted, Timer M = 64*T1; every 2xx reaches the TU; no ACK from the transaction."""
    layer, key = start()
    ok = answer(request(), 200)
    layer.receive(ok, UAS, 1.0)
    assert layer.state(key) is State.ACCEPTED and layer.data_to_send() == []
    layer.receive(ok, UAS, 1.5)  # retransmission: not absorbed
    layer.receive(answer(request(), 200, tag="fork2"), UAS, 2.0)  # another fork's 2xx
    statuses = [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)]
    assert statuses == [200, 200, 200] and layer.data_to_send() == []
    assert layer.next_timer() == 33.0
    run_until(layer, 33.0)
    assert events(layer) == [TransactionTerminated(key)]


def test_transport_error_informs_the_tu() -> None:
    """Figure 5: Transport Err. in Calling: inform TU, Terminated."""
    layer, key = start()
    layer.transport_error(key, 0.1)
    assert events(layer) == [TransportError(key), TransactionTerminated(key)] and key not in layer


# --- non-INVITE client transaction (§17.1.2) ------------------------------------------------


def test_timer_e_doubles_up_to_t2_and_timer_f_times_out_at_32_s() -> None:
    """§17.1.2.2: E at T1 doubling, capped at T2 = 4 s; F = 64*T1."""
    layer, key = start("OPTIONS")
    assert layer.state(key) is State.TRYING
    sent = run_until(layer, 40.0)
    times = [when for when, _ in sent]
    assert times[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert events(layer) == [TransactionTimeout(key, Timer.F), TransactionTerminated(key)]


def test_timer_e_is_t2_in_proceeding() -> None:
    """§17.1.2.2: in Proceeding, Timer E is reset to T2."""
    layer, key = start("REGISTER")
    run_until(layer, 0.5)  # first retransmission at 0.5, next due at 1.5
    layer.receive(answer(request("REGISTER"), 100), UAS, 1.0)
    assert layer.state(key) is State.PROCEEDING
    sent = run_until(layer, 14.0)
    assert [when for when, _ in sent] == [1.5, 5.5, 9.5, 13.5]


def test_final_response_completes_and_timer_k_waits_t4() -> None:
    """Figure 6: 200-699 to Completed; retransmissions absorbed; Timer K = T4 on UDP."""
    layer, key = start("OPTIONS")
    ok = answer(request("OPTIONS"), 200)
    layer.receive(ok, UAS, 0.2)
    assert layer.state(key) is State.COMPLETED and layer.next_timer() == 5.2
    layer.receive(ok, UAS, 0.7)
    assert [e.response.status for e in events(layer) if isinstance(e, ResponseReceived)] == [200]
    run_until(layer, 10.0)
    assert events(layer) == [TransactionTerminated(key)]


def test_reliable_non_invite_no_retransmission_and_timer_k_zero() -> None:
    layer, key = start("OPTIONS", transport="TCP")
    assert layer.next_timer() == 32.0
    layer.receive(answer(request("OPTIONS", transport="TCP"), 200), UAS, 0.2)
    assert key not in layer and layer.data_to_send() == []


def test_custom_timer_settings() -> None:
    layer = TransactionLayer(TimerSettings(t1=0.1, t2=0.3))
    key = layer.send_request(request("OPTIONS"), UAS, 0.0)
    layer.data_to_send()
    times = [round(when, 6) for when, _ in run_until(layer, 7.0)]
    assert times[:4] == [0.1, 0.3, 0.6, 0.9] and times[-1] == 6.3  # E capped at T2 = 0.3
    assert events(layer) == [TransactionTimeout(key, Timer.F), TransactionTerminated(key)]  # F = 64*T1 = 6.4
    with pytest.raises(ValueError, match="T1"):
        TimerSettings(t1=5.0, t2=4.0)


def test_misuse_is_a_local_protocol_error() -> None:
    layer = TransactionLayer()
    with pytest.raises(LocalProtocolError, match="z9hG4bK"):
        layer.send_request(request(branch="old2543"), UAS, 0.0)
    with pytest.raises(LocalProtocolError, match="ACK"):
        layer.send_request(request("ACK", branch="z9hG4bKack", cseq_method="ACK"), UAS, 0.0)
    layer.send_request(request(), UAS, 0.0)
    with pytest.raises(LocalProtocolError, match="exists"):
        layer.send_request(request(), UAS, 0.0)


def test_non_invite_transport_error_and_late_responses() -> None:
    """Figure 6: Transport Err. in Trying or Proceeding informs the TU; unknown keys are ignored."""
    layer, key = start("OPTIONS")
    layer.receive(answer(request("OPTIONS"), 180), UAS, 0.1)
    layer.transport_error(key, 0.2)
    assert [type(e) for e in events(layer)] == [ResponseReceived, TransportError, TransactionTerminated]
    layer.transport_error(key, 0.3)  # gone: ignored
    late = answer(request("OPTIONS"), 200)
    layer.receive(late, UAS, 0.4)
    assert events(layer) == [ResponseReceived(None, late, UAS)]


def test_completed_invite_ignores_provisional_and_2xx() -> None:
    layer, key = start()
    layer.receive(answer(request(), 480), UAS, 0.1)
    layer.data_to_send()
    events(layer)
    layer.receive(answer(request(), 180), UAS, 0.2)
    layer.receive(answer(request(), 200), UAS, 0.3)
    assert events(layer) == [] and layer.data_to_send() == [] and layer.state(key) is State.COMPLETED
