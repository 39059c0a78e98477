"""The proxy (RFC 3261 §16) through `SipElement`: policy answers (DEV-3), forking and best
response, CANCEL, Timers B and C, Max-Forwards, loops, identity."""

from __future__ import annotations

import pytest

from privateline.edges.sip.core import Request, Response, TimerSettings, parse_message, serialize
from privateline.edges.sip.core.address import parse_address
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.proxy_routing import Here
from privateline.edges.sip.core.via import parse_via
from tests.edges.sip.core.element_support import (
    ALICE,
    BOB,
    DOMAIN,
    HOST,
    NICK,
    NICKNAME,
    OFF,
    PORT,
    Network,
    Phone,
    alice,
    bob,
    bob_desk,
    requests_in,
    responses_in,
)
from tests.edges.sip.core.torture import sip


def registered(*phones: Phone, **settings: object) -> Network:
    net = Network(**settings)
    for phone in phones:
        assert net.register(phone).status == 200
    return net


def final_to_caller(sent: list, caller: Phone) -> Response:  # type: ignore[type-arg]
    """The final response the caller got (retransmitted by Timer G until the caller ACKs, §17.2.1)."""
    finals = [r for r, t in responses_in(sent) if r.status >= 200 and t.destination == caller.source]
    assert finals and all(r == finals[0] for r in finals), finals
    return finals[0]


def cancel_of(invite_bytes: bytes) -> bytes:
    """§9.1: the CANCEL a phone sends for its INVITE."""
    invite = parse_message(invite_bytes)
    assert isinstance(invite, Request) and invite.cseq is not None
    fields = [(n, invite.headers.get(n) or "") for n in ("Via", "From", "To", "Call-ID")]
    fields += [("Max-Forwards", "70"), ("CSeq", f"{invite.cseq.number} CANCEL")]
    return serialize(Request("CANCEL", invite.uri, Headers(fields)))


# --- policy (DEV-3) ---------------------------------------------------------------------------


@pytest.mark.promise("DEV-3")
def test_a_tel_uri_is_refused_as_another_network() -> None:
    net = registered(alice())
    answer = net.first_answer(alice(), "INVITE", "tel:+4930123456")
    assert answer.status == 403 and answer.reason == "Forbidden (calls to other networks are not possible)"


@pytest.mark.promise("DEV-3")
def test_another_domain_is_refused() -> None:
    net = registered(alice(), bob())
    _, sent = net.call(alice(), BOB, uri=f"sip:{BOB}@elsewhere.example.org")
    answer = final_to_caller(sent, alice())
    assert answer.status == 403 and answer.reason == "Forbidden (calls to other networks are not possible)"


@pytest.mark.promise("DEV-3")
def test_an_unknown_number_is_not_found() -> None:
    net = registered(alice())
    _, sent = net.call(alice(), "4930999999")
    answer = final_to_caller(sent, alice())
    assert answer.status == 404 and answer.reason == "Not Found (not a number of this service)"


@pytest.mark.promise("DEV-3")
def test_a_callee_with_voip_off_is_not_found() -> None:
    net = registered(alice())
    _, sent = net.call(alice(), OFF)
    answer = final_to_caller(sent, alice())
    assert answer.status == 404 and answer.reason == "Not Found (not a number of this service)"


@pytest.mark.promise("DEV-3")
def test_a_caller_with_voip_off_is_forbidden() -> None:
    net = registered(bob())
    caller = Phone(OFF, ("198.51.100.5", 5060), "10.0.0.5")
    _, sent = net.call(caller, BOB)
    answer = final_to_caller(sent, caller)
    assert answer.status == 403 and answer.reason == "Forbidden (VoIP is off for this device)"


@pytest.mark.promise("DEV-3")
def test_an_unknown_caller_is_forbidden() -> None:
    net = registered(bob())
    caller = Phone("4930777777", ("198.51.100.5", 5060), "10.0.0.5")
    _, sent = net.call(caller, BOB)
    assert final_to_caller(sent, caller).status == 403


