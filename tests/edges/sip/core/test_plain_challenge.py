"""Challenges written from a plain request's bytes (plain_challenge.py) are the general code's.

Two elements with the same tag and nonce sources are fed the same datagrams from the same
source: one as `privateline serve` builds it, one with `plain_challenges` set to None, which
leaves every datagram to the general code (parse, stamp, registrar or proxy, response).
Whatever the input, REGISTERs and INVITEs of every variety the phones send or their
mutations, and what follows them in a registration or a call, the two must send the same
bytes to the same place and store the same bindings.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core.element import Transmission

from .element_support import (
    ALICE,
    BOB,
    DOMAIN,
    HOST,
    NICK,
    OFF,
    PASSWORD,
    PORT,
    SDP,
    Network,
    Phone,
    digest_answer,
)
from .strategies import call_ids, mutated, tokens
from .torture import sip

PLAIN = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCES = (("192.0.2.50", 5060), ("198.51.100.7", 40000), ("10.1.2.3", 5060))

# A REGISTER as SIPp's scenario writes it (tests/edges/sip/sipp/register.xml) ...
SIPP = sip(
    f"REGISTER sip:{HOST}:5060 SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK-4242-1-r1",
    "Max-Forwards: 70",
    f"From: <sip:4930111111@{HOST}>;tag=4242R1",
    f"To: <sip:4930111111@{HOST}>",
    "Call-ID: 1-4242@192.0.2.50",
    "CSeq: 1 REGISTER",
    "Contact: <sip:4930111111@192.0.2.50:5060;transport=UDP>",
    "Expires: 3600",
    "User-Agent: privateline-sipp",
    "Content-Length: 0",
)
# ... and as a phone behind NAT writes it: rport (RFC 3581), its private address, a display name.
BEHIND_NAT = sip(
    f"REGISTER sip:{DOMAIN} SIP/2.0",
    "Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK1f2e3d;rport",
    f'From: "Oma Erna" <sip:4930111111@{DOMAIN}>;tag=ab12',
    f'To: "Oma Erna" <sip:4930111111@{DOMAIN}>',
    "Call-ID: 5d41402abc4b2a76b9719d911017c592",
    "CSeq: 7 REGISTER",
    "Contact: <sip:4930111111@10.0.0.7:5060;transport=udp>;expires=600",
    "Max-Forwards: 70",
    "User-Agent: Deskphone/2.1",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE",
    "Content-Length: 0",
)


# ... and an INVITE as SIPp's calling scenario writes it (tests/edges/sip/sipp/uac.xml).
INVITE = sip(
    f"INVITE sip:{BOB}@{HOST}:5060 SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK-4242-1-i1",
    "Max-Forwards: 70",
    f"From: <sip:{ALICE}@{HOST}>;tag=4242A1",
    f"To: <sip:{BOB}@{HOST}>",
    "Call-ID: 1-4242@192.0.2.50",
    "CSeq: 1 INVITE",
    f"Contact: <sip:{ALICE}@192.0.2.50:5060;transport=UDP>",
    "Content-Type: application/sdp",
    f"Content-Length: {len(SDP)}",
    body=SDP,
)


def answered(data: bytes, source: tuple[str, int]) -> bool:
    """Whether the datagram is answered from its bytes (by an element of its own, so as to take
    no tag or nonce from the two compared)."""
    challenges = Network().element.plain_challenges
    assert challenges is not None
    return challenges.answer(data, source, Network().now) is not None


def both(data: bytes, source: tuple[str, int]) -> tuple[list[Transmission], list[Transmission], bool]:
    """What the element sends with plain challenges written from the bytes and without, and
    whether this one was."""
    fast, general = Network(), Network()
    general.element.plain_challenges = None
    return fast.feed(data, source), general.feed(data, source), answered(data, source)


@pytest.mark.promise("DEV-3")  # unauthenticated requests are challenged: 401 to REGISTER, 407 to others
@pytest.mark.parametrize(
    ("data", "source"), [(SIPP, SOURCES[0]), (BEHIND_NAT, ("203.0.113.9", 61000)), (INVITE, SOURCES[0])]
)
def test_the_requests_phones_send_are_challenged_from_their_bytes_as_the_general_code_challenges(
    data: bytes, source: tuple[str, int]
) -> None:
    fast, general, taken = both(data, source)
    assert taken
    assert fast == general
    [answer] = fast
    challenge = b"401 Unauthorized" if data.startswith(b"REGISTER") else b"407 Proxy Authentication Required"
    assert answer.payload.startswith(b"SIP/2.0 " + challenge + b"\r\n")
    assert answer.destination == source and answer.transport == "udp"


def test_the_top_via_is_stamped_with_where_the_register_came_from() -> None:
    [answer], _, _ = both(BEHIND_NAT, ("203.0.113.9", 61000))
    assert b"Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK1f2e3d;rport=61000;received=203.0.113.9\r\n" in answer.payload


@pytest.mark.parametrize(
    ("base", "change", "general_status"),
    [
        (SIPP, ("CSeq: 1 REGISTER", "CSeq: 1 REGISTER\r\nRequire: gruu"), b"420"),  # §10.3 step 2
        (SIPP, (f"REGISTER sip:{HOST}:5060", "REGISTER sip:elsewhere.example.test"), b"404"),  # §10.3 step 1
        (SIPP, ("CSeq: 1 REGISTER", "CSeq: 1 INVITE"), b"400"),  # RFC 4475 §3.1.2.17
        (SIPP, ("Max-Forwards: 70", "Max-Forwards: 70\r\nMax-Forwards: 69"), b"400"),  # RFC 4475 §3.3.8
        (SIPP, ("Content-Length: 0", "Content-Length: 20"), b"400"),  # a body cut short (RFC 4475 §3.1.2.2)
        (INVITE, ("To: <sip:4930222222@192.0.2.10>", "To: <sip:4930222222@192.0.2.10>;tag=b1"), b"403"),  # a dialog
        (INVITE, ("Max-Forwards: 70", "Max-Forwards: 0"), b"483"),  # §16.3 item 3
        # A Via of ours may be a loop (§16.3 item 4: 482 when its branch is the hash of this request).
        (INVITE, ("Via: SIP/2.0/UDP 192.0.2.50:5060", f"Via: SIP/2.0/UDP {HOST}:{PORT}"), b"407"),
        (INVITE, ("CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nProxy-Require: foo"), b"420"),  # §16.3 item 5
        # Credentials for another realm: challenged too, but by a transaction (the general code).
        (INVITE, ("CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nProxy-Authorization: Digest x=y"), b"407"),
    ],
)
def test_what_is_not_plain_is_left_to_the_general_code(
    base: bytes, change: tuple[str, str], general_status: bytes
) -> None:
    data = base.replace(change[0].encode(), change[1].encode(), 1)
    assert data != base
    fast, general, taken = both(data, SOURCES[0])
    assert not taken
    assert fast == general
    assert general[0].payload.startswith(b"SIP/2.0 " + general_status)


@pytest.mark.promise("DEV-4")
def test_a_registration_challenged_from_its_bytes_is_answered_and_stored_as_by_the_general_code() -> None:
    fast, general = registration(SIPP.decode(), SOURCES[0])
    assert fast == general
    challenge, answer, again = fast
    assert challenge[0].payload.startswith(b"SIP/2.0 401 ")
    assert answer[0].payload.startswith(b"SIP/2.0 200 ")
    assert again == answer  # the retransmission is answered by the server transaction (§17.2.2)
    assert answered(SIPP, SOURCES[0])
    assert not answered(with_credentials(SIPP.decode(), challenge[0].payload), SOURCES[0])  # the general code's


class Recording(Network):
    """A network that keeps everything the element sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Transmission] = []

    def feed(self, data: bytes, source: tuple[str, int]) -> list[Transmission]:
        out = super().feed(data, source)
        self.sent += out
        return out


