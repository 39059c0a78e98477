"""CPU cost of the SIP element itself, without sockets: microseconds per REGISTER-with-challenge cycle
and per complete call, on a copy of the benchmark's privateline data (10,000 subscribers, SQLite).

`run.py` measures the whole server under SIPp, where the load generator shares the machine's
two cores; this drives the same `SipElement` that `privateline serve` builds (app/sip.py
`build_element`), with the real device directory and location store, the way the transport
does: a batch of datagrams in, one flush of the location store, then the answers out.  Only the
element's work is timed (`time.process_time` around its calls), not the making of the requests.

    .venv/bin/python bench/sip/element.py [--cycles N] [--calls N] [--batch N] [--profile register|call]

It needs the data directory `run.py` caches (run `make bench` or `run.py --only privateline` once).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import pstats
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from run import CACHE, DATA_VERSION, HOST, REALM, migrations_digest, subscriber

from privateline.app.config import load_settings
from privateline.app.serve import GC_SIP_THRESHOLDS
from privateline.app.sip import build_element
from privateline.app.system import build_system
from privateline.edges.sip.core.element import SipElement, Transmission
from privateline.edges.sip.core.message import Request, serialize
from privateline.edges.sip.core.parse import parse_message
from privateline.edges.sip.core.respond import response_to

SERVER_PORT = 5060
REGISTRAR = f"sip:{HOST}:{SERVER_PORT}"
_NONCE = re.compile(rb'WWW-Authenticate: Digest [^\r\n]*nonce="([^"]+)"[^\r\n]*algorithm=MD5', re.IGNORECASE)
_PROXY_NONCE = re.compile(rb'Proxy-Authenticate: Digest [^\r\n]*nonce="([^"]+)"[^\r\n]*algorithm=MD5', re.IGNORECASE)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def authorization(header: str, number: str, password: str, method: str, uri: str, nonce: str) -> str:
    """An RFC 2617 §3.2.2 answer with qop=auth, as SIPp makes it."""
    ha1 = _md5(f"{number}:{REALM}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    cnonce, nc = "6b8b4567", "00000001"
    response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'{header}: Digest username="{number}",realm="{REALM}",uri="{uri}",nonce="{nonce}",'
        f'response="{response}",algorithm=MD5,cnonce="{cnonce}",qop=auth,nc={nc}'
    )


class Driver:
    """The element and a clock of CPU seconds spent inside it."""

    def __init__(self, element: SipElement, flush: Callable[[], object]) -> None:
        self.element = element
        self.flush = flush
        self.spent = 0.0

    def batch(self, datagrams: Iterable[tuple[bytes, tuple[str, int]]]) -> list[Transmission]:
        start = time.process_time()
        now = datetime.now(UTC)
        for data, source in datagrams:
            self.element.receive_datagram(data, source, now)
        self.flush()
        out = self.element.data_to_send()
        self.spent += time.process_time() - start
        return out


def register(number: str, port: int, cseq: int, branch: str, auth: str = "") -> bytes:
    lines = [
        f"REGISTER sip:{HOST}:{SERVER_PORT} SIP/2.0",
        f"Via: SIP/2.0/UDP {HOST}:{port};branch=z9hG4bK-{branch}",
        "Max-Forwards: 70",
        f"From: <sip:{number}@{HOST}>;tag=R{port}",
        f"To: <sip:{number}@{HOST}>",
        f"Call-ID: reg-{number}-{port}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{number}@{HOST}:{port};transport=UDP>",
        *([auth] if auth else []),
        "Expires: 3600",
        "User-Agent: privateline-sipp",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def register_cycles(driver: Driver, count: int, batch: int, first_port: int = 20000) -> int:
    """`count` REGISTER-401-REGISTER-200 cycles, `batch` users at a time; the number answered 200."""
    ok = 0
    for start in range(0, count, batch):
        users = [subscriber(i % 10_000) for i in range(start, min(start + batch, count))]
        ports = [first_port + (start + k) % 40_000 for k in range(len(users))]
        first = driver.batch(
            (register(number, port, 1, f"{port}-a"), (HOST, port))
            for (number, _), port in zip(users, ports, strict=True)
        )
        nonces = {t.destination[1]: _NONCE.search(t.payload) for t in first}
        second = []
        for (number, password), port in zip(users, ports, strict=True):
            found = nonces.get(port)
            assert found is not None, "no MD5 challenge"
            auth = authorization(
                "Authorization", number, password, "REGISTER", f"sip:{HOST}:{SERVER_PORT}", found.group(1).decode()
            )
            second.append((register(number, port, 2, f"{port}-b", auth), (HOST, port)))
        ok += sum(t.payload.startswith(b"SIP/2.0 200") for t in driver.batch(second))
    return ok


class Phone:
    """A SIPp-like user agent on one port of this host."""

    def __init__(self, number: str, password: str, port: int) -> None:
        self.number, self.password, self.port = number, password, port

    @property
    def source(self) -> tuple[str, int]:
        return HOST, self.port


class Call:
    """One call's requests as the caller's user agent writes them (RFC 3261 §8.1.1, §12.2.1.1)."""

    def __init__(self, caller: Phone, callee: Phone, number: int) -> None:
        self.caller, self.callee, self.id = caller, callee, f"call-{number}"
        self.from_tag, self.to_tag = f"c{number}", ""
        self.uri = f"sip:{callee.number}@{HOST}:{SERVER_PORT}"
        self.target, self.routes = self.uri, list[str]()

    def invite(self, cseq: int, auth: str = "") -> bytes:
        body = f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
        head = self._head("INVITE", self.uri, cseq, f"{cseq}", [])
        head += [f"Contact: <sip:{self.caller.number}@{HOST}:{self.caller.port}>", *([auth] if auth else [])]
        head += ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]
        return ("\r\n".join(head) + "\r\n\r\n" + body).encode()

    def in_dialog(self, method: str, cseq: int, branch: str, *, target: str | None = None) -> bytes:
        """ACK or BYE: to the remote target along the route set, or (`target`) the ACK of a non-2xx."""
        routes = [] if target else self.routes
        head = [*self._head(method, target or self.target, cseq, branch, routes), "Content-Length: 0"]
        return ("\r\n".join(head) + "\r\n\r\n").encode()

    def _head(self, method: str, uri: str, cseq: int, branch: str, routes: list[str]) -> list[str]:
        to = f"<sip:{self.callee.number}@{HOST}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        return [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.caller.port};branch=z9hG4bK-{self.id}-{branch}",
            "Max-Forwards: 70",
            *(f"Route: {r}" for r in routes),
            f"From: <sip:{self.caller.number}@{HOST}>;tag={self.from_tag}",
            f"To: {to}",
            f"Call-ID: {self.id}",
            f"CSeq: {cseq} {method}",
        ]


def _answer(forwarded: Transmission, status: int, tag: str, contact: str) -> bytes:
    """The callee's response to a request the proxy forwarded to it."""
    request = parse_message(forwarded.payload)
    assert isinstance(request, Request)
    # A UAS copies Record-Route into its 2xx (RFC 3261 §12.1.1) and names itself in Contact.
    extra = [("Record-Route", r) for r in request.headers.get_all("Record-Route")] if status == 200 else []
    if status == 200 and request.method == "INVITE":
        extra.append(("Contact", contact))
    return serialize(response_to(request, status, to_tag=tag, headers=extra))