@pytest.mark.promise("DEV-3")
def test_the_authenticated_number_must_be_the_from_user() -> None:
    net = registered(alice(), bob())
    a = alice()
    # Alice's credentials with Bob's number in From.
    impostor = Phone(ALICE, a.source, a.private)
    data, _ = net.call(impostor, BOB, call_id="spoof")
    spoofed = data.replace(f"From: <sip:{ALICE}@".encode(), f"From: <sip:{BOB}@".encode())
    spoofed = spoofed.replace(b"CSeq: 2 INVITE", b"CSeq: 9 INVITE").replace(b"z9hG4bKinv2", b"z9hG4bKinv9")
    answer, _ = net.only(net.feed(spoofed, a.source))
    assert isinstance(answer, Response)
    assert answer.status in (403, 407)  # a replayed nonce count is challenged afresh; never forwarded


@pytest.mark.promise("DEV-3")
def test_a_number_without_binding_is_temporarily_unavailable() -> None:
    net = registered(alice())
    _, sent = net.call(alice(), BOB)
    assert final_to_caller(sent, alice()).status == 480


@pytest.mark.promise("DEV-3")
def test_unauthenticated_requests_are_challenged_with_407() -> None:
    net = registered(alice(), bob())
    for method in ("INVITE", "MESSAGE", "OPTIONS", "SUBSCRIBE"):
        answer = net.first_answer(alice(), method, f"sip:{BOB}@{DOMAIN}")
        assert answer.status == 407, method
        algorithms = [c.algorithm for c in answer.proxy_authenticate]
        assert algorithms == ["SHA-256", "MD5"]
        assert all(c.realm == DOMAIN for c in answer.proxy_authenticate)


@pytest.mark.promise("DEV-3")
def test_a_wrong_password_is_403_and_an_expired_nonce_stale() -> None:
    net = registered(bob())
    wrong = alice()
    wrong.password = "nope"
    _, sent = net.call(wrong, BOB)
    answer = final_to_caller(sent, wrong)
    assert answer.status == 403 and answer.reason == "Forbidden (wrong credentials)"
    # A nonce older than its lifetime gets stale=true.
    caller = alice()
    first = net.first_answer(caller, "INVITE", f"sip:{BOB}@{DOMAIN}")
    nonce = first.proxy_authenticate[0].nonce
    assert nonce is not None
    net.advance(600)
    from tests.edges.sip.core.element_support import digest_answer

    credentials = digest_answer(nonce, user=ALICE, method="INVITE", uri=f"sip:{BOB}@{DOMAIN}", nc=1)
    data = caller.request(
        "INVITE",
        f"sip:{BOB}@{DOMAIN}",
        to=f"<sip:{BOB}@{DOMAIN}>",
        call_id="stale",
        cseq=10,
        branch="z9hG4bKstale",
        extra=[f"Proxy-Authorization: {credentials}"],
    )
    stale, _ = net.only(net.feed(data, caller.source))
    assert isinstance(stale, Response) and stale.status == 407
    assert all(c.stale for c in stale.proxy_authenticate)


@pytest.mark.promise("DEV-3")
def test_the_nickname_is_shown_as_display_name_and_asserted_identity() -> None:
    caller = Phone(NICK, ("198.51.100.7", 5060), "10.0.0.7")
    net = registered(caller, bob())
    _, sent = net.call(caller, BOB, extra=[f'P-Asserted-Identity: "Boss" <sip:{BOB}@{DOMAIN}>'])
    ((forwarded, _),) = requests_in(sent)
    assert forwarded.from_ is not None
    assert forwarded.from_.display_name == NICKNAME
    assert str(forwarded.from_.uri) == f"sip:{NICK}@{DOMAIN}" and forwarded.from_.tag == "ft1"
    (asserted,) = forwarded.headers.get_all("P-Asserted-Identity")
    identity = parse_address(asserted, "P-Asserted-Identity")
    assert identity.display_name == NICKNAME and str(identity.uri) == f"sip:{NICK}@{DOMAIN}"


@pytest.mark.promise("DEV-3")
def test_without_a_nickname_a_phone_cannot_assert_an_identity() -> None:
    net = registered(alice(), bob())
    _, sent = net.call(alice(), BOB, extra=[f'P-Asserted-Identity: "Boss" <sip:{BOB}@{DOMAIN}>'])
    ((forwarded, _),) = requests_in(sent)
    assert "P-Asserted-Identity" not in forwarded.headers  # RFC 3325 §5: not from an untrusted phone


