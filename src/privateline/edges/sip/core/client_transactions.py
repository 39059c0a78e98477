"""The client transactions: INVITE (RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted
state) and non-INVITE (§17.1.2, Figure 6), and the ACK for a non-2xx final response (§17.1.1.3).

Each starts by sending its request to `destination`; responses are fed with
`receive_response`, timers with `handle_timer`, send failures with `transport_error`.
"""

from __future__ import annotations

from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.matching import ClientKey, LocalProtocolError, request_client_key
from privateline.edges.sip.core.message import Request, Response
from privateline.edges.sip.core.timers import Timer, TimerSettings
from privateline.edges.sip.core.transaction_base import State, Transaction
from privateline.edges.sip.core.transaction_events import (
    Addr,
    ResponseReceived,
    TransactionTimeout,
    TransportError,
)


def ack_for(request: Request, response: Response) -> Request:
    """The ACK a client transaction sends for a 300-699 response to `request` (§17.1.1.3).

    Request-URI, Call-ID, From and the CSeq number are the INVITE's, the CSeq method is ACK,
    To is the response's (with its tag), the one Via is the INVITE's top Via (so the same
    branch), and the INVITE's Route fields are kept.  Max-Forwards is copied when present.
    """
    via = request.top_via
    to = response.headers.get("To")
    cseq = request.cseq
    if via is None or to is None or cseq is None:
        raise LocalProtocolError("an ACK needs the INVITE's Via and CSeq and the response's To")
    fields: list[tuple[str, str]] = [("Via", str(via))]
    max_forwards = request.headers.get("Max-Forwards")
    if max_forwards is not None:
        fields.append(("Max-Forwards", max_forwards))
    fields.append(("To", to))
    for name in ("From", "Call-ID"):
        value = request.headers.get(name)
        if value is not None:
            fields.append((name, value))
    fields.append(("CSeq", f"{cseq.number} ACK"))
    fields += [("Route", value) for value in request.headers.get_all("Route")]
    return Request("ACK", request.uri, Headers(fields))


class InviteClientTransaction(Transaction[ClientKey]):
    """Figure 5 of RFC 3261 as RFC 6026 §8.4 corrects it (2xx: Accepted, Timer M)."""

    def __init__(
        self, request: Request, destination: Addr, now: float, *, reliable: bool, settings: TimerSettings
    ) -> None:
        if request.method != "INVITE":
            raise LocalProtocolError("an INVITE client transaction sends an INVITE")
        super().__init__(request_client_key(request), destination, reliable=reliable, settings=settings)
        self.request = request
        self.ack: Request | None = None
        self.state = State.CALLING
        self._send(request)  # §17.1.1.2: "MUST pass the request to the transport layer"
        self._interval_a = settings.t1
        if not reliable:
            self._start(Timer.A, self._interval_a, now)  # Timer A = T1, unreliable only
        self._start(Timer.B, settings.timeout, now)  # Timer B = 64*T1, any transport

    def receive_response(self, response: Response, source: Addr, now: float) -> None:
        status = response.status
        if self.state in (State.CALLING, State.PROCEEDING):
            self._stop(Timer.A, Timer.B)  # §17.1.1.2: no retransmission once a response came
            self._emit(ResponseReceived(self.key, response, source))
            if status < 200:
                self.state = State.PROCEEDING
            elif status < 300:
                self.state = State.ACCEPTED  # RFC 6026 §8.4
                self._start(Timer.M, self.settings.timeout, now)
            else:
                self.state = State.COMPLETED  # §17.1.1.2: send ACK, Timer D
                self.ack = ack_for(self.request, response)
                self._send(self.ack)
                self._start(Timer.D, self.settings.wait_d(self.reliable), now)
                self.ack.settle()
            self.request.settle()  # never sent again: see `Message.settle`
        elif self.state is State.COMPLETED:
            if status >= 300 and self.ack is not None:
                self._send(self.ack)  # §17.1.1.2: a retransmitted final response is ACKed again, not passed up
        elif self.state is State.ACCEPTED and 200 <= status < 300:
            # RFC 6026 §8.4: any 2xx in Accepted goes to the TU (which ACKs it); no ACK from here.
            self._emit(ResponseReceived(self.key, response, source))

    def _fire(self, timer: Timer, now: float) -> None:
        if timer is Timer.A and self.state is State.CALLING:
            self._send(self.request)  # §17.1.1.2: retransmit, then wait twice as long
            self._interval_a *= 2
            self._start(Timer.A, self._interval_a, now)
        elif timer is Timer.B and self.state is State.CALLING:
            self._emit(TransactionTimeout(self.key, Timer.B))
            self._terminate()
        elif (timer is Timer.D and self.state is State.COMPLETED) or (
            timer is Timer.M and self.state is State.ACCEPTED
        ):
            self._terminate()

    def transport_error(self, now: float) -> None:
        if self.state in (State.CALLING, State.PROCEEDING, State.COMPLETED):  # Figure 5
            self._emit(TransportError(self.key))
            self._terminate()


class NonInviteClientTransaction(Transaction[ClientKey]):
    """Figure 6 of RFC 3261."""

    def __init__(
        self, request: Request, destination: Addr, now: float, *, reliable: bool, settings: TimerSettings
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise LocalProtocolError("a non-INVITE client transaction does not send INVITE or ACK (§17.1.2)")
        super().__init__(request_client_key(request), destination, reliable=reliable, settings=settings)
        self.request = request
        self.state = State.TRYING
        self._send(request)
        self._interval_e = settings.t1
        if not reliable:
            self._start(Timer.E, self._interval_e, now)  # Timer E = T1, unreliable only
        self._start(Timer.F, settings.timeout, now)  # Timer F = 64*T1

    def receive_response(self, response: Response, source: Addr, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # §17.1.2.2: Completed absorbs retransmitted responses
        self._emit(ResponseReceived(self.key, response, source))
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._stop(Timer.E, Timer.F)
            self._start(Timer.K, self.settings.wait_k(self.reliable), now)
            self.request.settle()  # never sent again: see `Message.settle`

    def _fire(self, timer: Timer, now: float) -> None:
        if timer is Timer.E and self.state in (State.TRYING, State.PROCEEDING):
            self._send(self.request)
            # §17.1.2.2: double up to T2 in Trying; T2 in Proceeding
            trying = self.state is State.TRYING
            self._interval_e = min(2 * self._interval_e, self.settings.t2) if trying else self.settings.t2
            self._start(Timer.E, self._interval_e, now)
        elif timer is Timer.F and self.state in (State.TRYING, State.PROCEEDING):
            self._emit(TransactionTimeout(self.key, Timer.F))
            self._terminate()
        elif timer is Timer.K and self.state is State.COMPLETED:
            self._terminate()

    def transport_error(self, now: float) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):  # Figure 6
            self._emit(TransportError(self.key))
            self._terminate()


ClientTransaction = InviteClientTransaction | NonInviteClientTransaction
