"""The privacy center served alone over real HTTP, from a register and nothing else (it reads no database)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from privateline.app.serve import bind
from privateline.register.loader import LoadedRegister, load_register
from privateline.services.privacy.center.http import privacy_center_router

Serve = Callable[[LoadedRegister], httpx.Client]


@pytest.fixture
def serve_center() -> Iterator[Serve]:
    """Start the privacy center for a register; a client for it (closed, and the server stopped, after the test)."""
    running: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(loaded: LoadedRegister) -> httpx.Client:
        app = FastAPI()
        app.include_router(privacy_center_router(loaded))
        sock = bind("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_config=None, lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the privacy center test server did not start")
            time.sleep(0.01)
        client = httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=10)
        running.append((server, thread, client))
        return client

    yield start
    for server, thread, client in running:
        client.close()
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the privacy center test server did not stop"


@pytest.fixture(scope="session")
def shipped() -> LoadedRegister:
    return load_register()


@pytest.fixture
def center(serve_center: Serve, shipped: LoadedRegister) -> httpx.Client:
    """The privacy center of the shipped register."""
    return serve_center(shipped)
