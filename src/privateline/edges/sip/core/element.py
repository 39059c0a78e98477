"""`SipElement`: the one object the asyncio transport drives (sans-IO: bytes, addresses and
`now` in; `Transmission`s and the next timer out).

It owns the `TransactionLayer` (RFC 3261 §17) and is the transport layer's half the core needs
(§18): it parses datagrams (a keep-alive of CRLFs is ignored, RFC 5626 §3.5.1; a request that
fails to parse is answered statelessly with 400, 505 or 513 where its fields allow, §18.2.1 and
RFC 4475; a response or garbage that fails is dropped), notes in the top Via of every request
where it really came from (§18.2.1 `received`, RFC 3581 §4 `rport`) before the transaction
layer sees it, so that every response built from it (copying Via, §8.2.6.2) carries them and
the server transaction's answer goes back to the packet's source, through any NAT.

REGISTER goes to the `Registrar` (§10.3) and is answered on its server transaction; every
other request, and every response, goes to the `Proxy` (§16).  A REGISTER without any
Authorization field, and a request out of dialog without Proxy-Authorization (but ACK and
CANCEL), are answered statelessly (§8.2.7: a stateless UAS is "useful for issuing challenge
responses"): whatever the answer (the challenge, or a refusal before it), it changes nothing,
so a retransmission may be answered afresh, and no server transaction has to keep it for 64*T1
(§17.2.2 Timer J; for an INVITE, until its ACK, which then matches nothing and is dropped as
the ACK of no dialog of ours).  That is half of a registration's transactions.

Failed authentications are counted per source and per number (`AuthLimits`), for the registrar
and the proxy alike.

No input makes it raise: the parser raises only SipParseError, which is answered or dropped;
anything else is a bug, which is logged, counted in `internal_errors` (tests assert it stays
0) and handed to `on_internal_error` when one is given, and the element goes on.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from privateline.edges.sip.core.digest import DigestServer
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.matching import ClientKey, LocalProtocolError, ServerTransactionKey, TransactionKey
from privateline.edges.sip.core.message import Message, Request, Response, serialize
from privateline.edges.sip.core.parse import DEFAULT_LIMITS, ParseLimits, is_keepalive, parse_message
from privateline.edges.sip.core.plain_challenge import PlainChallenges
from privateline.edges.sip.core.proxy import DEFAULT_TIMER_C, Proxy, only_refused
from privateline.edges.sip.core.proxy_routing import Addr, Here, stamp_source
from privateline.edges.sip.core.registrar import (
    DEFAULT_EXPIRES,
    DEFAULT_MAX_CONTACTS,
    DEFAULT_MAX_EXPIRES,
    DEFAULT_MIN_EXPIRES,
    AuthLimits,
    Bindings,
    DeviceLookup,
    Registrar,
    RegistrarSettings,
)
from privateline.edges.sip.core.respond import answer_error, response_to
from privateline.edges.sip.core.timers import DEFAULT_TIMERS, TimerSettings
from privateline.edges.sip.core.transaction_events import (
    BadMessage,
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from privateline.edges.sip.core.transactions import TransactionLayer

log = logging.getLogger(__name__)

TRANSPORTS = ("udp", "tcp", "tls")
PRUNE_EVERY = 60.0  # seconds between sweeps of the failure counters


@dataclass(frozen=True)
class ElementSettings:
    """Who the element is (`host`:`port` go into Via and Record-Route), what it serves, its timers
    and limits."""

    host: str
    port: int
    domains: tuple[str, ...]
    realm: str
    timers: TimerSettings = DEFAULT_TIMERS
    timer_c: float = DEFAULT_TIMER_C  # §16.6 item 11: more than 3 minutes
    limits: ParseLimits = DEFAULT_LIMITS  # what a message may hold (513 beyond)
    failures_per_source: int = 10  # failed authentications per source address ...
    failures_per_number: int = 5  # ... and per number ...
    failure_window: timedelta = timedelta(minutes=1)  # ... within this window
    default_expires: int = DEFAULT_EXPIRES
    min_expires: int = DEFAULT_MIN_EXPIRES
    max_expires: int = DEFAULT_MAX_EXPIRES
    max_contacts: int = DEFAULT_MAX_CONTACTS  # bindings per number (registrar.py, step 7)

    def __post_init__(self) -> None:
        if not self.domains or not 0 <= self.port <= 65535:  # 0: the transport picks one (tests)
            raise ValueError("an element needs a domain and a port")


@dataclass(frozen=True)
class Transmission:
    """Bytes for the transport to send to `destination` over `transport` ("udp", "tcp", "tls")."""

    payload: bytes
    destination: tuple[str, int]
    transport: str


def _transport_of(message: Message, fallback: str = "udp") -> str:
    via = message.top_via
    name = via.transport.lower() if via is not None else fallback
    return name if name in TRANSPORTS else fallback


def _unauthenticated(request: Request) -> bool:
    """A request that can only be challenged or refused, answered statelessly (module docstring)."""
    if request.top_via is None:
        return False  # a transaction's business: a Via-less request gets 400 there (`_bad`)
    if request.method == "REGISTER":
        return "Authorization" not in request.headers
    return only_refused(request)


class SipElement:
    """Registrar and proxy over one transaction layer (see the module docstring)."""

    def __init__(
        self,
        settings: ElementSettings,
        *,
        devices: DeviceLookup,
        bindings: Bindings,
        digest: DigestServer,
        new_tag: Callable[[], str] = lambda: secrets.token_hex(8),
        new_branch: Callable[[], str] = lambda: secrets.token_hex(6),
        on_internal_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.settings = settings
        self.auth_limits = AuthLimits(
            settings.failures_per_source, settings.failures_per_number, settings.failure_window
        )
        self.registrar = Registrar(
            RegistrarSettings(
                domains=settings.domains,
                realm=settings.realm,
                default_expires=settings.default_expires,
                min_expires=settings.min_expires,
                max_expires=settings.max_expires,
                max_contacts=settings.max_contacts,
            ),
            digest,
            devices,
            bindings,
            new_tag=new_tag,
            limits=self.auth_limits,
        )
        self.layer = TransactionLayer(settings.timers)
        self.proxy = Proxy(
            Here(settings.host, settings.port, settings.domains, digest.derive_key("sip-dialog-token")),
            self,
            devices=devices,
            bindings=bindings,
            authenticator=self.registrar.authenticator,
            new_tag=new_tag,
            new_branch=new_branch,
            timer_c=settings.timer_c,
            cancel_wait=settings.timers.timeout,
        )
        # The first REGISTER of every registration and the first INVITE of every call, answered
        # from their bytes (plain_challenge.py); None leaves every datagram to the general code
        # (tests compare the two).
        self.plain_challenges: PlainChallenges | None = PlainChallenges(
            serves=self.registrar.settings.serves,
            is_me=self.proxy.here.is_me,
            digest=digest,
            new_tag=new_tag,
            limits=settings.limits,
        )
        self._new_tag = new_tag
        self._on_internal_error = on_internal_error
        self._out: list[Transmission] = []
        self._transports: dict[TransactionKey, str] = {}  # how each live transaction's peer is reached
        self._next_prune: float | None = None
        self.internal_errors = 0

    # --- what the transport feeds ---------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: tuple[str, int], now: datetime) -> None:
        """One UDP datagram from `source`."""
        try:
            if is_keepalive(data):
                return  # RFC 5626 §3.5.1: CRLFs keep the NAT binding open; nothing to answer
            plain = self.plain_challenges
            if plain is not None and (challenge := plain.answer(data, source, now)) is not None:
                self._out.append(Transmission(challenge, source, "udp"))  # as `_refuse_statelessly`
                return
            try:
                message = parse_message(data, self.settings.limits)
            except SipParseError as error:
                answer = answer_error(error, to_tag=self._new_tag())
                if answer is not None:
                    self._emit(answer, source, "udp")  # §18.2.1 would use Via; the packet's source is surer
                return
            self._receive(message, source, now, "udp")
        except Exception as error:  # a bug: logged and counted, never raised (module docstring)
            self._internal(error)

    def receive_message(self, message: Message, source: tuple[str, int], now: datetime, *, transport: str) -> None:
        """One message framed by a `StreamFramer` on a TCP or TLS connection from `source`."""
        try:
            self._receive(message, source, now, transport.lower())
        except Exception as error:  # a bug: logged and counted, never raised (module docstring)
            self._internal(error)

    def next_timer(self) -> float | None:
        """When `handle_timer` is next due (seconds on the scale of `now.timestamp()`), or None."""
        due = [t for t in (self.layer.next_timer(), self.proxy.next_timer()) if t is not None]
        return min(due, default=None)

    def handle_timer(self, now: datetime) -> None:
        try:
            stamp = now.timestamp()
            self.layer.handle_timer(stamp)
            self._pump(now, "udp")
            self.proxy.handle_timer(stamp)
            self._pump(now, "udp")
            if self._next_prune is None or stamp >= self._next_prune:
                self.auth_limits.prune(now)
                self._next_prune = stamp + PRUNE_EVERY
        except Exception as error:  # a bug: logged and counted, never raised (module docstring)
            self._internal(error)

    def data_to_send(self) -> list[Transmission]:
        self._collect()
        out, self._out = self._out, []
        return out

    def busy(self) -> int:
        """Transactions still waiting for a final response: the transport drains them before
        shutting down (those that only absorb retransmissions need no waiting for)."""
        return self.layer.unfinished()

    # --- Wire: what the proxy asks ------------------------------------------------------------

    def start(self, request: Request, destination: Addr, transport: str, now: float) -> ClientKey:
        key = self.layer.send_request(request, destination, now, reliable=transport != "udp")
        self._transports[key] = transport
        return key

    def respond(self, key: ServerTransactionKey, response: Response, now: float) -> None:
        self.layer.respond(key, response, now)

    def trying(self, key: ServerTransactionKey, now: float) -> None:
        self.layer.send_trying(key, now)

    def send(self, message: Message, destination: Addr, transport: str) -> None:
        self._collect()
        self._emit(message, destination, transport)

    def abandon(self, key: ClientKey) -> None:
        self.layer.abandon(key)
        self._transports.pop(key, None)

    def cancelled_transaction(self, cancel: Request) -> ServerTransactionKey | None:
        return self.layer.cancelled_transaction(cancel)

    # --- inside ---------------------------------------------------------------------------------

    def _receive(self, message: Message, source: Addr, now: datetime, transport: str) -> None:
        if isinstance(message, Request):
            message = stamp_source(message, source)  # §18.2.1, RFC 3581 §4
            if _unauthenticated(message):
                self._refuse_statelessly(message, source, now, transport)
                return
        self.layer.receive(message, source, now.timestamp(), reliable=transport != "udp")
        self._pump(now, transport)

    def _refuse_statelessly(self, request: Request, source: Addr, now: datetime, transport: str) -> None:
        """The registrar's or the proxy's answer to an unauthenticated request (a challenge, or a
        refusal before it) goes straight back to the packet's source (§8.2.7; see the module docstring)."""
        try:
            if request.method == "REGISTER":
                answer = self.registrar.process(request, now=now, source=source, transport=transport)
            else:
                answer = self.proxy.refuse(request, source, now)
        except Exception as error:  # a bug (module docstring): the phone still gets an answer
            self._internal(error)
            answer = response_to(request, 500, to_tag=self._new_tag())
        self._emit(answer, source, transport)

    def _pump(self, now: datetime, transport: str) -> None:
        """Hand every event of the transaction layer to its user (registrar or proxy).  A bug while
        handling one is caught here, so the other events are still handled, and a request it hit
        gets 500 (§21.5.1) rather than a transaction left waiting for ever."""
        stamp = now.timestamp()
        while (event := self.layer.next_event()) is not None:
            try:
                self._dispatch(event, now, stamp, transport)
            except Exception as error:  # see the module docstring
                self._internal(error)
                if isinstance(event, RequestReceived) and event.transaction is not None:
                    self._answer_500(event.transaction, event.request, stamp)

    def _dispatch(self, event: TransactionEvent, now: datetime, stamp: float, transport: str) -> None:
        if isinstance(event, RequestReceived):
            if event.transaction is not None and event.transaction not in self._transports:
                self._transports[event.transaction] = transport
            if event.request.method == "REGISTER" and event.transaction is not None:
                answer = self.registrar.process(event.request, now=now, source=event.source, transport=transport)
                self.layer.respond(event.transaction, answer, stamp)
            else:
                self.proxy.on_request(event.transaction, event.request, event.source, transport, now)
        elif isinstance(event, ResponseReceived):
            self.proxy.on_response(event.transaction, event.response, stamp)
        elif isinstance(event, TransactionTimeout):
            self.proxy.on_timeout(event.transaction, stamp)
        elif isinstance(event, TransportError):
            self.proxy.on_transport_error(event.transaction, stamp)
        elif isinstance(event, TransactionTerminated):
            self.proxy.on_terminated(event.transaction, stamp)
            self._transports.pop(event.transaction, None)
        elif isinstance(event, BadMessage):
            self._bad(event, transport)

    def _answer_500(self, key: ServerTransactionKey, request: Request, now: float) -> None:
        with suppress(LocalProtocolError):  # it may have been answered before the bug
            self.layer.respond(key, response_to(request, 500, to_tag=self._new_tag()), now)

    def _bad(self, event: BadMessage, transport: str) -> None:
        """A request without what a transaction needs (Via, CSeq, Call-ID) gets 400 statelessly
        (§8.2.6: "MUST" answer a malformed request where possible); a response is dropped."""
        message = event.message
        if isinstance(message, Request) and message.method != "ACK" and message.top_via is not None:
            missing = message.missing_mandatory()
            reason = f"Bad Request (missing {missing[0]})" if missing else "Bad Request"
            self._emit(response_to(message, 400, reason, to_tag=self._new_tag()), event.source, transport)

    def _collect(self) -> None:
        for out in self.layer.data_to_send():
            key = out.transaction
            transport = self._transports.get(key) if key is not None else None
            self._emit(out.message, out.destination, transport or _transport_of(out.message))

    def _emit(self, message: Message, destination: Addr, transport: str) -> None:
        self._out.append(Transmission(serialize(message), destination, transport))

    def _internal(self, error: Exception) -> None:
        self.internal_errors += 1
        log.exception("SIP element: unexpected %s", type(error).__name__)
        if self._on_internal_error is not None:
            self._on_internal_error(error)


__all__ = ["ElementSettings", "SipElement", "Transmission"]
