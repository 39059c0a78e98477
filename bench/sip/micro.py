"""Micro-benchmarks of the SIP message and transaction layers (privateline.edges.sip.core).

Prints microseconds per operation for parsing a REGISTER, an INVITE with an SDP body and a
200 OK; for the header accesses a registrar makes on a parsed REGISTER; for serializing; and
for a full non-INVITE server transaction (parse the datagram, receive, respond, serialize the
answer, ask for timers) on a layer already holding `--live` transactions, as Timer J keeps them
for 32 s on UDP (§17.2.2).  Each number is the best of many short rounds of CPU time
(`time.process_time`: the least disturbed by other processes on the machine).

    .venv/bin/python bench/sip/micro.py [--rounds N] [--live N] [--profile OP]

To compare with another version of the core, run this script with `PYTHONPATH` pointing at
that version's `src` (e.g. one extracted with `git archive`), from outside the checkout.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable

from privateline.edges.sip.core.message import Request, serialize
from privateline.edges.sip.core.parse import parse_message
from privateline.edges.sip.core.respond import response_to
from privateline.edges.sip.core.transactions import TransactionLayer

REGISTER = (
    b"REGISTER sip:registrar.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Desk 12" <sip:1012@registrar.example.com>;tag=a73kszlfl\r\n'
    b"To: <sip:1012@registrar.example.com>\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:1012@192.0.2.10:5060;transport=udp>;expires=3600\r\n"
    b"Expires: 3600\r\n"
    b'Authorization: Digest username="1012", realm="registrar.example.com", '
    b'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:registrar.example.com", '
    b'response="dfe56131d1958046689d83306477ecc", algorithm=MD5, qop=auth, nc=00000001, '
    b'cnonce="0a4f113b"\r\n'
    b"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

SDP = (
    b"v=0\r\n"
    b"o=1012 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
)

INVITE = (
    b"INVITE sip:1013@registrar.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Desk 12" <sip:1012@registrar.example.com>;tag=9fxced76sl\r\n'
    b"To: <sip:1013@registrar.example.com>\r\n"
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1012@192.0.2.10:5060>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE\r\n"
    b"Supported: replaces, timer\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)

OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK2d4790.1;received=198.51.100.1\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.10\r\n"
    b'From: "Desk 12" <sip:1012@registrar.example.com>;tag=9fxced76sl\r\n'
    b"To: <sip:1013@registrar.example.com>;tag=8321234356\r\n"
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1013@192.0.2.20:5060>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _registrar_accesses(request: Request) -> object:
    """The header accesses a registrar makes on a REGISTER (§10.3)."""
    return (
        request.top_via,
        request.call_id,
        request.cseq,
        request.to,
        request.contact,
        request.authorization,
        request.expires,
    )


def _parse_register() -> object:
    return parse_message(REGISTER)


def _parse_invite() -> object:
    return parse_message(INVITE)


def _parse_ok() -> object:
    return parse_message(OK)


def _parse_register_and_access() -> object:
    message = parse_message(REGISTER)
    assert isinstance(message, Request)
    return _registrar_accesses(message)


_SERIALIZED = parse_message(INVITE)


def _serialize() -> object:
    return serialize(_SERIALIZED)


_RESPONSE_TO = parse_message(REGISTER)


def _response_to() -> object:
    assert isinstance(_RESPONSE_TO, Request)
    return response_to(_RESPONSE_TO, 200, to_tag="b7c0ffee")


class _ServerCycle:
    """One non-INVITE server transaction per call, on a layer holding many live ones (Timer J)."""

    def __init__(self, live: int) -> None:
        self.layer = TransactionLayer()
        self.count = 0
        self.now = 0.0
        for _ in range(live):
            self()

    def __call__(self) -> object:
        self.count += 1
        self.now += 0.0001
        data = REGISTER.replace(b"z9hG4bK776asdhds", b"z9hG4bK%d" % self.count)
        request = parse_message(data)
        assert isinstance(request, Request)
        layer = self.layer
        layer.receive(request, ("192.0.2.10", 5060), self.now)
        event = layer.next_event()
        key = getattr(event, "transaction", None)
        assert key is not None
        layer.respond(key, response_to(request, 200, to_tag="b7c0ffee"), self.now)
        sends = layer.data_to_send()
        wire = serialize(sends[0].message)
        layer.next_timer()
        layer.handle_timer(self.now)
        while layer.next_event() is not None:
            pass
        return wire


def _measure(operation: Callable[[], object], rounds: int, budget: float = 0.02) -> float:
    """µs per call: the best of `rounds` rounds, each as many calls as fit in `budget` seconds
    (short rounds, many of them: on a shared machine some fall between other processes' slices)."""
    operation()
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            operation()
        elapsed = time.process_time() - start
        if elapsed > budget / 4:
            break
        calls *= 2
    calls = max(1, int(calls * budget / 4 / elapsed * 4))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            operation()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def _measure_accesses(rounds: int, batch: int = 500) -> float:
    """µs for the registrar's accesses on a freshly parsed REGISTER (parsing not counted)."""
    best = float("inf")
    for _ in range(rounds):
        messages = [parse_message(REGISTER) for _ in range(batch)]
        start = time.process_time()
        for message in messages:
            _registrar_accesses(message)  # type: ignore[arg-type]
        best = min(best, (time.process_time() - start) / batch)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--live", type=int, default=160_000, help="live transactions in the layer (Timer J)")
    parser.add_argument("--profile", metavar="OP", help="profile one operation (by its name below) instead")
    args = parser.parse_args()
    operations: dict[str, Callable[[], object]] = {
        "parse REGISTER": _parse_register,
        "parse INVITE with SDP": _parse_invite,
        "parse 200 OK": _parse_ok,
        "parse REGISTER + registrar accesses": _parse_register_and_access,
        "serialize INVITE": _serialize,
        "response_to REGISTER": _response_to,
    }
    if args.profile:
        operation = operations.get(args.profile) or _ServerCycle(1000)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(2000):
            operation()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    for name, operation in operations.items():
        print(f"{name:<48} {_measure(operation, args.rounds):9.2f} µs")
    print(f"{'registrar accesses alone (on a fresh parse)':<48} {_measure_accesses(args.rounds):9.2f} µs")
    started = time.process_time()
    cycle = _ServerCycle(args.live)
    filling = f"(filling the layer with {args.live} transactions)"
    print(f"{filling:<48} {time.process_time() - started:9.2f} s")
    print(f"{'non-INVITE server transaction cycle':<48} {_measure(cycle, args.rounds):9.2f} µs")


if __name__ == "__main__":
    main()
