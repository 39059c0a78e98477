"""The transaction layer's timer heap behaves as the scan over all transactions it replaced,
and a response built by `response_to` holds what it would parse from its own fields."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core import Request, Response, response_to
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.matching import LocalProtocolError, ServerTransactionKey, TransactionKey
from privateline.edges.sip.core.transaction_events import RequestReceived
from privateline.edges.sip.core.transactions import TransactionLayer

from .transaction_support import UAC, UAS, answer, request


class ScanningLayer(TransactionLayer):
    """The timers as they were: every call looks at every transaction (the reference)."""

    def _all(self) -> list:  # type: ignore[type-arg]
        return [*self._clients.values(), *self._servers.values()]

    def next_timer(self) -> float | None:
        return min((when for t in self._all() if (when := t.next_timer()) is not None), default=None)

    def handle_timer(self, now: float) -> None:
        due = [(when, i, t) for i, t in enumerate(self._all()) if (when := t.next_timer()) is not None]
        for when, _, transaction in sorted(due, key=lambda item: (item[0], item[1])):
            if when <= now:
                transaction.handle_timer(now)
                self._collect(transaction)


def _server_keys(layer: TransactionLayer) -> list[ServerTransactionKey]:
    return list(layer._servers)


step = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(["INVITE", "OPTIONS"]), st.sampled_from(["UDP", "TCP"])),
    st.tuples(st.just("receive"), st.sampled_from(["INVITE", "REGISTER", "ACK"]), st.integers(0, 5)),
    st.tuples(st.just("respond"), st.sampled_from([100, 180, 200, 404, 486]), st.integers(0, 9)),
    st.tuples(st.just("answer"), st.sampled_from([100, 180, 200, 404]), st.integers(0, 9)),
    st.tuples(st.just("time"), st.sampled_from([0.0, 0.5, 1.0, 4.0, 32.0]), st.integers(0, 9)),
    st.tuples(st.just("error"), st.just(0), st.integers(0, 9)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
def test_the_timer_heap_fires_as_the_scan_did(steps: list[tuple[str, object, object]]) -> None:
    layers = [TransactionLayer(), ScanningLayer()]
    now = 0.0
    sent: list[Request] = []
    for number, (kind, first, second) in enumerate(steps):
        if kind == "time":
            assert isinstance(first, float)
            now += first
        for layer in layers:
            try:
                if kind == "send":
                    message = request(str(first), branch=f"z9hG4bKc{number}", transport=str(second))
                    layer.send_request(message, UAS, now)
                    if layer is layers[0]:
                        sent.append(message)
                elif kind == "receive":
                    assert isinstance(second, int)
                    method = str(first)
                    layer.receive(request(method, branch=f"z9hG4bKs{second}", cseq_method=None), UAC, now)
                elif kind == "respond":
                    keys = _server_keys(layer)
                    assert isinstance(first, int) and isinstance(second, int)
                    if keys:
                        key = keys[second % len(keys)]
                        server = layer._servers[key]
                        layer.respond(key, answer(server.request, first), now)
                elif kind == "answer":
                    assert isinstance(first, int) and isinstance(second, int)
                    if sent:
                        layer.receive(answer(sent[second % len(sent)], first), UAS, now)
                elif kind == "time":
                    layer.handle_timer(now)
                elif kind == "error":
                    every: list[TransactionKey] = [*layer._clients, *layer._servers]
                    assert isinstance(second, int)
                    if every:
                        layer.transport_error(every[second % len(every)], now)
            except LocalProtocolError:
                pass
        heap, scan = layers
        assert heap.next_timer() == scan.next_timer()
        assert heap.data_to_send() == scan.data_to_send()
        while (event := heap.next_event()) is not None:
            assert event == scan.next_event()
        assert scan.next_event() is None
        assert len(heap) == len(scan)


def test_many_transactions_fire_in_due_order() -> None:
    layer = TransactionLayer()
    for index in range(50):
        layer.receive(request("OPTIONS", branch=f"z9hG4bK{index}"), UAC, float(index))
        event = layer.next_event()
        assert isinstance(event, RequestReceived) and event.transaction is not None
        layer.respond(event.transaction, answer(event.request, 200), float(49 - index))
    while layer.next_event() is not None:
        pass
    assert layer.next_timer() == 32.0  # Timer J of the last answered (§17.2.2: 64*T1)
    layer.handle_timer(32.0 + 10.5)
    assert len(layer) == 39  # J of those answered at 0 to 10 fired; the rest wait
    assert layer.next_timer() == 32.0 + 11


def test_a_response_holds_what_it_would_parse_from_its_fields() -> None:
    received = request("REGISTER")
    _ = (received.vias, received.from_, received.to, received.call_id, received.cseq)
    for status, tag, extra in [
        (200, "b7", ()),
        (100, None, ()),
        (200, None, ()),
        (180, "b8", (("Via", "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKx"), ("CSeq", "9 REGISTER"))),
    ]:
        response = response_to(received, status, to_tag=tag, headers=extra)
        fresh = Response(response.status, response.reason, response.headers, response.body)
        for name in ("vias", "from_", "to", "call_id", "cseq", "contact"):
            assert _read(response, name) == _read(fresh, name), name


def _read(response: Response, name: str) -> object:
    try:
        return getattr(response, name)
    except SipParseError as error:
        return error.reason
