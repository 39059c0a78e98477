"""Matching (RFC 3261 §17.1.3, §17.2.3) and the transaction layer's bookkeeping."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from privateline.edges.sip.core import Request, Response
from privateline.edges.sip.core.matching import (
    ClientKey,
    LegacyServerKey,
    ServerKey,
    client_key,
    server_key,
)
from privateline.edges.sip.core.timers import Timer, TimerSettings
from privateline.edges.sip.core.transaction_base import State
from privateline.edges.sip.core.transaction_events import (
    BadMessage,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimeout,
)
from privateline.edges.sip.core.transactions import TransactionLayer
from tests.edges.sip.core.transaction_support import UAC, UAS, answer, events, methods_or_status, request, run_until


def test_keys() -> None:
    """§17.1.3: branch and CSeq method; §17.2.3: branch, sent-by and method, ACK as INVITE."""
    invite = request(sent_by="Host.Example.Test:5062")
    assert client_key(invite) == ClientKey("z9hG4bKtx1", "INVITE")
    assert server_key(invite) == ServerKey("z9hG4bKtx1", "host.example.test", 5062, "INVITE")
    assert server_key(request("ACK", sent_by="host.example.test:5062")) == server_key(invite)
    assert server_key(request("CANCEL")) == ServerKey("z9hG4bKtx1", "198.51.100.1", 5060, "CANCEL")
    legacy = server_key(request(branch="1234"))
    assert isinstance(legacy, LegacyServerKey) and legacy.method == "INVITE" and legacy.cseq_number == 1


def test_a_response_goes_to_the_transaction_of_its_branch_and_method() -> None:
    """§17.1.3: INVITE and CANCEL share a branch; the CSeq method tells them apart."""
    layer = TransactionLayer()
    invite, cancel = request(), request("CANCEL")
    other = request(branch="z9hG4bKtx2", cseq=2)
    invite_key = layer.send_request(invite, UAS, 0.0)
    other_key = layer.send_request(other, UAS, 0.0)
    cancel_key = layer.send_request(cancel, UAS, 0.1)
    assert len({invite_key, other_key, cancel_key}) == 3 and len(layer) == 3
    layer.receive(answer(cancel, 200), UAS, 0.2)
    layer.receive(answer(other, 180), UAS, 0.2)
    layer.receive(answer(invite, 487), UAS, 0.3)
    got = [(e.transaction, e.response.status) for e in events(layer) if isinstance(e, ResponseReceived)]
    assert got == [(cancel_key, 200), (other_key, 180), (invite_key, 487)]
    assert layer.state(other_key) is State.PROCEEDING and layer.state(invite_key) is State.COMPLETED


def test_a_response_with_a_mismatching_cseq_method_matches_nothing() -> None:
    """§17.1.3: same branch, CSeq method OPTIONS: not the INVITE's; passed up as stray (§18.1.2)."""
    layer = TransactionLayer()
    key = layer.send_request(request(), UAS, 0.0)
    layer.data_to_send()
    stray = answer(request("OPTIONS"), 200)
    layer.receive(stray, UAS, 0.1)
    assert events(layer) == [ResponseReceived(None, stray, UAS)]
    assert layer.state(key) is State.CALLING and layer.data_to_send() == []


def test_requests_match_by_branch_sent_by_and_method() -> None:
    """§17.2.3: another sent-by or method with the same branch is another transaction."""
    layer = TransactionLayer()
    layer.receive(request(), UAC, 0.0)
    layer.receive(request(sent_by="192.0.2.99:5060"), ("192.0.2.99", 5060), 0.0)
    layer.receive(request("CANCEL"), UAC, 0.1)
    received = [e for e in events(layer) if isinstance(e, RequestReceived)]
    assert len({e.transaction for e in received}) == 3 and len(layer) == 3
    cancel_key = received[2].transaction
    assert cancel_key is not None and layer.cancelled_transaction(request("CANCEL")) == received[0].transaction
    layer.respond(cancel_key, answer(request("CANCEL"), 200), 0.2)
    assert methods_or_status(layer.data_to_send()) == [200]


