"""A sans-IO stateful proxy for the service's own phones (RFC 3261 §16), the transaction user
over a `TransactionLayer` (which `SipElement` owns and feeds; the proxy talks back through `Wire`).

Policy (DEV-3): only known devices with VoIP on may call, and only numbers of this service;
anything else is refused with a reason phrase that says so.

A request the transaction layer passes up is handled in the order of §16:

1. validation (§16.3): syntax (400), a Request-URI that is not `sip:`/`sips:` (403 "calls to
   other networks are not possible" rather than 416: a `tel:` URI is a call out of the
   network), Max-Forwards 0 (483; an OPTIONS to the proxy itself is answered), a loop (482,
   item 4 with the branch hash of §16.6 item 8, `proxy_routing.looped`), Proxy-Require (420:
   no option tag is supported);
2. Route preprocessing (§16.4): a Request-URI we put in Record-Route (a strict router upstream)
   is replaced by the last Route; our own Route values at the top are removed;
3. an OPTIONS to the proxy itself (no user part, our host or domain) → 200 with Allow;
4. out of dialog (no To tag), every method but REGISTER (the registrar's), ACK and CANCEL must
   carry Proxy-Authorization (§22.3): 407 with one challenge per algorithm, stale=true for an
   expired nonce, 403 for a wrong response, 403 for VoIP off; the authenticated number must
   be the From user (403).  Such a request without Proxy-Authorization can only be refused
   (here or in steps 1 to 3): `refuse` gives that answer, which the element sends statelessly;
5. target determination (§16.5): a number of ours with VoIP on and current bindings; another
   domain or a Route left to elsewhere → 403, an unknown number or VoIP off → 404, no binding
   → 480;
6. forwarding (§16.6) to every binding at once (forking; in order of q, highest first, but
   all in parallel: q orders the sending, it does not serialize it), each copy with a new Via
   branch, Record-Route with `lr` (and the dialog token), Max-Forwards decremented, our
   Proxy-Authorization removed, sent to the binding's `source` (the address its REGISTER came
   from, RFC 3581 / what Kamailio's fix_nated_contact achieves) over the binding's transport;
   Timer C per INVITE copy.  The caller's nickname goes into From and P-Asserted-Identity.

In-dialog requests (a To tag) and the ACK for a 2xx are routed by Route, else by Request-URI,
and not challenged: an ACK has no response to carry a challenge (§17.1.1.3, §22.1) and the
dialog was authenticated when it was made.  What proves that is the token our Record-Route
carries (`Here.dialog_token`, an HMAC of the Call-ID): an in-dialog request whose removed Route
values of ours lack it gets 403 (an ACK is dropped), so the proxy relays nothing that was not
set up through it by an authenticated call.  A Request-URI that is the Contact of a binding
goes to that binding's source (NAT); otherwise the host must be an IP literal (no DNS here):
a name gets 404, a non-SIP URI 416.  A CANCEL is not challenged either (§22.1: it cannot be
resubmitted with credentials); it acts only on a transaction it matches (§9.2, §16.10).

Responses, CANCEL of branches and Timer C are `proxy_responses.ResponseSide`'s (§16.7 to §16.10).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from privateline.edges.sip.core.address import Address
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.matching import LocalProtocolError, ServerTransactionKey
from privateline.edges.sip.core.message import Request, Response
from privateline.edges.sip.core.proxy_context import Branch, Context, Target, Wire
from privateline.edges.sip.core.proxy_responses import DEFAULT_MAX_FORWARDS, DEFAULT_TIMER_C, ResponseSide
from privateline.edges.sip.core.proxy_routing import (
    Addr,
    Here,
    branch,
    carry_parsed,
    looped,
    preprocess_routes,
    uri_destination,
)
from privateline.edges.sip.core.registrar import Authenticator, AuthFailure, Binding, Bindings, DeviceLookup
from privateline.edges.sip.core.respond import response_to
from privateline.edges.sip.core.uri import SipUri, Uri

OTHER_NETWORKS = "Forbidden (calls to other networks are not possible)"
NOT_OURS = "Not Found (not a number of this service)"
VOIP_OFF = "Forbidden (VoIP is off for this device)"
NOT_FROM = "Forbidden (From is not the authenticated user)"
NO_DNS = "Not Found (the next hop must be an IP address)"
NOT_A_DIALOG = "Forbidden (not a call set up through this service)"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER"


def only_refused(request: Request) -> bool:
    """Out of dialog, not ACK or CANCEL, without Proxy-Authorization: step 4 of the module
    docstring can only refuse it, so `refuse` answers it without a transaction."""
    if request.method in {"ACK", "CANCEL"}:
        return False
    to = request.to  # parsed on receipt (`Message.check`)
    return to is not None and to.tag is None and "Proxy-Authorization" not in request.headers


class _Reject(Exception):  # noqa: N818 - not an error: an early answer
    def __init__(self, status: int, reason: str | None = None, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


class Proxy(ResponseSide):
    """The stateful proxy (see the module docstring); fed by `SipElement`."""

    def __init__(
        self,
        here: Here,
        wire: Wire,
        *,
        devices: DeviceLookup,
        bindings: Bindings,
        authenticator: Authenticator,
        new_tag: Callable[[], str],
        new_branch: Callable[[], str],
        timer_c: float = DEFAULT_TIMER_C,
        cancel_wait: float = 32.0,
    ) -> None:
        super().__init__(here, wire, new_tag=new_tag, timer_c=timer_c, cancel_wait=cancel_wait)
        self.devices = devices
        self.bindings = bindings
        self.authenticator = authenticator
        self._new_branch = new_branch

    # --- requests ---------------------------------------------------------------------------

    def on_request(
        self, key: ServerTransactionKey | None, request: Request, source: Addr, transport: str, now: datetime
    ) -> None:
        """A request the transaction layer passed up (`key` None: an ACK matching no transaction)."""
        stamp = now.timestamp()
        if request.method == "ACK":
            self._forward_ack(request, stamp)
            return
        if key is None:
            return
        try:
            if request.method == "CANCEL":
                self._cancel(key, request, stamp)
            else:
                self._process(key, request, source, transport, now)
        except _Reject as reject:
            self._answer(key, request, reject.status, reject.reason, reject.headers, stamp)
        except SipParseError as error:
            self._answer(key, request, 400, error.reason, (), stamp)

    def _answer(
        self,
        key: ServerTransactionKey,
        request: Request,
        status: int,
        reason: str | None,
        headers: Sequence[tuple[str, str]],
        now: float,
    ) -> None:
        tag = None if status == 100 else self._new_tag()
        self.wire.respond(key, response_to(request, status, reason, to_tag=tag, headers=headers), now)

    def _validate(self, request: Request) -> None:
        """§16.3 items 1 to 5 (item 6, authentication, comes after Route preprocessing)."""
        missing = request.missing_mandatory()
        if missing:
            raise _Reject(400, f"Bad Request (missing {missing[0]})")
        if not isinstance(request.uri, SipUri):
            raise _Reject(403, OTHER_NETWORKS)  # item 2; a tel: number is outside this network
        if request.max_forwards == 0:  # item 3
            if request.method == "OPTIONS" and self.here.names_me(request.uri):
                raise _Reject(200, headers=[("Allow", ALLOW)])  # §11: the proxy answers for itself
            raise _Reject(483)
        if looped(request, self.here):  # item 4
            raise _Reject(482)
        if request.proxy_require:  # item 5: no extension is supported here
            raise _Reject(420, headers=[("Unsupported", ", ".join(request.proxy_require))])

    def refuse(self, received: Request, source: Addr, now: datetime) -> Response:
        """The answer to an out-of-dialog request without Proxy-Authorization (module docstring,
        step 4), for the element to send statelessly (§8.2.7: a stateless UAS is "useful for
        issuing challenge responses"); it changes nothing, so a retransmission is answered afresh."""
        try:
            request, _ours = self._screened(received)
            outcome = self.authenticator.authenticate(request, proxy=True, now=now, source=source)
            if not isinstance(outcome, AuthFailure):
                raise LocalProtocolError("refuse is for requests without credentials")
            raise _Reject(outcome.status, outcome.reason, outcome.headers)
        except _Reject as reject:
            return response_to(received, reject.status, reject.reason, to_tag=self._new_tag(), headers=reject.headers)
        except SipParseError as error:
            return response_to(received, 400, error.reason, to_tag=self._new_tag())

    def _screened(self, received: Request) -> tuple[Request, list[Uri]]:
        """Steps 1 to 3 of the module docstring: the request as routed, and our Route URIs it had."""
        self._validate(received)
        # §16.4; and RFC 3325 §5: an identity a phone asserts itself is not trusted: only ours goes on.
        routed, ours = preprocess_routes(received, self.here)
        request = _without_identity(routed)
        if request.method == "OPTIONS" and self.here.names_me(request.uri) and not request.route:
            raise _Reject(200, headers=[("Allow", ALLOW)])
        return request, ours

    def _process(
        self, key: ServerTransactionKey, received: Request, source: Addr, transport: str, now: datetime
    ) -> None:
        request, ours = self._screened(received)
        to = request.to
        assert to is not None  # _validate checked the mandatory fields
        if to.tag is not None:
            if not any(self.here.vouches(uri, request.call_id) for uri in ours):
                raise _Reject(403, NOT_A_DIALOG)  # see Here.dialog_token: no relaying to anywhere
            hop = self._next_hop(request, now.timestamp())
            self._forward(key, received, request, source, transport, [hop], now, dialog=True)
            return
        # Out of dialog: §16.3 item 6, §22.3.
        outcome = self.authenticator.authenticate(request, proxy=True, now=now, source=source)
        if isinstance(outcome, AuthFailure):
            raise _Reject(outcome.status, outcome.reason, outcome.headers)
        number, caller = outcome
        from_ = request.from_
        if from_ is None or not isinstance(from_.uri, SipUri) or from_.uri.user != number:
            raise _Reject(403, NOT_FROM)
        targets = self._targets(request, now.timestamp())
        forwarded = request
        if caller.display_name:
            forwarded = _with_identity(request, from_, caller.display_name, number, self.here.domains[0])
        self._forward(key, received, forwarded, source, transport, targets, now, dialog=False)

    def _targets(self, request: Request, now: float) -> list[Target]:
        """§16.5: the bindings of a number of ours, highest q first (all are tried at once)."""
        uri = request.uri  # a strict router's last Route may have put anything here (§16.4)
        if not isinstance(uri, SipUri) or request.route or not self.here.serves(uri.host):
            raise _Reject(403, OTHER_NETWORKS)
        number = uri.user
        device = self.devices(number) if number is not None else None
        if number is None or device is None or not device.voip_enabled:
            raise _Reject(404, NOT_OURS)
        bindings = sorted(self.bindings.current(number, now), key=lambda b: -(b.q if b.q is not None else 1.0))
        targets = [t for b in bindings if (t := _binding_target(b)) is not None]
        if not targets:
            raise _Reject(480)
        return targets

    def _next_hop(self, request: Request, now: float) -> Target:
        """In a dialog (§12.2, §16.6 items 6 and 7): the top Route, else the Request-URI (loose
        routing: a Route without `lr` is treated the same).  The Contact of a binding of ours goes
        to the binding's source (behind NAT its host is private); otherwise an IP literal is needed."""
        target = request.uri
        hop = request.route[0].uri if request.route else target
        if not isinstance(target, SipUri) or not isinstance(hop, SipUri):
            raise _Reject(416, "Unsupported URI Scheme (only sip: is routed)")
        if hop is target and target.user is not None:
            for binding in self.bindings.current(target.user, now):
                contact = binding.contact
                same = isinstance(contact, SipUri) and (contact.host.lower(), contact.port) == (
                    target.host.lower(),
                    target.port,
                )
                if same:
                    return Target(target, binding.source, binding.transport)
        found = uri_destination(hop)
        if found is None:
            raise _Reject(404, NO_DNS)
        destination, transport = found
        return Target(target, destination, transport)

    def _forward(
        self,
        key: ServerTransactionKey,
        received: Request,
        request: Request,
        source: Addr,
        transport: str,
        targets: Sequence[Target],
        now: datetime,
        *,
        dialog: bool,
    ) -> None:
        """§16.6 for every target; `received` is the request as it came (for the branch hash and
        our own responses), `request` the one after §16.4 and the identity changes."""
        stamp = now.timestamp()
        context = Context(key, received, source, transport)
        self._contexts[key] = context
        if context.invite:
            self.wire.trying(key, stamp)  # §16.2: the proxy takes the INVITE in hand
        max_forwards = received.max_forwards
        headers = request.headers.set(
            "Max-Forwards", str(DEFAULT_MAX_FORWARDS if max_forwards is None else max_forwards - 1)
        )
        headers = _without_our_credentials(request, headers, self.authenticator.digest.realm)
        for target in targets:
            copy = headers
            if not dialog:
                copy = copy.prepend("Record-Route", self.here.record_route(target.transport, request.call_id or ""))
            via = self.here.via(target.transport, branch(received, self._new_branch()))
            copy = copy.prepend("Via", str(via))
            forwarded = Request(request.method, target.uri, copy, request.body)
            carry_parsed(request, forwarded, vias=(via, *request.vias), dropped=_FORWARDING_CHANGES)
            client = self.wire.start(forwarded, target.destination, target.transport, stamp)
            item = Branch(client, forwarded, target.destination, target.transport, context)
            context.branches.append(item)
            context.live_branches += 1
            self._branches[client] = item
            if context.invite:
                self._set_deadline(item, stamp + self.timer_c, timer_c=True)  # §16.6 item 11

    def _forward_ack(self, request: Request, now: float) -> None:
        """An ACK for a 2xx (a transaction of its own, §13.2.2.4, §17.1.1.3): forwarded statelessly
        by Route or Request-URI; it is never challenged nor answered, so a bad one is dropped."""
        if request.missing_mandatory() or request.max_forwards == 0 or looped(request, self.here):
            return
        routed, ours = preprocess_routes(request, self.here)
        if not any(self.here.vouches(uri, request.call_id) for uri in ours):
            return  # not a dialog set up through this proxy (Here.dialog_token)
        try:
            target = self._next_hop(routed, now)
        except _Reject:
            return
        max_forwards = request.max_forwards
        headers = routed.headers.set(
            "Max-Forwards", str(DEFAULT_MAX_FORWARDS if max_forwards is None else max_forwards - 1)
        )
        headers = _without_our_credentials(routed, headers, self.authenticator.digest.realm)
        # §16.11: a stateless copy keeps the same branch on retransmission: the hash alone.
        via = self.here.via(target.transport, branch(request, "ack"))
        ack = Request("ACK", routed.uri, headers.prepend("Via", str(via)), request.body)
        carry_parsed(routed, ack, vias=(via, *routed.vias), dropped=_FORWARDING_CHANGES)
        self.wire.send(ack, target.destination, target.transport)

    # --- CANCEL (§16.10) --------------------------------------------------------------------

    def _cancel(self, key: ServerTransactionKey, cancel: Request, now: float) -> None:
        invite = self.wire.cancelled_transaction(cancel)
        if invite is None:
            # §16.10 would forward it statelessly; this proxy forwards nothing statelessly, so a
            # CANCEL that matches no transaction is answered as a UAS would (§9.2).
            raise _Reject(481)
        self._answer(key, cancel, 200, None, (), now)  # §16.10: "MUST immediately return a 200"
        context = self._contexts.get(invite)
        if context is not None and context.sent is None:
            context.cancelled = True
            self._cancel_pending(context, now)


# The fields forwarding changes besides Via (§16.6 items 3, 4; §22.3): a forwarded copy parses
# them again when read, and takes every other field its original has parsed (`carry_parsed`).
_FORWARDING_CHANGES = ("max_forwards", "proxy_authorization", "record_route")


def _without_identity(request: Request) -> Request:
    if "P-Asserted-Identity" not in request.headers and "P-Preferred-Identity" not in request.headers:
        return request
    headers = request.headers.remove("P-Asserted-Identity").remove("P-Preferred-Identity")
    cleaned = Request(request.method, request.uri, headers, request.body)
    carry_parsed(request, cleaned)
    return cleaned


def _binding_target(binding: Binding) -> Target | None:
    if not isinstance(binding.contact, SipUri):
        return None
    return Target(binding.contact, binding.source, binding.transport)


def _without_our_credentials(request: Request, headers: Headers, realm: str) -> Headers:
    """§22.3: our realm's Proxy-Authorization is used up here (and the callee need not see the
    caller's digest); others are for proxies further on.  The fields are `request`'s, parsed
    once (the authentication has done it already), one credentials value per field."""
    if "Proxy-Authorization" not in headers:
        return headers
    try:
        ours = [c.realm == realm for c in request.proxy_authorization]
    except SipParseError:
        return headers  # not ours to judge: they go on as they came
    kept: list[tuple[str, str]] = []
    index = 0
    for name, value in headers:
        if name == "Proxy-Authorization":
            index += 1
            if index <= len(ours) and ours[index - 1]:
                continue
        kept.append((name, value))
    return Headers(kept)


def _with_identity(request: Request, from_: Address, nickname: str, number: str, domain: str) -> Request:
    """DEV-3: the caller's nickname is what the called phone shows.

    Rewriting the display name of From is a deliberate choice: phones show From's display
    name, and few read P-Asserted-Identity (RFC 3325 §9.1), which is added as well for those
    that do.  The URI and the tag of From are untouched, so the dialog (§12) still matches.
    """
    shown = Address(from_.uri, nickname, from_.params)
    asserted = Address(SipUri(user=number, host=domain), nickname)
    headers = request.headers.set("From", str(shown)).add("P-Asserted-Identity", str(asserted))
    named = Request(request.method, request.uri, headers, request.body)
    carry_parsed(request, named, from_=shown)
    return named


__all__ = [
    "ALLOW",
    "DEFAULT_TIMER_C",
    "NOT_OURS",
    "OTHER_NETWORKS",
    "VOIP_OFF",
    "Proxy",
    "Target",
    "Wire",
    "only_refused",
]
