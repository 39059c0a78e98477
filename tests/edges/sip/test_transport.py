"""The asyncio transport around the sans-IO element, over real loopback sockets (RFC 3261 §18).

The element is the real one, with an in-memory location and devices from a dict; the
database-backed store has its own tests (test_location.py).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from privateline.edges.sip.core import (
    Device,
    DigestServer,
    MemoryBindings,
    Request,
    Response,
    parse_message,
    response_to,
)
from privateline.edges.sip.core.element import ElementSettings, SipElement
from privateline.edges.sip.transport import Listeners, SipTransport, bind_sockets, timer_tick
from privateline.kernel.clock import SystemClock
from tests.edges.sip.ua import REALM, UdpPhone, ha1

PASSWORDS = {"100100": "alpha-secret", "200200": "bravo-secret"}


class Running:
    def __init__(self, transport: SipTransport, bindings: MemoryBindings, flushes: list[int]) -> None:
        self.transport = transport
        self.bindings = bindings
        self.flushes = flushes

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport.bound is not None
        return ("127.0.0.1", self.transport.bound.udp)


def _devices(number: str) -> Device | None:
    password = PASSWORDS.get(number)
    if password is None:
        return None
    return Device(ha1_md5=ha1("md5", number, password), ha1_sha256=ha1("sha256", number, password), voip_enabled=True)


def run(
    scenario: Callable[[Running], Awaitable[None]],
    *,
    flush: Callable[[], object] | None = None,
    pending: Callable[[], int] | None = None,
    commit_window: float = 0.005,
    tls: ssl.SSLContext | None = None,
) -> None:
    async def main() -> None:
        bindings = MemoryBindings()
        flushes: list[int] = []
        element = SipElement(
            ElementSettings(host="127.0.0.1", port=0, domains=("127.0.0.1",), realm=REALM),
            devices=_devices,
            bindings=bindings,
            digest=DigestServer(realm=REALM, secret=b"transport-test-secret-0123456789"),
        )
        transport = SipTransport(
            element,
            Listeners(host="127.0.0.1", udp_port=0, tcp_port=0, tls_port=0 if tls else None, tls=tls),
            SystemClock(),
            flush=flush or (lambda: flushes.append(1)),
            pending=pending,
            commit_window=commit_window,
        )
        await transport.start()
        try:
            await scenario(Running(transport, bindings, flushes))
        finally:
            await transport.stop(drain_seconds=0.5)

    # In a thread of its own: a test run earlier in this worker (Playwright's sync API) may
    # have left an event loop set on the main thread, where asyncio.run() refuses to start.
    failures: list[BaseException] = []

    def thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=thread)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the scenario did not finish within a minute"
    if failures:
        raise failures[0]


def test_a_phone_registers_over_udp_and_its_source_address_is_bound() -> None:
    async def scenario(server: Running) -> None:
        phone = UdpPhone("100100", PASSWORDS["100100"], server.address)
        try:
            answer = await phone.register()
            assert answer.status == 200
            (binding,) = server.bindings.current("100100", datetime.now(UTC).timestamp())
            assert binding.source == ("127.0.0.1", phone.port)
            assert binding.user_agent == "TestPhone/1.0"
            assert server.flushes, "the location store was flushed before the answer left"
        finally:
            phone.close()

    run(scenario)


@pytest.mark.promise("DEV-4")
def test_an_answer_is_not_sent_when_the_location_cannot_be_stored() -> None:
    """Group commit (DEV-4): a 200 confirms a stored binding, so a failed write sends nothing."""

    def broken() -> None:
        raise OSError("disk full")

    async def scenario(server: Running) -> None:
        phone = UdpPhone("100100", PASSWORDS["100100"], server.address)
        try:
            await phone.send(phone.register_text())
            with pytest.raises(TimeoutError):
                await phone.response(timeout=1.0)
        finally:
            phone.close()

    run(scenario, flush=broken)


@pytest.mark.promise("DEV-4")
def test_answers_arriving_within_one_commit_window_share_one_commit() -> None:
    """Group commit across wake-ups (DEV-4): while writes wait, what arrives within the window
    joins the same commit, and no answer of the window leaves before that commit."""
    flushes: list[float] = []

    async def scenario(server: Running) -> None:
        phones = [UdpPhone(number, PASSWORDS[number], server.address) for number in ("100100", "200200")]
        try:
            started = asyncio.get_running_loop().time()
            for phone in phones:  # two datagrams, two wake-ups of the transport
                await phone.send(phone.register_text())
            answers = [await phone.response() for phone in phones]
            assert [a.status for a in answers] == [401, 401]
            assert len(flushes) == 1 and flushes[0] - started >= 0.3  # one commit, after its window
        finally:
            for phone in phones:
                phone.close()

    # A store that always has writes waiting: every answer waits for a commit.
    run(scenario, flush=lambda: flushes.append(asyncio.get_running_loop().time()), pending=lambda: 1, commit_window=0.3)


def test_garbage_does_not_stop_the_service() -> None:
    async def scenario(server: Running) -> None:
        phone = UdpPhone("100100", PASSWORDS["100100"], server.address)
        vandal = UdpPhone("200200", PASSWORDS["200200"], server.address)
        try:
            loop = asyncio.get_running_loop()
            for junk in (b"\x00\xff" * 300, b"INVITE\r\n\r\n", b"\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"):
                await loop.sock_sendto(vandal.sock, junk, server.address)
            assert (await phone.register()).status == 200
        finally:
            phone.close()
            vandal.close()

    run(scenario)


def _tcp_register(host: str, port: int, cseq: int, local_port: int) -> bytes:
    return (
        f"REGISTER sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:{local_port};branch=z9hG4bK-tcp-{cseq}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:100100@{host}>;tag=t1\r\n"
        f"To: <sip:100100@{host}>\r\n"
        "Call-ID: tcp-1@127.0.0.1\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:100100@127.0.0.1:{local_port};transport=tcp>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_tcp_frames_two_messages_in_one_segment_and_answers_a_keepalive_ping() -> None:
    async def scenario(server: Running) -> None:
        bound = server.transport.bound
        assert bound is not None and bound.tcp is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", bound.tcp)
        local_port = int(writer.get_extra_info("sockname")[1])
        try:
            writer.write(b"\r\n\r\n")  # RFC 5626 §3.5.1 ping
            assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
            writer.write(
                _tcp_register("127.0.0.1", bound.tcp, 1, local_port)
                + _tcp_register("127.0.0.1", bound.tcp, 2, local_port)
            )
            answers = []
            for _ in range(2):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                length = int(
                    next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                        b":"
                    )[1]
                )
                body = await reader.readexactly(length)
                message = parse_message(head + body)
                assert isinstance(message, Response)
                answers.append((message.status, message.cseq.number if message.cseq else None))
            assert answers == [(401, 1), (401, 2)]
        finally:
            writer.close()

    run(scenario)


def test_stop_closes_the_ports() -> None:
    ports: list[int] = []

    async def scenario(server: Running) -> None:
        assert server.transport.bound is not None
        ports.append(server.transport.bound.udp)

    run(scenario)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", ports[0]))  # free again


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by Debian's openssl for this test."""
    cert, key = directory / "sip.crt", directory / "sip.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_is_served_when_configured_and_the_phone_can_verify_the_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))

    async def scenario(server: Running) -> None:
        bound = server.transport.bound
        assert bound is not None and bound.tls is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", bound.tls, ssl=client_context)
        local_port = int(writer.get_extra_info("sockname")[1])
        try:
            writer.write(_tcp_register("127.0.0.1", bound.tls, 1, local_port).replace(b"/TCP ", b"/TLS "))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"SIP/2.0 401 ")
        finally:
            writer.close()

    run(scenario, tls=server_context)