def test_a_call_challenged_from_its_bytes_goes_on_as_through_the_general_code() -> None:
    sent = []
    for plain in (True, False):
        network = Recording()
        if not plain:
            network.element.plain_challenges = None
        alice, bob = Phone(ALICE, ("198.51.100.1", 5060), "10.0.0.1"), Phone(BOB, ("198.51.100.2", 5062), "10.0.0.2")
        assert network.register(bob).status == 200
        _, forwarded = network.call(alice, BOB)  # INVITE, 407, ACK, INVITE with credentials
        assert [t.destination for t in forwarded] == [alice.source, bob.source]  # 100 Trying, the INVITE
        sent.append(network.sent)
    assert sent[0] == sent[1]


_NONCE = re.compile(rb'WWW-Authenticate: Digest [^\r\n]*nonce="([^"]+)"[^\r\n]*algorithm=MD5')


def with_credentials(text: str, challenge: bytes, *, password: str = PASSWORD) -> bytes:
    """`text` with the Authorization a phone computes for the MD5 challenge (RFC 2617 §3.2.2)."""
    nonce = _NONCE.search(challenge)
    user = re.search(r"\r\n(?:To|t): [^\r\n]*<sip:([0-9]+)@", text)
    uri = re.match(r"REGISTER (\S+) ", text)
    if nonce is None or user is None or uri is None:
        return text.encode("utf-8")
    credentials = digest_answer(
        nonce.group(1).decode(), user=user.group(1), method="REGISTER", uri=uri.group(1), nc=1, password=password
    )
    first, _, rest = text.partition("\r\n")
    return f"{first}\r\nAuthorization: {credentials}\r\n{rest}".encode()