def test_options_to_the_proxy_is_answered_with_allow() -> None:
    net = Network()
    for uri in (f"sip:{HOST}", f"sip:{DOMAIN}", f"sip:{HOST}:{PORT}"):
        answer = net.first_answer(alice(), "OPTIONS", uri)
        assert answer.status == 200 and "INVITE" in answer.allow
    assert net.first_answer(alice(), "OPTIONS", f"sip:{HOST}", max_forwards=0).status == 200


# --- validation (§16.3) -----------------------------------------------------------------------


def test_max_forwards_zero_is_483() -> None:
    net = registered(alice(), bob())
    assert net.first_answer(alice(), "INVITE", f"sip:{BOB}@{DOMAIN}", max_forwards=0).status == 483


def test_proxy_require_is_420_with_unsupported() -> None:
    net = Network()
    answer = net.first_answer(alice(), "INVITE", f"sip:{BOB}@{DOMAIN}", extra=["Proxy-Require: foo, bar"])
    assert answer.status == 420 and answer.headers.get("Unsupported") == "foo, bar"


def test_a_looped_request_is_482_and_a_spiral_is_not() -> None:
    net = registered(alice(), bob())
    _, sent = net.call(alice(), BOB)
    ((forwarded, _),) = requests_in(sent)
    # The copy comes back with the Request-URI it had when we got it: a loop (§16.3 item 4).
    back = serialize(
        Request(
            "INVITE",
            parse_message(sip(f"OPTIONS sip:{BOB}@{DOMAIN} SIP/2.0", "Content-Length: 0")).uri,  # type: ignore[union-attr]
            forwarded.headers.prepend("Via", "SIP/2.0/UDP 203.0.113.50:5060;branch=z9hG4bKbounce"),
            forwarded.body,
        )
    )
    answer, _ = net.only(net.feed(back, ("203.0.113.50", 5060)))
    assert isinstance(answer, Response) and answer.status == 482
    # With the Request-URI changed (retargeted to the Contact) it is a spiral: processing goes on.
    spiral = serialize(
        Request(
            "INVITE",
            forwarded.uri,
            forwarded.headers.prepend("Via", "SIP/2.0/UDP 203.0.113.50:5060;branch=z9hG4bKspiral"),
            forwarded.body,
        )
    )
    answer, _ = net.only(net.feed(spiral, ("203.0.113.50", 5060)))
    assert isinstance(answer, Response) and answer.status == 407


def test_in_dialog_request_to_a_host_name_is_404_and_to_tel_416() -> None:
    net = registered(alice())
    a = alice()
    route = f"Route: {net.route('dlg')}"
    for uri, status in (("sip:x@phone.example.org", 404), ("tel:+4930", 403)):
        data = a.request(
            "BYE",
            uri,
            to=f"<sip:{BOB}@{DOMAIN}>;tag=z",
            call_id="dlg",
            cseq=1,
            branch=f"z9hG4bKd{status}",
            extra=[route],
        )
        answer, _ = net.only(net.feed(data, a.source))
        assert isinstance(answer, Response) and answer.status == status
    data = a.request(
        "BYE",
        f"sip:{BOB}@10.0.0.2",
        to=f"<sip:{BOB}@{DOMAIN}>;tag=z",
        call_id="dlg",
        cseq=2,
        branch="z9hG4bKdroute",
        extra=[route, "Route: <tel:+4930>"],
    )
    answer, _ = net.only(net.feed(data, a.source))
    assert isinstance(answer, Response) and answer.status == 416


def test_a_strict_routed_request_takes_its_uri_from_the_last_route() -> None:
    net = registered(alice(), bob())
    a = alice()
    data = a.request(
        "BYE",
        net.route("strict")[1:-1],
        to=f"<sip:{BOB}@{DOMAIN}>;tag=z",
        call_id="strict",
        cseq=1,
        branch="z9hG4bKstrict",
        extra=[f"Route: <sip:{BOB}@10.0.0.2:5060>"],
    )
    ((routed, hop),) = requests_in(net.feed(data, a.source))
    assert str(routed.uri) == f"sip:{BOB}@10.0.0.2:5060" and "Route" not in routed.headers
    assert hop.destination == bob().source


# --- forking and best response (§16.6, §16.7) ----------------------------------------------------