def calls(driver: Driver, count: int, caller: Phone, callee: Phone, first: int = 0) -> int:
    """`count` complete calls caller → callee (INVITE, 407, ACK, INVITE, 180, 200, ACK, BYE, 200)."""
    done = 0
    a, b = caller.source, callee.source
    contact_b = f"<sip:{callee.number}@{HOST}:{callee.port}>"
    for number in range(first, first + count):
        call = Call(caller, callee, number)
        [challenge] = driver.batch([(call.invite(1), a)])
        nonce = _PROXY_NONCE.search(challenge.payload)
        assert nonce is not None, challenge.payload[:200]
        call.to_tag = _to_tag(challenge.payload)  # §17.1.1.3: the ACK of a 407 carries its To tag
        driver.batch([(call.in_dialog("ACK", 1, "1", target=call.uri), a)])
        call.to_tag = ""
        auth = authorization(
            "Proxy-Authorization", caller.number, caller.password, "INVITE", call.uri, nonce.group(1).decode()
        )
        forwarded = next(t for t in driver.batch([(call.invite(2, auth), a)]) if t.destination == b)
        tag_b = f"u{number}"
        ringing = driver.batch([(_answer(forwarded, 180, tag_b, contact_b), b)])
        answered = driver.batch([(_answer(forwarded, 200, tag_b, contact_b), b)])
        final = next(t for t in ringing + answered if t.payload.startswith(b"SIP/2.0 200"))
        call.to_tag, call.target = tag_b, f"sip:{callee.number}@{HOST}:{callee.port}"
        call.routes = [m.decode() for m in re.findall(rb"Record-Route: ([^\r\n]+)", final.payload)]
        driver.batch([(call.in_dialog("ACK", 2, "ack"), a)])
        bye = next(t for t in driver.batch([(call.in_dialog("BYE", 3, "bye"), a)]) if t.destination == b)
        back = driver.batch([(_answer(bye, 200, tag_b, contact_b), b)])
        done += any(t.destination == a and t.payload.startswith(b"SIP/2.0 200") for t in back)
    return done


