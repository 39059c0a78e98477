"""The server transactions: INVITE (RFC 3261 §17.2.1, Figure 7, with RFC 6026's Accepted
state) and non-INVITE (§17.2.2, Figure 8).

Each is created by the request it serves and passes it to the TU; retransmissions of the
request are fed with `receive_request` (and answered with the last response), the TU's
responses with `respond`.  Responses go back to `source`, the address the request came from
(the refinements of §18.2.2 and RFC 3581 are the transport's).
"""

from __future__ import annotations

from privateline.edges.sip.core.matching import LocalProtocolError, ServerTransactionKey, to_tag
from privateline.edges.sip.core.message import Request, Response
from privateline.edges.sip.core.respond import response_to
from privateline.edges.sip.core.timers import Timer, TimerSettings
from privateline.edges.sip.core.transaction_base import State, Transaction
from privateline.edges.sip.core.transaction_events import Addr, RequestReceived, TransactionTimeout, TransportError


class _ServerTransaction(Transaction[ServerTransactionKey]):
    def __init__(
        self,
        key: ServerTransactionKey,
        request: Request,
        source: Addr,
        *,
        reliable: bool,
        settings: TimerSettings,
    ) -> None:
        super().__init__(key, source, reliable=reliable, settings=settings)
        self.request = request
        via = request.top_via
        # What `_check` compares, taken now: the request may be settled long before the last 2xx.
        self._has_via = via is not None
        self._branch = None if via is None else via.branch
        cseq = request.cseq
        self._cseq = None if cseq is None else (cseq.number, cseq.method)
        self.last_provisional: Response | None = None
        self.final: Response | None = None
        self._emit(RequestReceived(key, request, source))  # §17.2.1, §17.2.2: pass the request to the TU

    def matches_legacy(self, request: Request) -> bool:
        """§17.2.3 for RFC 2543: the To tag equals the request's, or for an ACK the response's."""
        if request.method == "ACK":
            sent = self.final or self.last_provisional
            return sent is not None and to_tag(request) == to_tag(sent)
        return to_tag(request) == to_tag(self.request)

    def _check(self, response: Response) -> None:
        via, cseq = response.top_via, response.cseq
        if (
            via is None
            or not self._has_via
            or via.branch != self._branch
            or (None if cseq is None else (cseq.number, cseq.method)) != self._cseq
        ):
            raise LocalProtocolError("the response's top Via branch and CSeq must be the request's (§8.2.6.2)")

    def _settle(self) -> None:
        """From here on the transaction only absorbs retransmissions: its messages need no
        parsed fields (`Message.settle`)."""
        self.request.settle()
        if self.final is not None:
            self.final.settle()
        self.last_provisional = None

    def _refuse(self, response: Response) -> None:
        raise LocalProtocolError(f"a {response.status} cannot be sent in state {self.state.value}")


