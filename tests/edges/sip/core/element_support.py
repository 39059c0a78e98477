"""A fake network around one `SipElement`: phones that register and call with bytes, a clock
the test advances (no sleeping), and digest answers computed from the RFC 2617 formula."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from privateline.edges.sip.core import (
    Device,
    DigestServer,
    MemoryBindings,
    Message,
    Request,
    Response,
    parse_message,
    response_to,
    serialize,
)
from privateline.edges.sip.core.auth import Credentials
from privateline.edges.sip.core.element import ElementSettings, SipElement, Transmission
from tests.edges.sip.core.torture import sip

DOMAIN = "sip.example.test"
HOST = "192.0.2.10"  # the proxy's own address
PORT = 5060
PASSWORD = "factory-pass-1"
T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET = b"element-test-nonce-secret-0123456"

ALICE = "4930111111"
BOB = "4930222222"
OFF = "4930000000"  # VoIP switched off
NICK = "4930333333"  # has a nickname
NICKNAME = "Oma Erna"


def ha1(algorithm: str, user: str, password: str = PASSWORD) -> str:
    return hashlib.new(algorithm, f"{user}:{DOMAIN}:{password}".encode()).hexdigest()


def device(user: str, *, voip: bool = True, nickname: str | None = None) -> Device:
    return Device(ha1("md5", user), ha1("sha256", user), voip, nickname)


DEVICES = {
    ALICE: device(ALICE),
    BOB: device(BOB),
    OFF: device(OFF, voip=False),
    NICK: device(NICK, nickname=NICKNAME),
}


def digest_answer(
    challenge_nonce: str, *, user: str, method: str, uri: str, nc: int, password: str = PASSWORD
) -> Credentials:
    """RFC 2617 §3.2.2.1, qop=auth, MD5."""

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the digest algorithm itself

    cnonce, count = "c0ffee42", f"{nc:08x}"
    response = h(f"{h(f'{user}:{DOMAIN}:{password}')}:{challenge_nonce}:{count}:{cnonce}:auth:{h(f'{method}:{uri}')}")
    return Credentials.digest(
        username=user,
        realm=DOMAIN,
        nonce=challenge_nonce,
        uri=uri,
        response=response,
        algorithm="MD5",
        cnonce=cnonce,
        qop="auth",
        nc=count,
    )


def parsed(sent: Transmission) -> Message:
    return parse_message(sent.payload)


def requests_in(sent: Iterable[Transmission]) -> list[tuple[Request, Transmission]]:
    return [(m, t) for t in sent if isinstance(m := parsed(t), Request)]


def responses_in(sent: Iterable[Transmission]) -> list[tuple[Response, Transmission]]:
    return [(m, t) for t in sent if isinstance(m := parsed(t), Response)]


@dataclass
class Phone:
    """A phone behind NAT: it says `private` in Via and Contact and is seen from `source`."""

    number: str
    source: tuple[str, int]
    private: str
    password: str = PASSWORD
    calls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    nc: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def contact(self) -> str:
        return f"<sip:{self.number}@{self.private}:5060>"

    def via(self, branch: str) -> str:
        return f"Via: SIP/2.0/UDP {self.private}:5060;branch={branch};rport"

    def request(
        self,
        method: str,
        uri: str,
        *,
        to: str,
        call_id: str,
        cseq: int,
        branch: str,
        from_tag: str = "ft1",
        max_forwards: int = 70,
        extra: Iterable[str] = (),
        body: bytes = b"",
    ) -> bytes:
        lines = [
            f"{method} {uri} SIP/2.0",
            self.via(branch),
            f"Max-Forwards: {max_forwards}",
            f"From: <sip:{self.number}@{DOMAIN}>;tag={from_tag}",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: {self.contact}",
            *extra,
            f"Content-Length: {len(body)}",
        ]
        return sip(*lines, body=body)

    def answer(
        self, request: Request, status: int, *, tag: str = "bt1", extra: Iterable[tuple[str, str]] = ()
    ) -> bytes:
        """A UAS answer: copies Via etc. (§8.2.6.2) and Record-Route (§12.1.1), with our Contact."""
        headers: list[tuple[str, str]] = [("Record-Route", v) for v in request.headers.get_all("Record-Route")]
        if status != 100:
            headers.append(("Contact", self.contact))
        headers += extra
        return serialize(response_to(request, status, to_tag=None if status == 100 else tag, headers=headers))


SDP = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


class Network:
    """The element and the phones; every call checks that the element hit no internal error."""

    def __init__(self, **settings: object) -> None:
        self.now = T0
        self.bindings = MemoryBindings()
        randoms = itertools.count(1)
        self.digest = DigestServer(realm=DOMAIN, secret=SECRET, random_bytes=lambda n: next(randoms).to_bytes(n, "big"))
        tags = itertools.count(1)
        branches = itertools.count(1)
        self.errors: list[BaseException] = []  # bugs the element caught: each test expects none
        self.element = SipElement(
            ElementSettings(host=HOST, port=PORT, domains=(DOMAIN, HOST), realm=DOMAIN, **settings),  # type: ignore[arg-type]
            devices=DEVICES.get,
            bindings=self.bindings,
            digest=self.digest,
            new_tag=lambda: f"px{next(tags)}",
            new_branch=lambda: f"b{next(branches)}",
            on_internal_error=self.errors.append,
        )

    def route(self, call_id: str, transport: str = "udp") -> str:
        """The Record-Route value the proxy puts into a dialog with `call_id` (its token included)."""
        return self.element.proxy.here.record_route(transport, call_id)

    def feed(self, data: bytes, source: tuple[str, int]) -> list[Transmission]:
        self.element.receive_datagram(data, source, self.now)
        assert self.errors == []
        return self.element.data_to_send()

    def advance(self, seconds: float) -> list[Transmission]:
        """Move the clock on, firing every timer at exactly its time."""
        end = self.now + timedelta(seconds=seconds)
        sent: list[Transmission] = []
        while (due := self.element.next_timer()) is not None and due <= end.timestamp():
            self.now = max(self.now, datetime.fromtimestamp(due, UTC))
            self.element.handle_timer(self.now)
            assert self.errors == []
            sent += self.element.data_to_send()
        self.now = end
        return sent

    def only(self, sent: list[Transmission]) -> tuple[Message, Transmission]:
        assert len(sent) == 1, [parsed(t) for t in sent]
        return parsed(sent[0]), sent[0]

    def register(self, phone: Phone, *, call_id: str | None = None) -> Response:
        call_id = call_id or f"reg-{phone.number}-{phone.private}"
        cseq = next(phone.calls)
        lines = [
            f"REGISTER sip:{DOMAIN} SIP/2.0",
            phone.via(f"z9hG4bKreg{phone.number}{cseq}"),
            "Max-Forwards: 70",
            f"From: <sip:{phone.number}@{DOMAIN}>;tag=r1",
            f"To: <sip:{phone.number}@{DOMAIN}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: {phone.contact}",
            "Expires: 3600",
        ]
        first, _ = self.only(self.feed(sip(*lines, "Content-Length: 0"), phone.source))
        assert isinstance(first, Response) and first.status == 401
        nonce = first.www_authenticate[0].nonce
        assert nonce is not None
        cseq = next(phone.calls)
        credentials = digest_answer(
            nonce, user=phone.number, method="REGISTER", uri=f"sip:{DOMAIN}", nc=next(phone.nc), password=phone.password
        )
        lines[1] = phone.via(f"z9hG4bKreg{phone.number}{cseq}")
        lines[6] = f"CSeq: {cseq} REGISTER"
        answer, _ = self.only(
            self.feed(sip(*lines, f"Authorization: {credentials}", "Content-Length: 0"), phone.source)
        )
        assert isinstance(answer, Response)
        return answer

    def call(
        self,
        caller: Phone,
        number: str,
        *,
        call_id: str = "call-1",
        uri: str | None = None,
        extra: Iterable[str] = (),
        max_forwards: int = 70,
    ) -> tuple[bytes, list[Transmission]]:
        """INVITE without credentials (→ 407, ACKed), then with them; what the second INVITE
        caused, and the INVITE's bytes (for a CANCEL or retransmission)."""
        target = uri or f"sip:{number}@{DOMAIN}"
        to = f"<{target}>"
        cseq = next(caller.calls)
        branch = f"z9hG4bKinv{cseq}{call_id}"
        first = caller.request(
            "INVITE", target, to=to, call_id=call_id, cseq=cseq, branch=branch, extra=extra, body=SDP
        )
        challenge, _ = self.only(self.feed(first, caller.source))
        assert isinstance(challenge, Response) and challenge.status == 407, challenge
        ack = sip(
            f"ACK {target} SIP/2.0",
            caller.via(branch),
            "Max-Forwards: 70",
            f"From: <sip:{caller.number}@{DOMAIN}>;tag=ft1",
            f"To: {challenge.headers.get('To')}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} ACK",
            "Content-Length: 0",
        )
        assert self.feed(ack, caller.source) == []  # the 407 was stateless (§8.2.7): its ACK is dropped
        nonce = challenge.proxy_authenticate[0].nonce
        assert nonce is not None
        credentials = digest_answer(
            nonce, user=caller.number, method="INVITE", uri=target, nc=next(caller.nc), password=caller.password
        )
        cseq = next(caller.calls)
        second = caller.request(
            "INVITE",
            target,
            to=to,
            call_id=call_id,
            cseq=cseq,
            branch=f"z9hG4bKinv{cseq}{call_id}",
            extra=[*extra, f"Proxy-Authorization: {credentials}"],
            max_forwards=max_forwards,
            body=SDP,
        )
        return second, self.feed(second, caller.source)

    def first_answer(
        self, caller: Phone, method: str, uri: str, *, extra: Iterable[str] = (), max_forwards: int = 70
    ) -> Response:
        """What the element answers to one request without credentials."""
        cseq = next(caller.calls)
        data = caller.request(
            method,
            uri,
            to=f"<{uri}>",
            call_id=f"one-{cseq}",
            cseq=cseq,
            branch=f"z9hG4bKone{cseq}",
            extra=extra,
            max_forwards=max_forwards,
        )
        answer, _ = self.only(self.feed(data, caller.source))
        assert isinstance(answer, Response)
        return answer


def in_dialog(caller: Phone, method: str, cseq: int, *, to_tag: str | None, route: str, branch: str = "") -> bytes:
    """A request of the caller's dialog "call-1" with Bob (§12.2.1.1): to Bob's Contact, with
    the proxy's Record-Route as its Route."""
    return caller.request(
        method,
        f"sip:{BOB}@10.0.0.2:5060",
        to=f"<sip:{BOB}@{DOMAIN}>;tag={to_tag}",
        call_id="call-1",
        cseq=cseq,
        branch=branch or f"z9hG4bK{method.lower()}1",
        extra=[f"Route: {route}"],
    )


def alice() -> Phone:
    return Phone(ALICE, ("198.51.100.1", 40001), "10.0.0.1")


def bob() -> Phone:
    return Phone(BOB, ("203.0.113.2", 40002), "10.0.0.2")


def bob_desk() -> Phone:
    """Bob's second phone (a second binding of the same number: forking)."""
    return Phone(BOB, ("203.0.113.3", 40003), "10.0.0.3")
