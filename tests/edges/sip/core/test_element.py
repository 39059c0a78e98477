"""`SipElement` driven with bytes as the transport would: registration, a call A→B through the
proxy and back, rport/received, the failed-authentication limits, and fuzzing."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core import Request, Response, parse_message, serialize
from privateline.edges.sip.core.element import ElementSettings, SipElement
from privateline.edges.sip.core.message import MESSAGE_FIELDS, Message
from tests.edges.sip.core import strategies as s
from tests.edges.sip.core import torture
from tests.edges.sip.core.element_support import (
    ALICE,
    BOB,
    DOMAIN,
    HOST,
    PORT,
    Network,
    Phone,
    alice,
    bob,
    digest_answer,
    in_dialog,
    requests_in,
    responses_in,
)
from tests.edges.sip.core.torture import sip


def setup_call() -> tuple[Network, Phone, Phone]:
    net = Network()
    a, b = alice(), bob()
    assert net.register(a).status == 200
    assert net.register(b).status == 200
    return net, a, b


def test_register_binds_the_source_address_and_transport() -> None:
    net = Network()
    a = alice()
    assert net.register(a).status == 200
    (binding,) = net.bindings.current(ALICE, net.now.timestamp())
    assert binding.source == a.source  # RFC 3581: where the packet came from, not the Contact host
    assert binding.transport == "udp"
    assert str(binding.contact) == f"sip:{ALICE}@10.0.0.1:5060"


def test_register_over_tcp_records_the_transport() -> None:
    net = Network()
    a = alice()
    data = sip(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKtcp1",
        "Max-Forwards: 70",
        f"From: <sip:{ALICE}@{DOMAIN}>;tag=r1",
        f"To: <sip:{ALICE}@{DOMAIN}>",
        "Call-ID: tcp-reg",
        "CSeq: 1 REGISTER",
        f"Contact: {a.contact}",
        "Content-Length: 0",
    )
    message = parse_message(data)
    net.element.receive_message(message, a.source, net.now, transport="tcp")
    (challenge,) = net.element.data_to_send()
    assert challenge.transport == "tcp" and challenge.destination == a.source
    nonce = parse_message(challenge.payload).proxy_authenticate or parse_message(challenge.payload).www_authenticate
    credentials = digest_answer(str(nonce[0].nonce), user=ALICE, method="REGISTER", uri=f"sip:{DOMAIN}", nc=1)
    again = data.replace(b"CSeq: 1", b"CSeq: 2").replace(b"tcp1", b"tcp2")
    again = again.replace(b"Content-Length: 0", f"Authorization: {credentials}\r\nContent-Length: 0".encode())
    net.element.receive_message(parse_message(again), a.source, net.now, transport="tcp")
    (ok,) = net.element.data_to_send()
    assert parse_message(ok.payload).status == 200  # type: ignore[union-attr]
    (binding,) = net.bindings.current(ALICE, net.now.timestamp())
    assert binding.transport == "tcp"


@pytest.mark.promise("DEV-3")
def test_a_call_from_a_to_b() -> None:
    net, a, b = setup_call()
    invite_bytes, sent = net.call(a, BOB)
    # 100 Trying to A, the INVITE to B's binding source.
    (trying, to_a), *_ = responses_in(sent)
    assert trying.status == 100 and to_a.destination == a.source
    ((forwarded, to_b),) = requests_in(sent)
    assert to_b.destination == b.source and to_b.transport == "udp"
    assert forwarded.method == "INVITE"
    assert str(forwarded.uri) == f"sip:{BOB}@10.0.0.2:5060"  # the Contact of B's binding
    (record_route,) = forwarded.headers.get_all("Record-Route")
    assert record_route == net.route("call-1")
    assert record_route.startswith(f"<sip:{HOST}:{PORT};transport=udp;") and record_route.endswith(";lr>")
    assert forwarded.max_forwards == 69
    assert forwarded.top_via is not None and forwarded.top_via.host == HOST
    assert forwarded.top_via.branch is not None and forwarded.top_via.branch.startswith("z9hG4bK")
    assert "Proxy-Authorization" not in forwarded.headers  # our realm's credentials stop here
    assert forwarded.body == parse_message(invite_bytes).body

    # 180 and 200 go back to A with our Via removed.
    ringing, to_a = net.only(net.feed(b.answer(forwarded, 180), b.source))
    assert isinstance(ringing, Response) and ringing.status == 180
    assert to_a.destination == a.source
    assert [v.host for v in ringing.vias] == ["10.0.0.1"]
    ok, to_a = net.only(net.feed(b.answer(forwarded, 200, extra=[("Content-Type", "application/sdp")]), b.source))
    assert isinstance(ok, Response) and ok.status == 200 and to_a.destination == a.source
    assert [v.host for v in ok.vias] == ["10.0.0.1"]
    assert ok.headers.get_all("Record-Route") == (record_route,)

    # A's ACK and BYE follow the route set: Route is our Record-Route, Request-URI B's Contact.
    to_tag = ok.to.tag if ok.to is not None else None
    for method, cseq in (("ACK", 4), ("BYE", 5)):
        out = net.feed(in_dialog(a, method, cseq, to_tag=to_tag, route=record_route), a.source)
        ((routed, hop),) = requests_in(out)
        assert routed.method == method and hop.destination == b.source  # via B's binding (NAT)
        assert "Route" not in routed.headers  # our own Route value is removed (§16.4)
        assert routed.max_forwards == 69
        if method == "BYE":
            bye_ok, back = net.only(net.feed(b.answer(routed, 200), b.source))
            assert isinstance(bye_ok, Response) and bye_ok.status == 200 and back.destination == a.source


def test_what_a_forwarded_message_carries_parsed_is_what_its_own_bytes_say(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy gives a forwarded copy the typed fields its original has parsed, but for those
    forwarding changes (proxy_routing `carry_parsed`); each must equal a fresh parse of the
    bytes that leave, or the transaction layer would match and route on stale values."""
    emitted: list[tuple[Message, dict[str, object]]] = []
    emit = SipElement._emit

    def keep(element: SipElement, message: Message, destination: tuple[str, int], transport: str) -> None:
        # What it holds parsed as it leaves (a transaction settles its messages later on).
        emitted.append((message, dict(message.__dict__)))
        emit(element, message, destination, transport)

    monkeypatch.setattr(SipElement, "_emit", keep)
    net, a, b = setup_call()
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    ok, _ = net.only(net.feed(b.answer(forwarded, 200), b.source))
    assert isinstance(ok, Response) and ok.to is not None
    for method, cseq in (("ACK", 4), ("BYE", 5)):
        data = in_dialog(a, method, cseq, to_tag=ok.to.tag, route=net.route("call-1"))
        ((routed, _),) = requests_in(net.feed(data, a.source))
        if method == "BYE":
            net.feed(b.answer(routed, 200), b.source)
    checked: set[str] = set()
    for message, held in emitted:
        fresh = parse_message(serialize(message))
        for name, value in held.items():
            if name not in MESSAGE_FIELDS:
                assert getattr(fresh, name) == value, (name, message)
                checked.add(name)
    kinds = {m.method if isinstance(m, Request) else str(m.status) for m, _ in emitted}
    assert {"INVITE", "ACK", "BYE", "180", "200"} <= kinds
    assert {"vias", "from_", "to", "call_id", "cseq"} <= checked