def test_ack_for_a_non_2xx_matches_the_invite_and_ack_for_a_2xx_goes_to_the_tu() -> None:
    """§17.2.3: ACK matches the INVITE server transaction; the ACK of a 2xx has its own branch."""
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, UAC, 0.0)
    [new] = events(layer)
    assert isinstance(new, RequestReceived) and new.transaction is not None
    layer.respond(new.transaction, answer(invite, 200), 0.1)
    two_xx_ack = request("ACK", branch="z9hG4bKack2", to="<sip:bob@example.test>;tag=b1")
    layer.receive(two_xx_ack, UAC, 0.2)
    assert events(layer) == [RequestReceived(None, two_xx_ack, UAC)] and len(layer) == 1


def test_rfc_2543_requests_are_matched_by_the_old_rules() -> None:
    """§17.2.3: no magic cookie: Request-URI, tags, Call-ID, CSeq and top Via; the ACK's To tag is the response's."""
    layer = TransactionLayer()
    invite = request(branch="old1")
    layer.receive(invite, UAC, 0.0)
    [new] = events(layer)
    assert isinstance(new, RequestReceived) and isinstance(new.transaction, LegacyServerKey)
    key = new.transaction
    layer.respond(key, answer(invite, 603, tag="d1"), 0.0)
    layer.data_to_send()
    layer.receive(invite, UAC, 0.4)  # retransmission: the 603 again
    assert methods_or_status(layer.data_to_send()) == [603]
    wrong = request("ACK", branch="old1", to="<sip:bob@example.test>;tag=nope")
    layer.receive(wrong, UAC, 0.5)
    assert events(layer) == [RequestReceived(None, wrong, UAC)] and layer.state(key) is State.COMPLETED
    layer.receive(request("ACK", branch="old1", to="<sip:bob@example.test>;tag=d1"), UAC, 0.6)
    assert layer.state(key) is State.CONFIRMED


def test_bad_messages_are_reported() -> None:
    layer = TransactionLayer()
    response = Response(200, "OK")
    layer.receive(response, UAS, 0.0)
    layer.receive(Request("OPTIONS", request().uri), UAC, 0.0)
    assert [type(e) for e in events(layer)] == [BadMessage, BadMessage]


def test_next_timer_and_handle_timer_across_transactions() -> None:
    layer = TransactionLayer()
    invite_key = layer.send_request(request(), UAS, 0.0)
    options_key = layer.send_request(request("OPTIONS", branch="z9hG4bKopt", transport="TCP"), UAS, 10.0)
    layer.data_to_send()
    assert layer.next_timer() == 0.5
    layer.handle_timer(0.4)  # nothing is due yet
    assert layer.data_to_send() == []
    run_until(layer, 42.0)
    assert events(layer) == [
        TransactionTimeout(invite_key, Timer.B),
        TransactionTerminated(invite_key),
        TransactionTimeout(options_key, Timer.F),
        TransactionTerminated(options_key),
    ]
    assert len(layer) == 0 and layer.next_timer() is None


def test_a_late_handle_timer_fires_each_due_timer_once() -> None:
    layer = TransactionLayer()
    layer.send_request(request(), UAS, 0.0)
    layer.data_to_send()
    layer.handle_timer(4.0)  # Timers A at 0.5 (and later ones) were missed: one retransmission
    assert methods_or_status(layer.data_to_send()) == ["INVITE"]
    assert layer.next_timer() == 5.0  # A reset from now, with the doubled interval


@given(
    t1=st.floats(min_value=0.01, max_value=2.0),
    ratio=st.floats(min_value=1.0, max_value=16.0),
    progress=st.floats(min_value=0.0, max_value=40.0),
)
def test_timer_e_intervals_never_exceed_t2(t1: float, ratio: float, progress: float) -> None:
    """§17.1.2.2: whatever T1 and T2, and whenever a 1xx comes, E waits at most T2, and F ends it at 64*T1."""
    settings = TimerSettings(t1=t1, t2=t1 * ratio)
    layer = TransactionLayer(settings)
    key = layer.send_request(request("OPTIONS"), UAS, 0.0)
    layer.data_to_send()
    times = [0.0] + [when for when, _ in run_until(layer, progress)]
    if key in layer:
        layer.receive(answer(request("OPTIONS"), 100), UAS, progress)
    times += [when for when, _ in run_until(layer, 100 * t1)]
    gaps = [b - a for a, b in pairwise(times)]
    assert all(gap <= settings.t2 + 1e-9 for gap in gaps)
    assert key not in layer and times[-1] < settings.timeout
