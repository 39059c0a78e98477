from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from privateline.app.config import Settings
from privateline.app.logs import configure_logging
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.services.site.access_log import access_log
from privateline.storage.declarations import store_of
from tests.conftest import LiveServer, start_live_server

CLIENT_V4 = "203.0.113.77"
CLIENT_V6 = "2001:db8:abcd:12:3456:789a:bcde:f012"


@pytest.fixture
def proxied(settings: Settings, clock: FakeClock) -> Iterator[System]:
    """An instance behind a reverse proxy on loopback, so tests can present any client address."""
    built = build_system(settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]}), clock=clock)
    yield built
    built.close()


def rows(system: System) -> list[sa.Row[tuple[object, ...]]]:
    with system.database.reading() as c:
        return list(c.execute(sa.select(access_log).order_by(access_log.c.id)))


def everything_stored(system: System, data_dir: Path) -> str:
    """Every value in every table, plus the bytes of every file in the data directory."""
    text = []
    with system.database.reading() as c:
        for table in sa.inspect(system.database.engine).get_table_names():
            for row in c.exec_driver_sql(f"SELECT * FROM {table}"):
                text.append(repr(tuple(row)))
    for path in data_dir.rglob("*"):
        if path.is_file():
            text.append(path.read_bytes().decode("latin-1"))
    return "\n".join(text)


@pytest.mark.promise("WEB-4", "WEB-6")
def test_web_6_each_request_is_logged_with_what_the_notice_names(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.get(
            "/privacy?lang=de&email=someone@example.org",
            headers={"Referer": "https://search.example/?q=my+name", "User-Agent": "TestPhone/1.0"},
        )
    assert response.status_code == 200
    live_server.stop()
    [row] = [r for r in rows(live_server.system) if r.path == "/privacy"]
    assert row.method == "GET"
    assert row.status == 200
    assert row.bytes == len(response.content)
    assert row.at == live_server.system.clock.now()
    assert row.user_agent == "TestPhone/1.0"
    # WEB-4: only what is essential: no query strings, which can carry addresses and tokens.
    assert row.referrer == "https://search.example/"
    assert "someone@example.org" not in repr(tuple(row))
    assert row.client_network == "127.0.0.0"


@pytest.mark.promise("WEB-7", "WEB-4")
@pytest.mark.parametrize(("client", "network"), [(CLIENT_V4, "203.0.113.0"), (CLIENT_V6, "2001:db8:abcd::")])
def test_web_7_no_full_client_address_is_stored_or_logged(
    proxied: System, tmp_path: Path, client: str, network: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("debug")
    for noisy in ("httpcore", "httpx"):  # the test client's own debug lines, not the server's
        logging.getLogger(noisy).setLevel(logging.INFO)
    try:
        server = start_live_server(proxied)
        with server.client() as http:
            for path in ("/privacy", "/does-not-exist", "/healthz"):
                http.get(path, headers={"X-Forwarded-For": client})
        server.stop()
    finally:
        logs = capsys.readouterr()
        configure_logging("info")
    stored = [r.client_network for r in rows(proxied)]
    assert stored == [network, network, network]
    assert client not in everything_stored(proxied, tmp_path)
    assert "published a new version of the privacy notice" in logs.err  # the server's log was captured
    assert client not in logs.err + logs.out


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(live_server: LiveServer) -> None:
    with live_server.client() as http:
        http.get("/healthz", headers={"X-Forwarded-For": CLIENT_V4})
    live_server.stop()
    assert [r.client_network for r in rows(live_server.system)] == ["127.0.0.0"]


@pytest.mark.promise("WEB-7")
def test_web_7_log_rows_cannot_be_joined_with_other_personal_data() -> None:
    declaration = store_of(access_log)
    assert declaration is not None
    assert declaration.subject_column is None
    assert not access_log.foreign_keys
    assert {c.name for c in access_log.columns} == {
        "id",
        "at",
        "method",
        "path",
        "status",
        "bytes",
        "referrer",
        "user_agent",
        "client_network",
    }


@pytest.mark.promise("WEB-7", "R-11")
def test_web_7_log_rows_are_swept_after_seven_days_and_kept_before(live_server: LiveServer, clock: FakeClock) -> None:
    with live_server.client() as http:
        http.get("/healthz")
        clock.advance(timedelta(days=2))
        http.get("/healthz")
    live_server.stop()
    system = live_server.system
    assert len(rows(system)) == 2

    clock.advance(timedelta(days=6, hours=23))  # first row 8d23h old, second 6d23h
    [result] = [r for r in system.sweep() if r.store == "access_log"]
    assert result.removed == 1
    assert [r.at for r in rows(system)] == [clock.now() - timedelta(days=6, hours=23)]

    clock.advance(timedelta(hours=2))
    system.sweep()
    assert rows(system) == []