def test_finished_registrations_and_calls_leave_no_reference_cycles() -> None:
    """What a finished transaction leaves must be freed by reference counting alone: `privateline
    serve` lets the collector's full passes run rarely (app/serve.py), because one over the live
    transactions of a loaded server stalls it for a second."""
    gc.collect()
    gc.disable()
    try:
        net, a, b = setup_call()
        for call_id, status in (("call-1", 200), ("call-2", 486)):
            _, sent = net.call(a, BOB, call_id=call_id)
            ((forwarded, _),) = requests_in(sent)
            net.feed(b.answer(forwarded, 180), b.source)
            net.feed(b.answer(forwarded, status), b.source)
        net.advance(600)  # every timer runs out (§17: at most 64*T1 and Timer C)
        assert net.element.busy() == 0 and net.element.proxy.contexts == 0
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("privateline.")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []


@pytest.mark.promise("DEV-3")
def test_in_dialog_request_from_the_callee_reaches_the_caller_through_its_nat() -> None:
    net, a, b = setup_call()
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 200), b.source)
    bye = b.request(
        "BYE",
        f"sip:{ALICE}@10.0.0.1:5060",
        to=f"<sip:{ALICE}@{DOMAIN}>;tag=ft1",
        call_id="call-1",
        cseq=1,
        branch="z9hG4bKbyeb",
        from_tag="bt1",
        extra=[f"Route: {net.route('call-1')}"],
    )
    ((routed, hop),) = requests_in(net.feed(bye, b.source))
    assert routed.method == "BYE" and hop.destination == a.source