class InviteServerTransaction(_ServerTransaction):
    """Figure 7 of RFC 3261 as RFC 6026 §8.5 to §8.7 corrects it (2xx: Accepted, Timer L)."""

    def __init__(
        self,
        key: ServerTransactionKey,
        request: Request,
        source: Addr,
        now: float,
        *,
        reliable: bool,
        settings: TimerSettings,
    ) -> None:
        if request.method != "INVITE":
            raise LocalProtocolError("an INVITE server transaction serves an INVITE")
        super().__init__(key, request, source, reliable=reliable, settings=settings)
        self.state = State.PROCEEDING
        self._interval_g = settings.t1

    def send_trying(self, now: float) -> Response:
        """Send 100 (Trying): §17.2.1 wants it unless the TU answers within 200 ms; the TU decides."""
        trying = response_to(self.request, 100)
        self.respond(trying, now)
        return trying

    def respond(self, response: Response, now: float) -> None:
        self._check(response)
        status = response.status
        if self.state is State.PROCEEDING:
            self._send(response)
            if status < 200:
                self.last_provisional = response
            elif status < 300:
                self.final = response
                self.state = State.ACCEPTED  # RFC 6026 §8.5
                self._start(Timer.L, self.settings.timeout, now)
                self._settle()
            else:
                self.final = response
                self.state = State.COMPLETED  # §17.2.1: Timers G (unreliable) and H
                if not self.reliable:
                    self._start(Timer.G, self._interval_g, now)
                self._start(Timer.H, self.settings.timeout, now)
        elif self.state is State.ACCEPTED and 200 <= status < 300:
            self._send(response)  # RFC 6026 §8.7: the TU's 2xx retransmissions go out
        else:
            self._refuse(response)

    def receive_request(self, request: Request, source: Addr, now: float) -> None:
        """A retransmitted INVITE, or an ACK, matched to this transaction."""
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED  # §17.2.1: stop G and H, start I
                self._stop(Timer.G, Timer.H)
                self._start(Timer.I, self.settings.wait_i(self.reliable), now)
                self._settle()
            elif self.state is State.ACCEPTED:
                self._emit(RequestReceived(self.key, request, source))  # RFC 6026 §8.7: ACK to the TU
            return  # Confirmed absorbs retransmitted ACKs
        if self.state is State.PROCEEDING and self.last_provisional is not None:
            self._send(self.last_provisional)  # §17.2.1: the most recent provisional response
        elif self.state is State.COMPLETED and self.final is not None:
            self._send(self.final)  # §17.2.1: the final response again
        # Accepted (RFC 6026 §8.7) and Confirmed absorb retransmitted INVITEs

    def _fire(self, timer: Timer, now: float) -> None:
        if timer is Timer.G and self.state is State.COMPLETED and self.final is not None:
            self._send(self.final)  # §17.2.1: retransmit, doubling up to T2
            self._interval_g = min(2 * self._interval_g, self.settings.t2)
            self._start(Timer.G, self._interval_g, now)
        elif timer is Timer.H and self.state is State.COMPLETED:
            self._emit(TransactionTimeout(self.key, Timer.H))  # §17.2.1: no ACK came; inform the TU
            self._terminate()
        elif (timer is Timer.I and self.state is State.CONFIRMED) or (
            timer is Timer.L and self.state is State.ACCEPTED
        ):
            self._terminate()

    def transport_error(self, now: float) -> None:
        if self.state in (State.PROCEEDING, State.COMPLETED):  # Figure 7
            self._emit(TransportError(self.key))
            self._terminate()
        elif self.state is State.ACCEPTED:
            self._emit(TransportError(self.key))  # RFC 6026 §8.7: the TU learns it; Timer L still ends it


class NonInviteServerTransaction(_ServerTransaction):
    """Figure 8 of RFC 3261."""

    def __init__(
        self,
        key: ServerTransactionKey,
        request: Request,
        source: Addr,
        now: float,
        *,
        reliable: bool,
        settings: TimerSettings,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise LocalProtocolError("a non-INVITE server transaction does not serve INVITE or ACK")
        super().__init__(key, request, source, reliable=reliable, settings=settings)
        self.state = State.TRYING

    def respond(self, response: Response, now: float) -> None:
        self._check(response)
        if self.state not in (State.TRYING, State.PROCEEDING):
            self._refuse(response)  # §17.2.2: Completed discards further final responses
        self._send(response)
        if response.status < 200:
            self.last_provisional = response
            self.state = State.PROCEEDING
        else:
            self.final = response
            self.state = State.COMPLETED
            self._start(Timer.J, self.settings.wait_j(self.reliable), now)  # 64*T1 unreliable, 0 reliable
            self._settle()

    def receive_request(self, request: Request, source: Addr, now: float) -> None:
        """A retransmission: absorbed in Trying, answered with the last response after (§17.2.2)."""
        if self.state is State.PROCEEDING and self.last_provisional is not None:
            self._send(self.last_provisional)
        elif self.state is State.COMPLETED and self.final is not None:
            self._send(self.final)

    def _fire(self, timer: Timer, now: float) -> None:
        if timer is Timer.J and self.state is State.COMPLETED:
            self._terminate()

    def transport_error(self, now: float) -> None:
        if self.state in (State.PROCEEDING, State.COMPLETED):  # Figure 8
            self._emit(TransportError(self.key))
            self._terminate()


ServerTransaction = InviteServerTransaction | NonInviteServerTransaction