def registration(
    text: str, source: tuple[str, int], *, password: str = PASSWORD
) -> tuple[list[list[Transmission]], list[list[Transmission]]]:
    """What each element sends for a REGISTER, for it again with the credentials its answer asks
    for, and for a retransmission of that; the two elements must also have stored the same."""
    sent: list[list[list[Transmission]]] = []
    networks = Network(), Network()
    networks[1].element.plain_challenges = None
    for network in networks:
        first = network.feed(text.encode("utf-8"), source)
        second = with_credentials(text, first[0].payload if first else b"", password=password)
        sent.append([first, network.feed(second, source), network.feed(second, source)])
    assert networks[0].bindings.by_user == networks[1].bindings.by_user
    return sent[0], sent[1]


_users = st.sampled_from([ALICE, BOB, OFF, NICK, "4930999999"])
_branch = tokens.map(lambda t: f"z9hG4bK{t}")
_hosts = st.sampled_from(["192.0.2.50", "10.0.0.7", "phone.example.test", DOMAIN, HOST, "elsewhere.example.test"])
# Mostly valid, now and then what must be refused (a port beyond 65535, Max-Forwards beyond 255).
_ports = st.sampled_from([None, None, 5060, 5062, 40000, 65535, 99999])


def _hostport(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@st.composite
def plain_requests(draw: st.DrawFn, method: str = "REGISTER") -> str:
    """A REGISTER (or INVITE or MESSAGE) of the shapes phones send, in any order, with or without
    each optional part."""
    user = draw(_users)
    uri_host = draw(st.sampled_from([HOST, DOMAIN, HOST, DOMAIN, "elsewhere.example.test"]))
    uri_port = draw(st.none() | st.sampled_from([PORT, 5080]))
    target = "" if method == "REGISTER" else f"{draw(_users)}@"
    lines = [f"{method} sip:{target}{_hostport(uri_host, uri_port)} SIP/2.0"]
    fields: list[str] = []
    for index in range(draw(st.integers(1, 2))):
        params = [f"branch={draw(_branch)}"]
        if draw(st.booleans()):
            params.insert(draw(st.integers(0, 1)), draw(st.sampled_from(["rport", "RPort", "rport=5060"])))
        name = draw(st.sampled_from(["Via", "v", "VIA"]))
        fields.append(f"{name}: SIP/2.0/UDP {_hostport(draw(_hosts), draw(_ports))};{';'.join(params)}")
        if index and draw(st.booleans()):
            value = fields.pop().split(": ", 1)[1]
            fields[-1] += f", {value}"  # two values on one line
    name = draw(st.sampled_from(["", '"Oma Erna" ', '"x" ']))
    fields.append(f"{draw(st.sampled_from(['From', 'f']))}: {name}<sip:{user}@{uri_host}>;tag={draw(tokens)}")
    to_tag = draw(st.none() | tokens)
    to = f"{name}<sip:{user}@{uri_host}>" + ("" if to_tag is None else f";tag={to_tag}")
    fields.append(f"{draw(st.sampled_from(['To', 't']))}: {to}")
    fields.append(f"{draw(st.sampled_from(['Call-ID', 'i']))}: {draw(call_ids)}")
    fields.append(f"CSeq: {draw(st.integers(0, 2**31 - 1))} {draw(st.sampled_from([method, method, 'ACK']))}")
    if draw(st.booleans()):
        fields.append(f"Max-Forwards: {draw(st.sampled_from([70, 0, 255, 256]))}")
    for _ in range(draw(st.integers(0, 2))):
        expires = draw(st.none() | st.integers(0, 7200))
        contact = f"<sip:{user}@{_hostport(draw(_hosts), draw(_ports))};transport=udp>"
        fields.append(
            f"{draw(st.sampled_from(['Contact', 'm']))}: {contact}" + ("" if expires is None else f";expires={expires}")
        )
    if draw(st.booleans()):
        fields.append(f"Expires: {draw(st.integers(0, 7200))}")
    if draw(st.booleans()):
        fields.append(f"User-Agent: {draw(tokens)}/{draw(st.integers(0, 9))}")
    body = draw(st.sampled_from(["", SDP.decode()])) if method == "INVITE" else ""
    if body:
        fields.append("Content-Type: application/sdp")
    if draw(st.booleans()) or body:
        fields.append(f"Content-Length: {len(body) + draw(st.sampled_from([0, 0, 0, -1, 1]))}")
    return "\r\n".join([*lines, *draw(st.permutations(fields))]) + "\r\n\r\n" + body


_plain = st.one_of(
    plain_requests(), plain_requests("INVITE"), plain_requests("MESSAGE"), mutated(plain_requests("INVITE"))
)


@PLAIN
@given(st.one_of(_plain, mutated(plain_requests())), st.sampled_from(SOURCES))
def test_a_plain_challenge_sends_what_the_general_code_sends(text: str, source: tuple[str, int]) -> None:
    fast, general, taken = both(text.encode("utf-8"), source)
    event(f"{text[:3]} answered from the bytes" if taken else f"{text[:3]} left to the general code")
    assert fast == general
    if taken:
        [answer] = fast
        assert answer.payload.startswith((b"SIP/2.0 401 Unauthorized\r\n", b"SIP/2.0 407 Proxy"))


@PLAIN
@given(
    st.one_of(plain_requests(), mutated(plain_requests())),
    st.sampled_from(SOURCES),
    st.sampled_from([PASSWORD, PASSWORD, "not-the-password"]),
)
def test_a_registration_challenged_from_its_bytes_sends_and_stores_what_the_general_code_does(
    text: str, source: tuple[str, int], password: str
) -> None:
    fast, general = registration(text, source, password=password)
    answered = fast[1][0].payload[:12].decode("utf-8", "replace") if fast[1] else "nothing"
    event(f"second REGISTER: {answered}")
    assert fast == general
