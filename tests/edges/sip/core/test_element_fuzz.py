"""Fuzzing the element in the middle of a call: a recorded call (REGISTERs, INVITE with its
407, 180, 200, ACK, BYE, and a CANCEL) is replayed into a fresh element with one message
mutated, and timers are run; no exception may escape and none may be swallowed either
(`internal_errors` and `on_internal_error` see every bug the element catches)."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.edges.sip.core.element_support import BOB, Network, Phone, alice, bob, in_dialog, requests_in

Step = tuple[bytes, tuple[str, int]]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Recorder(Network):
    """A network that remembers every datagram fed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[Step] = []

    def feed(self, data: bytes, source: tuple[str, int]) -> list:  # type: ignore[type-arg]
        self.steps.append((data, source))
        return super().feed(data, source)


@cache
def recorded_call() -> tuple[Step, ...]:
    net = Recorder()
    a, b = alice(), bob()
    net.register(a)
    net.register(b)
    _, sent = net.call(a, BOB)
    ((forwarded, _),) = requests_in(sent)
    net.feed(b.answer(forwarded, 180), b.source)
    net.feed(b.answer(forwarded, 200), b.source)
    route = net.route("call-1")
    for method, cseq in (("ACK", 4), ("BYE", 5)):
        data = in_dialog(a, method, cseq, to_tag="bt1", route=route, branch=f"z9hG4bK{method}")
        ((routed, _),) = requests_in(net.feed(data, a.source))
    net.feed(b.answer(routed, 200), b.source)  # the 200 to the BYE
    second = Phone(a.number, a.source, a.private)
    invite, _ = net.call(second, BOB, call_id="call-2")
    cancel = invite.replace(b"INVITE sip:", b"CANCEL sip:", 1).replace(b" INVITE\r\n", b" CANCEL\r\n")
    net.feed(cancel, a.source)
    return tuple(net.steps)


def replay(steps: list[Step]) -> Network:
    net = Network()
    for data, source in steps:
        net.element.receive_datagram(data, source, net.now)
        net.element.data_to_send()
    net.element.handle_timer(net.now)
    assert net.errors == [] and net.element.internal_errors == 0
    return net


def test_the_recorded_call_replays_cleanly() -> None:
    steps = recorded_call()
    assert len(steps) > 10
    replay(list(steps))


@FUZZ
@given(st.data())
def test_a_mutated_message_in_a_call_never_raises(data: st.DataObject) -> None:
    steps = list(recorded_call())
    index = data.draw(st.integers(0, len(steps) - 1))
    payload = bytearray(steps[index][0])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload)))
        kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        chunk = data.draw(
            st.sampled_from([b"", b";", b",", b"<", b">", b"\r\n", b" ", b"0", b"9999999999", b"@", b":"])
        )
        if kind == "replace":
            payload[at : at + len(chunk)] = chunk
        elif kind == "delete":
            del payload[at : at + data.draw(st.integers(1, 20))]
        else:
            payload[at:at] = chunk
    steps[index] = (bytes(payload), steps[index][1])
    net = replay(steps)
    net.advance(400)  # every timer, Timer C included, fires on what is left
    assert net.element.internal_errors == 0


@FUZZ
@given(st.lists(st.integers(0, 40), min_size=1, max_size=12))
def test_any_order_and_repetition_of_the_call_never_raises(order: list[int]) -> None:
    steps = list(recorded_call())
    net = replay([steps[i % len(steps)] for i in order])
    net.advance(400)
    assert net.element.internal_errors == 0