def forked() -> tuple[Network, Phone, dict[tuple[str, int], Request]]:
    a = alice()
    net = registered(a, bob(), bob_desk())
    _, sent = net.call(a, BOB)
    copies = {t.destination: r for r, t in requests_in(sent)}
    assert set(copies) == {bob().source, bob_desk().source}
    branches = {r.top_via.branch for r in copies.values() if r.top_via is not None}
    assert len(branches) == 2  # each copy its own client transaction (§16.6 item 8)
    return net, a, copies


def test_forking_sends_cancel_to_the_other_branches_on_2xx() -> None:
    net, _a, copies = forked()
    phone, desk = bob(), bob_desk()
    net.feed(phone.answer(copies[phone.source], 180), phone.source)
    sent = net.feed(desk.answer(copies[desk.source], 200, tag="desk"), desk.source)
    cancels = [(r, t) for r, t in requests_in(sent) if r.method == "CANCEL"]
    assert [t.destination for _, t in cancels] == [phone.source]
    cancel = cancels[0][0]
    forwarded_via = copies[phone.source].top_via
    assert cancel.top_via is not None and forwarded_via is not None
    assert cancel.top_via.branch == forwarded_via.branch  # §9.1
    # The phone answers 200 to the CANCEL and 487 to the INVITE: neither reaches A.
    out = net.feed(phone.answer(cancel, 200), phone.source)
    out += net.feed(phone.answer(copies[phone.source], 487, tag="ph"), phone.source)
    assert [t.destination for _, t in responses_in(out)] == []
    assert [r.method for r, _ in requests_in(out)] == ["ACK"]  # the client transaction's ACK for 487


def test_best_response_is_the_lowest_class_and_6xx_wins() -> None:
    net, a, copies = forked()
    phone, desk = bob(), bob_desk()
    assert responses_in(net.feed(phone.answer(copies[phone.source], 503, tag="p"), phone.source)) == []
    sent = net.feed(desk.answer(copies[desk.source], 486, tag="d"), desk.source)
    assert final_to_caller(sent, a).status == 486

    net, a, copies = forked()
    net.feed(phone.answer(copies[phone.source], 180), phone.source)
    sent = net.feed(desk.answer(copies[desk.source], 603, tag="d"), desk.source)
    assert [r.method for r, _ in requests_in(sent) if r.method == "CANCEL"] == ["CANCEL"]  # 6xx cancels
    sent = net.feed(phone.answer(copies[phone.source], 487, tag="p"), phone.source)
    assert final_to_caller(sent, a).status == 603


def test_503_becomes_500() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    answer = final_to_caller(net.feed(b.answer(forwarded, 503), b.source), a)
    assert answer.status == 500


def test_100_is_not_forwarded_and_the_ack_for_a_failure_is_absorbed() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    assert net.feed(b.answer(forwarded, 100), b.source) == []
    out = net.feed(b.answer(forwarded, 486), b.source)
    assert final_to_caller(out, a).status == 486
    assert [r.method for r, t in requests_in(out)] == ["ACK"]  # our ACK to B (§17.1.1.3)


# --- CANCEL (§16.10) ----------------------------------------------------------------------------


def test_cancel_of_a_ringing_call() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    invite, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    out = net.feed(cancel_of(invite), a.source)
    ((ok, to_a),) = responses_in(out)
    assert ok.status == 200 and ok.cseq is not None and ok.cseq.method == "CANCEL" and to_a.destination == a.source
    ((cancel, to_b),) = requests_in(out)
    assert cancel.method == "CANCEL" and to_b.destination == b.source
    net.feed(b.answer(cancel, 200), b.source)
    terminated = final_to_caller(net.feed(b.answer(forwarded, 487), b.source), a)
    assert terminated.status == 487


def test_cancel_before_any_provisional_waits_for_one() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    invite, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    out = net.feed(cancel_of(invite), a.source)
    assert [r.method for r, _ in requests_in(out)] == []  # §9.1: not before a provisional
    out = net.feed(b.answer(forwarded, 180), b.source)
    assert [r.method for r, _ in requests_in(out)] == ["CANCEL"]
    assert [r.status for r, _ in responses_in(out)] == []  # the 180 is not passed on any more


def test_a_cancel_matching_nothing_is_481() -> None:
    net = registered(alice())
    a = alice()
    data = a.request(
        "CANCEL", f"sip:{BOB}@{DOMAIN}", to=f"<sip:{BOB}@{DOMAIN}>", call_id="x", cseq=1, branch="z9hG4bKx"
    )
    answer, _ = net.only(net.feed(data, a.source))
    assert isinstance(answer, Response) and answer.status == 481