@pytest.mark.promise("DEV-3")
def test_in_dialog_requests_without_our_dialog_token_are_not_relayed() -> None:
    net, a, _ = setup_call()
    forged_route = f"<sip:{HOST}:{PORT};transport=udp;lr>"
    for route in (forged_route, net.route("other-call")):
        data = a.request(
            "INVITE",
            "sip:4930555@198.51.100.200:5060",  # anywhere: a gateway out of the network, say
            to="<sip:4930555@198.51.100.200>;tag=made-up",
            call_id="call-x",
            cseq=1,
            branch=f"z9hG4bKforged{len(route)}",
            extra=[f"Route: {route}"],
        )
        answer, sent = net.only(net.feed(data, a.source))
        assert isinstance(answer, Response) and answer.status == 403
        assert answer.reason == "Forbidden (not a call set up through this service)"
        assert sent.destination == a.source
    ack = a.request(
        "ACK", "sip:4930555@198.51.100.200", to="<sip:x@y>;tag=z", call_id="call-x", cseq=1, branch="z9hG4bKfa"
    )
    assert net.feed(ack, a.source) == []  # an ACK gets no answer; it is dropped


def test_rport_and_received_are_stamped_on_responses() -> None:
    net = Network()
    a = alice()
    answer = net.first_answer(a, "INVITE", f"sip:{BOB}@{DOMAIN}")
    assert answer.status == 407
    via = answer.top_via
    assert via is not None
    assert via.received == a.source[0] and via.rport == a.source[1]  # RFC 3581 §4


def test_received_without_rport_when_the_sent_by_differs() -> None:
    net = Network()
    data = sip(
        f"OPTIONS sip:{HOST} SIP/2.0",
        "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKnorport",
        "Max-Forwards: 70",
        f"From: <sip:{ALICE}@{DOMAIN}>;tag=o1",
        f"To: <sip:{HOST}>",
        "Call-ID: opt-1",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
    )
    answer, sent = net.only(net.feed(data, ("198.51.100.9", 5060)))
    assert isinstance(answer, Response) and answer.status == 200
    assert answer.top_via is not None and answer.top_via.received == "198.51.100.9"
    assert answer.top_via.rport is None
    assert sent.destination == ("198.51.100.9", 5060)


def test_keepalives_are_ignored_and_bad_datagrams_answered_statelessly() -> None:
    net = Network()
    assert net.feed(b"\r\n\r\n", ("198.51.100.1", 1)) == []
    broken = sip(
        "INVITE sip:x@sip.example.test SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbad",
        "From: <sip:a@sip.example.test>;tag=1",
        "To: <sip:x@sip.example.test>",
        "Call-ID: bad",
        "CSeq: 1 INVITE",
        "Max-Forwards: lots",
        "Content-Length: 0",
    )
    answer, _ = net.only(net.feed(broken, ("198.51.100.1", 1)))
    assert isinstance(answer, Response) and answer.status == 400
    version = broken.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)
    answer, _ = net.only(net.feed(version, ("198.51.100.1", 1)))
    assert isinstance(answer, Response) and answer.status == 505
    assert net.feed(b"SIP/2.0 200 OK\r\nbroken", ("198.51.100.1", 1)) == []


def test_a_request_without_a_call_id_gets_400() -> None:
    net = Network()
    data = sip(
        f"OPTIONS sip:{HOST} SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnocallid",
        "From: <sip:a@sip.example.test>;tag=1",
        f"To: <sip:{HOST}>",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
    )
    answer, _ = net.only(net.feed(data, ("198.51.100.1", 1)))
    assert isinstance(answer, Response) and answer.status == 400


