"""`privateline serve`: check, publish the notice, and run the HTTP server.

The server refuses to start when `check` fails: a system whose database holds data the
register does not declare must not run (the notice would be false).
"""

from __future__ import annotations

import gc
import socket

import structlog
import uvicorn

from privateline.app import migrate
from privateline.app.system import System
from privateline.app.web import CheckinFirst, create_app

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


def uvicorn_server(system: System, sock: socket.socket, *, background: bool = True) -> uvicorn.Server:
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
    return uvicorn.Server(config)


def serve(system: System, host: str, port: int, *, run_migrations: bool) -> None:
    prepare(system, run_migrations=run_migrations)
    sock = bind(host, port)
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
    server = uvicorn_server(system, sock)
    # What start-up built lives as long as the process: keep it out of the collector's
    # full passes, which otherwise scan it every time and stall requests (p99, bench/checkin).
    gc.collect()
    gc.freeze()
    server.run(sockets=[sock])