# --- timers ---------------------------------------------------------------------------------------


def test_timer_b_gives_408_to_the_caller() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, _sent = net.call(a, BOB)
    out = net.advance(40)
    retransmitted = [r for r, t in requests_in(out) if r.method == "INVITE" and t.destination == b.source]
    assert len(retransmitted) >= 5  # Timer A meanwhile (§17.1.1.2)
    assert final_to_caller(out, a).status == 408


def test_timer_c_cancels_a_branch_that_rang_too_long() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    assert [r for r, _ in requests_in(net.advance(170)) if r.method == "CANCEL"] == []
    out = net.advance(20)
    cancels = [(r, t) for r, t in requests_in(out) if r.method == "CANCEL"]
    assert {t.destination for _, t in cancels} == {b.source}  # sent, then retransmitted (Timer E)
    net.feed(b.answer(cancels[0][0], 200), b.source)
    assert final_to_caller(net.feed(b.answer(forwarded, 487), b.source), a).status == 487


def test_timer_c_restarts_on_each_provisional() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    net.advance(150)
    net.feed(b.answer(forwarded, 183), b.source)
    assert [r for r, _ in requests_in(net.advance(150)) if r.method == "CANCEL"] == []
    assert {r.method for r, _ in requests_in(net.advance(40))} == {"CANCEL"}


def test_timer_c_without_provisional_counts_as_408() -> None:
    a, b = alice(), bob()
    # T1 = 4 s makes Timer B 256 s, longer than Timer C (181 s).
    net = registered(a, b, timers=TimerSettings(t1=4.0, t2=4.0))
    net.call(a, BOB)
    out = net.advance(200)
    assert final_to_caller(out, a).status == 408


def test_a_branch_given_up_by_timer_c_is_cancelled_when_it_rings_late() -> None:
    a, b = alice(), bob()
    net = registered(a, b, timers=TimerSettings(t1=4.0, t2=4.0))
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    assert final_to_caller(net.advance(200), a).status == 408
    out = net.feed(b.answer(forwarded, 180), b.source)
    assert [r.method for r, _ in requests_in(out)] == ["CANCEL"]
    assert [r.status for r, t in responses_in(out) if t.destination == a.source] == []


def test_a_branch_that_never_answers_our_cancel_is_given_up_and_forgotten() -> None:
    """§9.1: no final response within 64*T1 of the CANCEL ends the branch; its INVITE client
    transaction (no timer of its own in Proceeding) must not live on."""
    a, b = alice(), bob()
    net = registered(a, b)
    invite, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    net.feed(cancel_of(invite), a.source)  # the phone B never answers the CANCEL nor the INVITE
    assert final_to_caller(net.advance(40), a).status == 487
    net.advance(100)  # the caller's transactions end by their own timers
    assert len(net.element.layer) == 0
    assert net.element.busy() == 0
    assert net.element.proxy.contexts == 0


def test_timer_c_must_exceed_three_minutes() -> None:
    with pytest.raises(ValueError, match="3 minutes"):
        Network(timer_c=60.0)


def test_contexts_are_forgotten_when_the_call_is_over() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 486), b.source)
    assert net.element.proxy.contexts == 1
    net.advance(100)
    assert net.element.proxy.contexts == 0


def test_every_2xx_of_a_fork_reaches_the_caller() -> None:
    net, _, copies = forked()
    phone, desk = bob(), bob_desk()
    first = net.feed(desk.answer(copies[desk.source], 200, tag="desk"), desk.source)
    second = net.feed(phone.answer(copies[phone.source], 200, tag="phone"), phone.source)
    tags = [r.to.tag for r, t in responses_in(first + second) if r.status == 200 and r.to is not None]
    assert tags == ["desk", "phone"]  # §16.7 step 5: each 2xx at once; the caller ACKs and BYEs the second