@pytest.mark.promise("DEV-3")
def test_failed_authentications_are_limited_per_source() -> None:
    net = Network(failures_per_source=3, failures_per_number=100)
    mallory = Phone(ALICE, ("198.51.100.66", 5060), "10.6.6.6", password="guess")
    for _ in range(3):
        assert net.register(mallory).status == 403  # wrong credentials
    # Blocked: even the right password is refused now, without being checked.
    honest = Phone(BOB, mallory.source, "10.6.6.7")
    answer = net.register(honest)
    assert answer.status == 403 and answer.reason == "Forbidden (too many failed attempts)"
    # The proxy's digest failures count the same way.
    assert net.first_answer(honest, "INVITE", f"sip:{ALICE}@{DOMAIN}").status == 407
    # Another source is not affected, and the block ends after the window.
    assert net.register(alice()).status == 200
    net.advance(61)
    assert net.register(honest).status == 200


@pytest.mark.promise("DEV-3")
def test_failed_authentications_are_limited_per_number() -> None:
    net = Network(failures_per_source=100, failures_per_number=2)
    for index in range(2):
        guesser = Phone(ALICE, (f"198.51.100.{70 + index}", 5060), f"10.6.6.{index}", password="guess")
        assert net.register(guesser).status == 403
    answer = net.register(alice())  # the right password, from a fresh source: the number is blocked
    assert answer.status == 403 and answer.reason == "Forbidden (too many failed attempts)"
    assert net.register(bob()).status == 200
    net.advance(61)
    assert net.register(alice()).status == 200


@pytest.mark.promise("DEV-3")
def test_proxy_digest_failures_count_too() -> None:
    net = Network(failures_per_source=2, failures_per_number=100)
    net.register(bob())
    a = alice()
    a.password = "wrong"
    for call in range(2):
        _, sent = net.call(a, BOB, call_id=f"guess-{call}")
        ((answer, _),) = responses_in(sent)
        assert answer.status == 403 and answer.reason == "Forbidden (wrong credentials)"
    _, sent = net.call(a, BOB, call_id="guess-3")
    ((answer, _),) = responses_in(sent)
    assert answer.reason == "Forbidden (too many failed attempts)"


def test_busy_counts_only_transactions_still_waiting_for_a_final_response() -> None:
    """A graceful shutdown waits for calls being set up, not for answered REGISTERs that only
    absorb retransmissions until Timer J (§17.2.2)."""
    net, a, _b = setup_call()
    assert len(net.element.layer) > 0 and net.element.busy() == 0  # answered: in Completed
    net.call(a, BOB)
    assert net.element.busy() == 2  # the caller's INVITE server and the callee's client transaction
    net.advance(3600)  # Timer B ends the unanswered call with 408
    assert net.element.busy() == 0
    assert len(net.element.layer) == 0
    assert net.element.next_timer() is None


def test_an_unauthenticated_register_is_challenged_statelessly_and_its_retransmission_afresh() -> None:
    """§8.2.7: the challenge keeps no server transaction (none to hold for Timer J, §17.2.2);
    a retransmission gets a new challenge, and the authenticated REGISTER still has one."""
    net, a = Network(), alice()
    data = sip(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        a.via("z9hG4bKfirst"),
        "Max-Forwards: 70",
        f"From: <sip:{ALICE}@{DOMAIN}>;tag=r1",
        f"To: <sip:{ALICE}@{DOMAIN}>",
        "Call-ID: stateless-1",
        "CSeq: 1 REGISTER",
        f"Contact: {a.contact}",
        "Content-Length: 0",
    )
    first, sent = net.only(net.feed(data, a.source))
    again, _ = net.only(net.feed(data, a.source))
    assert isinstance(first, Response) and isinstance(again, Response)
    assert (first.status, again.status, sent.destination) == (401, 401, a.source)
    assert first.www_authenticate[0].nonce != again.www_authenticate[0].nonce
    assert first.top_via is not None and first.top_via.params.get("received") == a.source[0]
    assert len(net.element.layer) == 0 and net.element.next_timer() is None
    assert net.register(a).status == 200
    assert len(net.element.layer) == 1  # the authenticated REGISTER's, absorbing retransmissions


