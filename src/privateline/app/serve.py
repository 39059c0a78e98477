"""`privateline serve`: check, publish the notice, and run the HTTP server and the SIP service.

`--role http` or `--role sip` runs one part only (several SIP processes may share one
database: the location is stored there).  SIGINT and SIGTERM stop both parts: HTTP
finishes its requests, SIP drains its live transactions (`sip_drain_seconds`).

The server refuses to start when `check` fails: a system whose database holds data the
register does not declare must not run (the notice would be false).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog
import uvicorn

from privateline.app import migrate
from privateline.app.system import System
from privateline.app.web import CheckinFirst, create_app

if TYPE_CHECKING:
    from privateline.edges.sip.transport import SipTransport

# Allocations between young collections (CPython: 700), young collections between middle ones,
# middle ones between full ones (CPython's 10 and 10); see _run.
GC_SIP_THRESHOLDS = (20_000, 10, 10)

log = structlog.get_logger("privateline")


class StartRefusedError(Exception):
    """The instance is not in a state it may run in; the message says why."""


def prepare(system: System, *, run_migrations: bool) -> None:
    if run_migrations:
        migrate.upgrade(system.database)
    elif migrate.pending(system.database):
        raise StartRefusedError("the database schema is not up to date: run `privateline migrate` first")
    report = system.check()
    if not report.passed:
        raise StartRefusedError("privateline check failed:\n  " + "\n  ".join(report.problems))
    if system.loaded.register.uses_example_values:
        log.warning(
            "the register still uses EXAMPLE values for the controller, the DPO or the supervisory authority; "
            "replace them in your register before going live",
            register=system.loaded.source,
        )
    if system.publish_notice():
        log.info("published a new version of the privacy notice", version=system.loaded.version)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` stops HTTP and SIP together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_server(system: System, sock: socket.socket, *, background: bool = True) -> _Server:
    config = uvicorn.Config(
        CheckinFirst(create_app(system, background=background)),
        # uvicorn's own access log would print full client addresses (WEB-7).
        access_log=False,
        log_config=None,
        lifespan="on",
        server_header=False,
        proxy_headers=False,  # forwarded addresses are resolved by our own trusted-proxy rule
        timeout_graceful_shutdown=10,
    )
    return _Server(config)


class Role(StrEnum):
    """What one process serves: everything, or one part (several SIP processes can share a database)."""

    all = "all"
    http = "http"
    sip = "sip"


def serve(
    system: System,
    host: str,
    port: int,
    *,
    run_migrations: bool,
    role: Role = Role.all,
    sip_port: int | None = None,
) -> None:
    prepare(system, run_migrations=run_migrations)
    sock = bind(host, port) if role is not Role.sip else None
    # Import here: a process serving only HTTP needs none of the SIP stack.
    sip = None
    if role is not Role.http:
        from privateline.app.sip import build_sip

        sip = build_sip(system, port=sip_port)
    asyncio.run(_run(system, sock, sip))


def _announce_http(sock: socket.socket, host: str) -> None:
    shown = f"[{host}]" if ":" in host else host
    actual_port = sock.getsockname()[1]
    base = f"http://{shown}:{actual_port}"
    pages = [
        ("privacy notice", "/privacy"),
        ("privacy center", "/privacy-center"),
        ("device owner's portal", "/device"),
        ("configuration helper", "/config-helper"),
        ("DPO console (accounts: privateline dpo add NAME)", "/dpo"),
        ("API", "/api/docs"),
    ]
    print(
        f"privateline is serving on {base}/", *(f"  {what}: {base}{path}" for what, path in pages), sep="\n", flush=True
    )


async def _run(system: System, sock: socket.socket | None, sip: SipTransport | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if sip is not None:
        bound = await sip.start()
        print(f"SIP is listening on {bound.describe()} (realm {system.settings.sip_realm})", flush=True)
    http: _Server | None = None
    http_task: asyncio.Task[None] | None = None
    if sock is not None:
        _announce_http(sock, system.settings.host)
        http = uvicorn_server(system, sock)
        http_task = asyncio.create_task(http.serve(sockets=[sock]))
    # What start-up built lives as long as the process: keep it out of the collector's
    # full passes, which otherwise scan it every time and stall requests (p99, bench/checkin).
    gc.collect()
    gc.freeze()
    # With SIP: every SIP message and transaction is a few dozen small objects that live until Timer J or K
    # (§17.2.2: 32 s on UDP); at the default threshold (700) the collector's young passes keep
    # walking them, about a sixth of the element's time under load (bench/sip/element.py).
    # The SIP core leaves no reference cycles behind (tests/edges/sip/core/test_element.py), so
    # what a finished transaction held is freed at once, without waiting for a full pass.
    if sip is not None:
        gc.set_threshold(*GC_SIP_THRESHOLDS)
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
    if http_task is not None:
        waiters.append(http_task)  # type: ignore[arg-type]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    if http is not None and http_task is not None:
        http.should_exit = True
        await http_task
    if sip is not None:
        await sip.stop(system.settings.sip_drain_seconds)
        print("SIP stopped", flush=True)