def test_a_2xx_retransmitted_after_the_transactions_ended_is_forwarded_statelessly() -> None:
    a, b = alice(), bob()
    net = registered(a, b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    ok = b.answer(forwarded, 200)
    net.feed(ok, b.source)
    net.advance(40)  # Timer M and Timer L have ended both transactions (RFC 6026)
    again, to_a = net.only(net.feed(ok, b.source))
    assert isinstance(again, Response) and again.status == 200 and to_a.destination == a.source
    assert [v.host for v in again.vias] == ["10.0.0.1"]


def test_a_phone_registered_over_tcp_is_called_over_tcp() -> None:
    a = alice()
    net = registered(a)
    b = bob()
    data = sip(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/TCP 10.0.0.2:5060;branch=z9hG4bKtcpreg",
        "Max-Forwards: 70",
        f"From: <sip:{BOB}@{DOMAIN}>;tag=r1",
        f"To: <sip:{BOB}@{DOMAIN}>",
        "Call-ID: tcp-reg",
        "CSeq: 1 REGISTER",
        f"Contact: <sip:{BOB}@10.0.0.2:5060;transport=tcp>",
        "Content-Length: 0",
    )
    net.element.receive_message(parse_message(data), b.source, net.now, transport="tcp")
    (challenge,) = net.element.data_to_send()
    nonce = parse_message(challenge.payload).www_authenticate[0].nonce
    from tests.edges.sip.core.element_support import digest_answer

    credentials = digest_answer(str(nonce), user=BOB, method="REGISTER", uri=f"sip:{DOMAIN}", nc=1)
    again = data.replace(b"CSeq: 1", b"CSeq: 2").replace(b"tcpreg", b"tcpreg2")
    again = again.replace(b"Content-Length: 0", f"Authorization: {credentials}\r\nContent-Length: 0".encode())
    net.element.receive_message(parse_message(again), b.source, net.now, transport="tcp")
    (ok,) = net.element.data_to_send()
    assert parse_message(ok.payload).status == 200  # type: ignore[union-attr]
    _, sent = net.call(a, BOB)
    ((forwarded, hop),) = requests_in(sent)
    assert hop.transport == "tcp" and hop.destination == b.source
    assert forwarded.top_via is not None and forwarded.top_via.transport == "TCP"
    assert "transport=tcp" in (forwarded.headers.get("Record-Route") or "")
    # The 200 back to the UDP caller carries our Record-Route for UDP (§16.7 step 4).
    message = parse_message(b.answer(forwarded, 200))
    net.element.receive_message(message, b.source, net.now, transport="tcp")
    (answer, to_a) = net.only(net.element.data_to_send())
    assert isinstance(answer, Response) and to_a.transport == "udp" and to_a.destination == a.source
    (record_route,) = answer.headers.get_all("Record-Route")
    assert "transport=udp" in record_route and record_route == net.route("call-1")


def test_best_response_rules() -> None:
    from privateline.edges.sip.core.proxy_context import best_response

    def response(status: int, *extra: tuple[str, str]) -> Response:
        return Response(status, "x", Headers([("Via", "SIP/2.0/UDP h;branch=z9hG4bKa"), *extra]))

    assert best_response([]) is None
    assert best_response([response(486), response(603), response(302)]).status == 603  # type: ignore[union-attr]
    assert best_response([response(486), response(302)]).status == 302  # type: ignore[union-attr]
    assert best_response([response(503)]).status == 500  # type: ignore[union-attr]
    gathered = best_response(
        [response(401, ("WWW-Authenticate", "Digest realm=a")), response(407, ("Proxy-Authenticate", "Digest realm=b"))]
    )
    assert gathered is not None and gathered.status == 401
    assert gathered.headers.get_all("WWW-Authenticate") == ("Digest realm=a",)
    assert gathered.headers.get_all("Proxy-Authenticate") == ("Digest realm=b",)


def test_our_via_is_the_one_its_text_reads_as_and_needs_a_token_branch() -> None:
    """§16.6 item 8: the Via the proxy adds is built from checked parts (the hot path), so it
    must equal what a parser reads from the text that goes out."""
    here = Here(HOST, PORT, (DOMAIN,))
    for transport in ("udp", "tcp", "tls"):
        via = here.via(transport, "z9hG4bK0123456789abcdef.b1")
        assert parse_via(str(via)) == (via,)
        assert via.transport == transport.upper() and via.branch == "z9hG4bK0123456789abcdef.b1" and via.has_rport
    with pytest.raises(ValueError, match="a branch is a token"):
        here.via("udp", "z9hG4bK not a token")