def test_an_invite_without_credentials_is_challenged_statelessly_and_its_ack_goes_nowhere() -> None:
    net, a, _b = setup_call()
    layer = net.element.layer
    before = len(layer)
    branch = "z9hG4bKfirst-invite"
    invite = a.request("INVITE", f"sip:{BOB}@{DOMAIN}", to=f"<sip:{BOB}@{DOMAIN}>", call_id="c9", cseq=1, branch=branch)
    first, sent = net.only(net.feed(invite, a.source))
    again, _ = net.only(net.feed(invite, a.source))  # a retransmission: challenged afresh
    assert isinstance(first, Response) and isinstance(again, Response)
    assert (first.status, again.status, sent.destination) == (407, 407, a.source)
    assert first.proxy_authenticate[0].nonce != again.proxy_authenticate[0].nonce
    assert len(layer) == before  # no INVITE server transaction waits for the ACK (Timer H)
    ack = sip(
        f"ACK sip:{BOB}@{DOMAIN} SIP/2.0",
        a.via(branch),
        "Max-Forwards: 70",
        f"From: <sip:{ALICE}@{DOMAIN}>;tag=ft1",
        f"To: {first.headers.get('To')}",
        "Call-ID: c9",
        "CSeq: 1 ACK",
        "Content-Length: 0",
    )
    assert net.feed(ack, a.source) == [] and len(layer) == before  # not relayed to Bob
    # In dialog (a To tag), a request without credentials still goes through a transaction.
    to_bob = f"<sip:{BOB}@{DOMAIN}>;tag=x"
    bye = a.request("BYE", f"sip:{BOB}@{DOMAIN}", to=to_bob, call_id="c9", cseq=2, branch="z9hG4bKbye")
    refused, _ = net.only(net.feed(bye, a.source))
    assert isinstance(refused, Response) and refused.status == 403 and len(layer) == before + 1


def test_a_bug_is_caught_counted_and_the_request_answered_500() -> None:
    seen: list[BaseException] = []

    def broken(number: str) -> None:
        raise RuntimeError("directory down")

    element = SipElement(
        ElementSettings(host=HOST, port=PORT, domains=(DOMAIN,), realm=DOMAIN),
        devices=broken,
        bindings=Network().bindings,
        digest=Network().digest,
        on_internal_error=seen.append,
    )
    a = alice()
    credentials = digest_answer("x", user=ALICE, method="REGISTER", uri=f"sip:{DOMAIN}", nc=1)
    data = sip(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        a.via("z9hG4bKbug"),
        f"From: <sip:{ALICE}@{DOMAIN}>;tag=r1",
        f"To: <sip:{ALICE}@{DOMAIN}>",
        "Call-ID: bug",
        "CSeq: 1 REGISTER",
        f"Authorization: {credentials}",
        "Content-Length: 0",
    )
    element.receive_datagram(data, a.source, Network().now)
    (sent,) = element.data_to_send()
    assert parse_message(sent.payload).status == 500  # type: ignore[union-attr]
    assert element.internal_errors == 1 and [type(e) for e in seen] == [RuntimeError]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="domain"):
        ElementSettings(host=HOST, port=PORT, domains=(), realm=DOMAIN)


# --- no input makes the element raise ----------------------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [*torture.VALID.values(), *torture.INVALID.values(), *torture.ACCEPTED.values()]


def fresh_element() -> tuple[SipElement, list[BaseException]]:
    net = Network()
    return net.element, net.errors


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=5))
def test_random_bytes_never_raise(datagrams: list[bytes]) -> None:
    element, errors = fresh_element()
    now = Network().now
    for data in datagrams:
        element.receive_datagram(data, ("198.51.100.1", 5060), now)
        element.data_to_send()
    element.handle_timer(now + timedelta(seconds=40))
    assert errors == [] and element.internal_errors == 0


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=4)), max_size=6))
def test_mutated_messages_never_raise(seed: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(seed)
    for position, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + len(replacement)] = replacement
    element, errors = fresh_element()
    now = Network().now
    element.receive_datagram(bytes(data), ("198.51.100.1", 5060), now)
    element.data_to_send()
    assert errors == [] and element.internal_errors == 0


@FUZZ
@given(s.requests() | s.responses())
def test_generated_messages_never_raise(message: Request | Response) -> None:
    element, errors = fresh_element()
    now = Network().now
    element.receive_datagram(serialize(message), ("198.51.100.1", 5060), now)
    for sent in element.data_to_send():
        assert sent.destination[1] > 0
    assert errors == [] and element.internal_errors == 0
