"""The response side of the proxy (RFC 3261 §16.7 to §16.9), CANCEL of branches (§9.1,
§16.10) and Timer C (§16.6 item 11); `Proxy` (in `proxy`) adds the request side.

Responses (§16.7): 100 is not forwarded, other 1xx are at once; every 2xx to an INVITE is
forwarded at once (retransmissions too, RFC 6026 §8.4) and cancels the other branches; a 6xx
cancels them; other finals wait until no branch is pending, then the best one goes
(`proxy_context.best_response`).  Our Via is removed first.  Timer B or F on a branch counts
as 408 (so all branches timing out give 408), a transport error as 503 (§16.9, sent on as 500).

Timer C is one deadline per INVITE branch in a heap (stale entries are skipped when they come
to the top), restarted by every provisional; when it fires on a branch that had a provisional
the branch is cancelled, else the branch counts as 408.  A cancelled branch that sends no
final response within 64*T1 is given up (§9.1) and counts as 487.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.matching import ClientKey, LocalProtocolError, ServerTransactionKey
from privateline.edges.sip.core.message import Request, Response
from privateline.edges.sip.core.proxy_context import Branch, Context, Wire, best_response
from privateline.edges.sip.core.proxy_routing import Here, rewrite_record_route, via_destination, without_top_via
from privateline.edges.sip.core.respond import response_to

DEFAULT_MAX_FORWARDS = 70  # §16.6 item 3, §8.1.1.6
DEFAULT_TIMER_C = 181.0  # §16.6 item 11: "greater than 3 minutes"


class ResponseSide:
    """The response contexts and branches of a proxy, and what happens to them."""

    def __init__(
        self,
        here: Here,
        wire: Wire,
        *,
        new_tag: Callable[[], str],
        timer_c: float = DEFAULT_TIMER_C,
        cancel_wait: float = 32.0,
    ) -> None:
        if timer_c <= 180:
            raise ValueError("Timer C must be greater than 3 minutes (§16.6 item 11)")
        self.here = here
        self.wire = wire
        self.timer_c = timer_c
        self.cancel_wait = cancel_wait  # §9.1: 64*T1 after a CANCEL the branch is given up
        self._new_tag = new_tag
        self._contexts: dict[ServerTransactionKey, Context] = {}
        self._branches: dict[ClientKey, Branch] = {}
        self._deadlines: list[tuple[float, int, ClientKey]] = []  # a heap; stale entries skipped
        self._sequence = 0

    @property
    def contexts(self) -> int:
        return len(self._contexts)

    def _cancel_pending(self, context: Context, now: float) -> None:
        """§16.10 and §16.7 step 10: CANCEL every branch without a final response; one that has
        had no provisional yet is cancelled when it has (§9.1)."""
        for item in context.branches:
            if item.final is not None or item.cancel_sent:
                continue
            if item.provisional:
                self._send_cancel(item, now)
            else:
                item.cancel_wanted = True

    def _send_cancel(self, item: Branch, now: float) -> None:
        """§9.1: the CANCEL of a forwarded INVITE, with its Request-URI, top Via, Call-ID, From,
        To, CSeq number and Route."""
        original = item.request
        fields: list[tuple[str, str]] = [("Via", str(original.vias[0])), ("Max-Forwards", str(DEFAULT_MAX_FORWARDS))]
        for name in ("From", "To", "Call-ID"):
            value = original.headers.get(name)
            if value is not None:
                fields.append((name, value))
        cseq = original.cseq
        assert cseq is not None
        fields.append(("CSeq", f"{cseq.number} CANCEL"))
        fields += [("Route", value) for value in original.headers.get_all("Route")]
        item.cancel_sent = True
        self.wire.start(Request("CANCEL", original.uri, Headers(fields)), item.destination, item.transport, now)
        self._set_deadline(item, now + self.cancel_wait, timer_c=False)

    # --- responses (§16.7) ------------------------------------------------------------------

    def on_response(self, key: ClientKey | None, response: Response, now: float) -> None:
        if key is None:
            self._forward_stateless(response)
            return
        item = self._branches.get(key)
        if item is None:
            return  # the response to one of our CANCELs (§9.1), or to a branch given up
        context = item.context
        status = response.status
        upstream = without_top_via(response)  # step 3
        if not upstream.vias:
            return
        if context.transport != item.transport:
            upstream = rewrite_record_route(upstream, self.here, context.transport)
        if status < 200:
            item.provisional = True
            if context.invite and item.deadline_is_timer_c and item.final is None:
                self._set_deadline(item, now + self.timer_c, timer_c=True)  # step 2: Timer C restarts
            given_up = item.final is not None  # Timer C counted it as 408 before it rang
            if (item.cancel_wanted or given_up) and not item.cancel_sent and context.invite:
                self._send_cancel(item, now)  # §9.1: now a CANCEL may go; the phone must stop ringing
            if status != 100 and context.sent is None and not context.cancelled:
                self._upstream(context, upstream, now)  # step 5: 1xx but 100 go on at once
            return
        first = item.final is None
        if first:
            item.final = status
            item.deadline = None
        if status < 300:
            if context.invite:
                # Step 5: every 2xx to an INVITE goes on at once, retransmissions too (RFC 6026 §8.4).
                self._upstream(context, upstream, now)
                if context.sent is None:
                    context.sent = status
                self._cancel_pending(context, now)  # step 10
            elif context.sent is None:
                context.sent = status
                self._upstream(context, upstream, now)
            return
        if not first:
            return
        context.finals.append(upstream)  # step 4
        if status >= 600 and context.invite:
            self._cancel_pending(context, now)  # step 5: a 6xx cancels the others
        self._complete(context, now)

    def _complete(self, context: Context, now: float) -> None:
        """Step 6: with no branch pending and nothing final sent yet, send the best response."""
        if context.sent is not None or context.pending():
            return
        best = best_response(context.finals)
        if best is None or (context.cancelled and best.status == 408):
            status = 487 if context.cancelled else 408  # §16.7 step 6; a cancelled one ends as 487
            best = response_to(context.request, status, to_tag=self._new_tag())
        context.sent = best.status
        self._upstream(context, best, now)

    def _upstream(self, context: Context, response: Response, now: float) -> None:
        if context.server_alive:
            try:
                self.wire.respond(context.key, response, now)
                return
            except LocalProtocolError:
                pass  # a 2xx after a final was sent (a late branch): it must still reach the caller
        self.wire.send(response, context.source, context.transport)

    def _forward_stateless(self, response: Response) -> None:
        """§16.7 step 1: a response with no client transaction is forwarded as a stateless proxy
        would (§16.11): only when the top Via is ours, to the next Via (§18.2.2)."""
        via = response.top_via
        if via is None or not self.here.is_me(via.host, via.port, via.transport) or len(response.vias) < 2:
            return
        found = via_destination(response.vias[1])
        if found is not None:
            self.wire.send(without_top_via(response), *found)

    # --- what the transaction layer reports --------------------------------------------------

    def on_timeout(self, key: ClientKey | ServerTransactionKey, now: float) -> None:
        """Timer B or F on a branch: the branch counts as 408 (§16.7 step 6, §16.8)."""
        self._stand_in(key, 408, now)

    def on_transport_error(self, key: ClientKey | ServerTransactionKey, now: float) -> None:
        """§16.9: a branch the transport could not send counts as 503 (so 500 upstream, step 6)."""
        self._stand_in(key, 503, now)

    def _stand_in(self, key: ClientKey | ServerTransactionKey, status: int, now: float) -> None:
        if not isinstance(key, ClientKey):
            return
        item = self._branches.get(key)
        if item is None or item.final is not None:
            return
        item.final = status
        item.deadline = None
        context = item.context
        context.finals.append(response_to(context.request, status, to_tag=self._new_tag()))
        self._complete(context, now)

    def on_terminated(self, key: ClientKey | ServerTransactionKey, now: float) -> None:
        if isinstance(key, ClientKey):
            self._stand_in(key, 408, now)  # ended without a final response (it should not)
            item = self._branches.pop(key, None)
            if item is None:
                return
            context = item.context
            context.live_branches -= 1
            self._forget(context)
        else:
            found = self._contexts.get(key)
            if found is not None:
                found.server_alive = False
                self._forget(found)

    def _forget(self, context: Context) -> None:
        if not context.server_alive and context.live_branches <= 0:
            self._contexts.pop(context.key, None)
            # Each branch points back at its context: without this the pair is a reference cycle,
            # which only the collector's full passes free (and those stall a loaded proxy).
            context.branches.clear()

    # --- Timer C and the wait after CANCEL ----------------------------------------------------

    def _set_deadline(self, item: Branch, when: float, *, timer_c: bool) -> None:
        item.deadline = when
        item.deadline_is_timer_c = timer_c
        self._sequence += 1
        heapq.heappush(self._deadlines, (when, self._sequence, item.key))

    def _live_deadline(self) -> tuple[float, Branch] | None:
        while self._deadlines:
            when, _, key = self._deadlines[0]
            item = self._branches.get(key)
            if item is not None and item.deadline == when and item.final is None:
                return when, item
            heapq.heappop(self._deadlines)
        return None

    def next_timer(self) -> float | None:
        live = self._live_deadline()
        return None if live is None else live[0]

    def handle_timer(self, now: float) -> None:
        while (live := self._live_deadline()) is not None and live[0] <= now:
            item = live[1]
            heapq.heappop(self._deadlines)
            item.deadline = None
            if item.deadline_is_timer_c and item.provisional and not item.cancel_sent:
                self._send_cancel(item, now)  # §16.6 item 11: Timer C with a provisional: CANCEL
            else:
                # Timer C with no provisional counts as 408 (§16.6 item 11); no 487 within 64*T1
                # of our CANCEL ends the branch as well (§9.1).
                self._stand_in(item.key, 487 if item.context.cancelled else 408, now)
                if item.cancel_sent:
                    # §9.1: no final response within 64*T1 of our CANCEL: the branch is given
                    # up, and its INVITE client transaction (which has no timer in Proceeding)
                    # is forgotten with it.
                    self.wire.abandon(item.key)
                    self.on_terminated(item.key, now)