def test_a_stop_lets_a_ringing_call_be_answered_before_the_ports_close() -> None:
    """Graceful shutdown drains: a call being set up when the stop is asked still gets its 200."""

    async def scenario(server: Running) -> None:
        caller = UdpPhone("100100", PASSWORDS["100100"], server.address)
        callee = UdpPhone("200200", PASSWORDS["200200"], server.address)
        try:
            assert (await caller.register()).status == 200
            assert (await callee.register()).status == 200
            await caller.call("200200")
            invite = await callee.receive()
            assert isinstance(invite, Request) and invite.method == "INVITE"
            await callee.send_message(response_to(invite, 180, to_tag="callee1"), server.address)
            assert (await caller.response()).status == 100
            assert (await caller.response()).status == 180
            stopping = asyncio.ensure_future(server.transport.stop(drain_seconds=10))
            await asyncio.sleep(0.2)
            assert not stopping.done(), "the stop waits for the call being set up"
            await callee.send_message(response_to(invite, 200, to_tag="callee1"), server.address)
            assert (await caller.response()).status == 200
            await asyncio.wait_for(stopping, 5)
        finally:
            caller.close()
            callee.close()

    run(scenario)


def test_timers_fire_on_ticks_never_before_they_are_due() -> None:
    """Transactions due within one tick end in one wake-up (the transport's `timer_tick`), and
    no timer fires early: a retransmission is at most one tick late (4 % of T1, §17.1.1.2)."""
    due = [1000.001, 1000.007, 1000.0199, 1000.02]
    ticks = [timer_tick(when) for when in due]
    assert all(tick >= when for tick, when in zip(ticks, due, strict=True))
    assert len(set(ticks)) == 1 and ticks[0] - due[0] < 0.02
    assert timer_tick(1000.0201) > ticks[0]


def test_udp_and_tcp_share_one_port_number_and_a_taken_one_is_refused_whole() -> None:
    """§18: one port for both; port 0 finds a number free for both, a fixed one taken by TCP
    fails without leaving the UDP socket bound."""
    udp, stream = bind_sockets("127.0.0.1", 0, tcp=True)
    assert stream is not None
    try:
        number = udp.getsockname()[1]
        assert stream.getsockname()[1] == number
    finally:
        udp.close()
        stream.close()
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            bind_sockets("127.0.0.1", port, tcp=True)
        udp, none = bind_sockets("127.0.0.1", port, tcp=False)  # the UDP number was given back
        assert none is None and udp.getsockname()[1] == port
        udp.close()
    finally:
        taken.close()