def _to_tag(payload: bytes) -> str:
    found = re.search(rb"\r\nTo: [^\r\n]*;tag=([^;\r\n]+)", payload)
    assert found is not None
    return found.group(1).decode()


def register_phone(driver: Driver, phone: Phone) -> None:
    """One full REGISTER cycle for `phone`, so that calls can reach it."""
    [challenge] = driver.batch([(register(phone.number, phone.port, 1, "p1"), phone.source)])
    nonce = _NONCE.search(challenge.payload)
    assert nonce is not None, challenge.payload[:200]
    auth = authorization("Authorization", phone.number, phone.password, "REGISTER", REGISTRAR, nonce.group(1).decode())
    [answer] = driver.batch([(register(phone.number, phone.port, 2, "p2", auth), phone.source)])
    assert answer.payload.startswith(b"SIP/2.0 200"), answer.payload[:200]


@contextlib.contextmanager
def measured(driver: Driver, profiler: cProfile.Profile | None) -> Iterator[None]:
    driver.spent = 0.0
    if profiler is not None:
        profiler.enable()
    try:
        yield
    finally:
        if profiler is not None:
            profiler.disable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32, help="datagrams per wake-up (default 32)")
    parser.add_argument("--profile", choices=("register", "call"), default=None)
    args = parser.parse_args(argv)
    template = CACHE / f"privateline-10000-{DATA_VERSION}-{migrations_digest()}"
    if not template.is_dir():
        print(f"no cached data at {template}: run `bench/sip/run.py --only privateline` once", file=sys.stderr)
        return 2
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(template, data)
        system = build_system(load_settings(data_dir=data, log_level="warning"))
        element, bindings = build_element(system, HOST, SERVER_PORT)
        driver = Driver(element, bindings.flush)
        register_cycles(driver, 200, args.batch)  # warm up
        gc.collect()  # as `privateline serve` leaves the collector after start-up (app/serve.py)
        gc.freeze()
        gc.set_threshold(*GC_SIP_THRESHOLDS)
        with measured(driver, profiler if args.profile == "register" else None):
            ok = register_cycles(driver, args.cycles, args.batch, first_port=21000)
        per_cycle = driver.spent / args.cycles
        print(f"register: {ok}/{args.cycles} answered 200; {per_cycle * 1e6:.0f} µs per cycle = {1 / per_cycle:.0f}/s")
        a, b = (Phone(*subscriber(i), 30000 + i) for i in (1, 2))
        for phone in (a, b):
            register_phone(driver, phone)
        calls(driver, 20, a, b)  # warm up
        with measured(driver, profiler if args.profile == "call" else None):
            done = calls(driver, args.calls, a, b, first=1000)
        per_call = driver.spent / args.calls
        print(f"call: {done}/{args.calls} complete; {per_call * 1e6:.0f} µs per call = {1 / per_call:.0f}/s")
        system.database.dispose()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    return 0


if __name__ == "__main__":
    sys.exit(main())
