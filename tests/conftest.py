"""Shared fixtures: a fresh, migrated database per test on SQLite and PostgreSQL,
a fake clock, a wired system, and a real HTTP server on a free loopback port.

Backends come from $PRIVATELINE_TEST_BACKENDS (default "sqlite,postgresql").  When
PostgreSQL is asked for but not reachable the run stops with an error: a backend is
never silently skipped.  Each PostgreSQL test gets its own database, copied from a
migrated template, so tests can run in parallel and in random order.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from privateline.app import migrate
from privateline.app.config import Settings
from privateline.app.serve import bind, prepare, uvicorn_server
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.storage.database import Database, normalise_url, sqlite_url
from tests.services.devices.conftest import MakePhone, phone_maker

BACKENDS = [b.strip() for b in os.environ.get("PRIVATELINE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
POSTGRES_ADMIN_URL = normalise_url(
    os.environ.get("PRIVATELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_engine() -> sa.Engine:
    return sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(name: str) -> str:
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sqlite-template")
    database = Database.open(sqlite_url(directory))
    migrate.upgrade(database)
    database.dispose()
    return directory / "privateline.sqlite3"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    admin = _admin_engine()
    try:
        with admin.connect() as c:
            c.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc.orig}); start it, set "
            "PRIVATELINE_TEST_POSTGRES_URL, or run with PRIVATELINE_TEST_BACKENDS=sqlite",
            returncode=3,
        )
    name = f"pl_tpl_{_worker()}_{os.getpid()}"
    _drop(admin, name)
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database.open(_pg_url(name))
    migrate.upgrade(database)
    database.dispose()
    yield name
    _drop(admin, name)
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest migration."""
    if request.param == "sqlite":
        target = tmp_path / "var"
        target.mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), target / "privateline.sqlite3")
        yield sqlite_url(target)
        return
    template = request.getfixturevalue("postgres_template")
    name = f"pl_{_worker()}_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine()
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    _drop(admin, name)
    admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, sweep_interval_seconds=3600)


@pytest.fixture
def system(settings: Settings, clock: FakeClock) -> Iterator[System]:
    built = build_system(settings, clock=clock)
    yield built
    built.close()


@dataclass
class LiveServer:
    url: str
    system: System
    server: uvicorn.Server
    thread: threading.Thread

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def stop(self) -> None:
        """Shut down as `serve` does on SIGTERM: the lifespan flushes the access log."""
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=15)
            assert not self.thread.is_alive(), "the server did not shut down"


def start_live_server(system: System) -> LiveServer:
    prepare(system, run_migrations=False)
    sock = bind("127.0.0.1", 0)
    # No background loops: tests flush and sweep explicitly, against the fake clock.
    server = uvicorn_server(system, sock, background=False)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = sock.getsockname()[1]
    return LiveServer(f"http://127.0.0.1:{port}", system, server, thread)


@pytest.fixture
def live_server(system: System) -> Iterator[LiveServer]:
    server = start_live_server(system)
    yield server
    server.stop()


@pytest.fixture
def make_phone(system: System) -> MakePhone:
    """Phones in the factory records of `system`, made the way an import makes them."""
    return phone_maker(system)
