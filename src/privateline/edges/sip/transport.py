"""The SIP element on the network: asyncio UDP, TCP and TLS around the sans-IO `SipElement`
(RFC 3261 §18).

The element decides everything; this module only moves bytes and time:

- the UDP datagrams waiting when the socket becomes readable (up to `_BATCH`) are handed
  to the element together, then the location store is flushed once (`flush`: group commit), and only
  then are the answers sent.  An answered REGISTER is therefore a stored one (DEV-4), and
  the database sees one commit per batch instead of one per phone.  When the transport is told
  how many writes wait (`pending`), a batch that leaves some opens a window of
  `commit_window` seconds (5 ms by default): what arrives within it joins the same commit,
  and every answer of the window leaves after it.  Under load a wake-up finds only one or two
  datagrams, and a commit for each cost more than the registrations themselves.
- TCP and TLS connections are framed by `StreamFramer` (Content-Length, §18.3); a
  CRLFCRLF ping is answered with a CRLF pong (RFC 5626 §3.5.1).  A connection is known
  by its peer address, so a response or a forwarded request for that address goes back
  over it (§18.2.2); a request for a TCP peer without a connection opens one (§18.1.1).
- The element's next timer is scheduled with `loop.call_at`; `now` always comes from the
  `Clock`, so the element never reads a clock itself.
- `stop` closes the listeners, then drains: it keeps serving until the element has no
  live transaction or `drain_seconds` have passed, so calls being set up are not cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

import structlog

from privateline.edges.sip.core import Ping, Received, Rejected, StreamFramer, answer_error, serialize
from privateline.edges.sip.core.element import SipElement, Transmission
from privateline.edges.sip.core.parse import ParseLimits
from privateline.kernel.clock import Clock

log = structlog.get_logger("privateline.sip")

Addr = tuple[str, int]

_MAX_CONNECTIONS = 10_000  # a TCP/TLS flood cannot exhaust file descriptors beyond this
_READ_CHUNK = 65536
_DATAGRAM = 65535  # the largest UDP payload
_BATCH = 256  # datagrams taken per wake-up, so one slow batch cannot starve timers and TCP
_RECEIVE_BUFFER = 4 * 1024 * 1024  # room for bursts while a batch is being stored
_IDLE_SECONDS = 600.0  # §18.3 leaves the lifetime of idle connections to the implementation
# Timers fire on ticks of this many seconds, so one wake-up ends every transaction due in it:
# tens of thousands end at 64*T1 (§17.2.2 Timer J) at moments of their own, and a wake-up for
# each cost a fifth of the proxy's time under load.  20 ms is 4 % of T1, the shortest timer
# (§17.1.1.2 Timer A); Kamailio's own timer ticks every 62.5 ms.
_TIMER_TICK = 0.02
_COMMIT_WINDOW = 0.005  # seconds a group commit waits for more writes (1 % of T1, §17.1.1.2)


def timer_tick(when: float) -> float:
    """The end of the `_TIMER_TICK` that `when` falls in: when a timer due then fires (never early)."""
    return max(when, math.ceil(when / _TIMER_TICK) * _TIMER_TICK)


@dataclass(frozen=True)
class Listeners:
    """Where the element listens; port 0 picks a free one (tests)."""

    host: str
    udp_port: int
    tcp_port: int | None = None  # None: no TCP
    tls_port: int | None = None  # None: no TLS
    tls: ssl.SSLContext | None = None
    # Sockets bound beforehand (`bind_sockets`), so that the element knows its own port
    # before it starts (Via, Record-Route) even when port 0 asked for a free one.
    udp_socket: socket.socket | None = None
    tcp_socket: socket.socket | None = None


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    """A larger kernel receive buffer, so a burst of REGISTERs arriving during a commit is not
    dropped (SO_RCVBUFFORCE needs CAP_NET_ADMIN; otherwise the system's maximum applies)."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    for option in (force, socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, _RECEIVE_BUFFER)
            return
        except OSError:
            continue


def bind_sockets(host: str, port: int, *, tcp: bool) -> tuple[socket.socket, socket.socket | None]:
    """A UDP socket and, when asked, a TCP one on the same port number (§18: one port for both).
    Port 0 picks a number free for both.  OSError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100 if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind((host, port))
        except OSError:
            udp.close()
            raise
        if not tcp:
            return udp, None
        stream = socket.socket(family, socket.SOCK_STREAM)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            stream.bind((host, int(udp.getsockname()[1])))
            stream.listen(1024)
        except OSError:
            stream.close()
            udp.close()
            if port == 0:
                continue  # that number is taken for TCP: try another
            raise
        return udp, stream
    raise OSError(f"no port on {host} is free for both UDP and TCP")


@dataclass(frozen=True)
class Bound:
    """The addresses actually bound, for the start-up line and tests."""

    host: str
    udp: int
    tcp: int | None
    tls: int | None

    def describe(self) -> str:
        parts = [f"udp {self.host}:{self.udp}"]
        if self.tcp is not None:
            parts.append(f"tcp {self.host}:{self.tcp}")
        if self.tls is not None:
            parts.append(f"tls {self.host}:{self.tls}")
        return ", ".join(parts)


class _Connection:
    """One TCP or TLS connection: a framer in, a writer out."""

    def __init__(self, transport: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Addr) -> None:
        self.transport = transport
        self.reader = reader
        self.writer = writer
        self.peer = peer


class SipTransport:
    """Runs one `SipElement` on UDP (and TCP/TLS when configured)."""

    def __init__(
        self,
        element: SipElement,
        listeners: Listeners,
        clock: Clock,
        *,
        flush: Callable[[], object] = lambda: None,
        pending: Callable[[], int] | None = None,
        commit_window: float = _COMMIT_WINDOW,
        limits: ParseLimits | None = None,
        sweep: Callable[[], object] | None = None,
        sweep_seconds: float = 30.0,
    ) -> None:
        self.element = element
        self.listeners = listeners
        self.clock = clock
        self._flush = flush
        self._pending = pending
        self._commit_window = commit_window
        self._held: list[Transmission] = []  # answers waiting for the commit of their window
        self._window: asyncio.TimerHandle | None = None  # the open commit window's end
        self._limits = limits
        self._sweep = sweep
        self._sweep_seconds = sweep_seconds
        self._udp: socket.socket | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: dict[tuple[str, Addr], _Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.bound: Bound | None = None
        self._stopping = False

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> Bound:
        loop = asyncio.get_running_loop()
        spec = self.listeners
        udp, tcp_socket = spec.udp_socket, spec.tcp_socket
        if udp is None:
            # TCP port 0 means UDP's number: bound together, so that a number TCP finds taken
            # is given up for another (`bind_sockets`) instead of failing the start.
            together = tcp_socket is None and spec.tcp_port == 0
            udp, stream = bind_sockets(spec.host, spec.udp_port, tcp=together)
            tcp_socket = stream or tcp_socket
        udp.setblocking(False)
        _enlarge_receive_buffer(udp)
        self._udp = udp
        loop.add_reader(udp.fileno(), self._readable)
        udp_port = int(udp.getsockname()[1])
        tcp_port = tls_port = None
        if tcp_socket is not None:
            server = await asyncio.start_server(self._accept("tcp"), sock=tcp_socket)
            self._servers.append(server)
            tcp_port = int(server.sockets[0].getsockname()[1])
        elif spec.tcp_port is not None:
            # The same port number as UDP when the caller gave its UDP socket and asks for 0 (§18).
            wanted = spec.tcp_port or udp_port
            server = await asyncio.start_server(self._accept("tcp"), spec.host, wanted, reuse_address=True)
            self._servers.append(server)
            tcp_port = int(server.sockets[0].getsockname()[1])
        if spec.tls_port is not None:
            if spec.tls is None:
                raise ValueError("a TLS port needs a TLS context (certificate and key)")
            server = await asyncio.start_server(
                self._accept("tls"), spec.host, spec.tls_port, ssl=spec.tls, reuse_address=True
            )
            self._servers.append(server)
            tls_port = int(server.sockets[0].getsockname()[1])
        if self._sweep is not None:
            self._sweeper = asyncio.create_task(self._sweep_loop())
        self.bound = Bound(spec.host, udp_port, tcp_port, tls_port)
        return self.bound

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop taking new connections, drain live transactions, then close everything (once)."""
        if self._stopping:
            return
        self._stopping = True
        for server in self._servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        while self.element.busy() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.element.busy():
            log.warning("sip stopped with transactions still open", open=self.element.busy())
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._timer is not None:
            self._timer.cancel()
        self._readable()  # what arrived meanwhile is answered and stored
        if self._window is not None:
            self._commit_and_send()  # the last window's commit, now
        for connection in list(self._connections.values()):
            connection.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None

    # --- input --------------------------------------------------------------------------

    def _readable(self) -> None:
        """Every datagram waiting (up to `_BATCH`): into the element, one flush, then out.

        asyncio's datagram transport hands over one datagram per wake-up, which would make
        every batch a batch of one; reading until the socket is empty is what makes the
        group commit a group."""
        sock = self._udp
        if sock is None:
            return
        now = self.clock.now()
        for _ in range(_BATCH):
            try:
                data, peer = sock.recvfrom(_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # an ICMP error of an earlier send (§17.1.4 leaves UDP to the timers)
            self.element.receive_datagram(data, (str(peer[0]), int(peer[1])), now)
        self._send_all()

    def _send_all(self) -> None:
        self._held += self.element.data_to_send()
        if self._window is not None:
            return  # the window's commit sends these too (and reschedules the timer)
        if self._pending is not None and self._commit_window > 0 and not self._stopping and self._pending():
            self._window = asyncio.get_running_loop().call_later(self._commit_window, self._commit_and_send)
            return
        self._commit_and_send()

    def _commit_and_send(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None
        sends, self._held = self._held, []
        # Group commit (DEV-4): bindings the answers confirm are stored before they leave.
        # When they cannot be stored, nothing is answered: the phones retransmit (§17.1.2.2)
        # and the next batch writes again; an answer must never confirm a lost binding.
        try:
            self._flush()
        except Exception as exc:
            # Only the kind of error: a database error's text carries the statement's parameters.
            log.error("sip location not stored; answers withheld", error=type(exc).__name__, withheld=len(sends))
            sends = []
        for send in sends:
            self._send(send)
        self._reschedule()

    def _send(self, send: Transmission) -> None:
        if send.transport == "udp":
            if self._udp is not None:
                # A full send buffer or an unreachable peer: UDP gives no guarantee, and the
                # transactions retransmit (§17.1.1.2, §17.2.1).
                with contextlib.suppress(OSError):
                    self._udp.sendto(send.payload, send.destination)
            return
        connection = self._connections.get((send.transport, send.destination))
        if connection is not None:
            connection.writer.write(send.payload)
            return
        if send.transport == "tcp" or (send.transport == "tls" and self.listeners.tls is not None):
            self._spawn(self._connect_and_send(send))
        # §18.1.1: no connection can be opened (TLS without a context): the transaction's
        # timers report the failure.

    async def _connect_and_send(self, send: Transmission) -> None:
        host, port = send.destination
        context: ssl.SSLContext | None = None
        if send.transport == "tls":
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout=5.0)
        except (OSError, TimeoutError, ssl.SSLError):
            log.info("sip connection failed", transport=send.transport)
            return
        connection = _Connection(send.transport, reader, writer, send.destination)
        self._connections[(send.transport, send.destination)] = connection
        writer.write(send.payload)
        await self._read(connection)

    def _accept(self, transport: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            if len(self._connections) >= _MAX_CONNECTIONS or peer is None:
                writer.close()
                return
            connection = _Connection(transport, reader, writer, (str(peer[0]), int(peer[1])))
            self._connections[(transport, connection.peer)] = connection
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await self._read(connection)
            finally:
                if task is not None:
                    self._tasks.discard(task)

        return accepted

    async def _read(self, connection: _Connection) -> None:
        framer = StreamFramer(self._limits) if self._limits is not None else StreamFramer()
        try:
            while True:
                try:
                    data = await asyncio.wait_for(connection.reader.read(_READ_CHUNK), timeout=_IDLE_SECONDS)
                except TimeoutError:
                    break
                if not data:
                    break
                framer.feed(data)
                if not self._drain_framer(framer, connection):
                    break
                self._send_all()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop((connection.transport, connection.peer), None)
            connection.writer.close()

    def _drain_framer(self, framer: StreamFramer, connection: _Connection) -> bool:
        """Feed every framed message to the element; False when the stream lost its framing."""
        now = self.clock.now()
        while (event := framer.next_event()) is not None:
            if isinstance(event, Received):
                self.element.receive_message(event.message, connection.peer, now, transport=connection.transport)
            elif isinstance(event, Ping):
                connection.writer.write(b"\r\n")  # RFC 5626 §3.5.1: pong
            elif isinstance(event, Rejected):
                answer = answer_error(event.error)
                if answer is not None:
                    connection.writer.write(serialize(answer))
                if event.error.fatal:
                    return False  # §18.3: the framing is lost; close the connection
        return True

    # --- time ---------------------------------------------------------------------------

    def _reschedule(self) -> None:
        when = self.element.next_timer()
        if when is not None:
            when = timer_tick(when)
        if when is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
                self._timer_at = None
            return
        if self._timer is not None and self._timer_at is not None and self._timer_at <= when:
            return  # the earlier timer is already set; it reschedules when it fires
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - self.clock.now().timestamp())
        self._timer_at = when
        self._timer = loop.call_at(loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.element.handle_timer(self.clock.now())
        self._send_all()

    async def _sweep_loop(self) -> None:
        assert self._sweep is not None
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                self._sweep()
            except Exception as exc:
                log.error("sip binding sweep failed", error=type(exc).__name__)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


__all__ = ["Bound", "Listeners", "SipTransport", "bind_sockets", "timer_tick"]
