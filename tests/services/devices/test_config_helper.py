"""The configuration helper through real HTTP (DEV-8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from privateline.app.config import Settings
from privateline.app.system import build_system
from privateline.kernel.clock import FakeClock
from privateline.services.devices.reports import device_report
from tests.conftest import LiveServer, start_live_server
from tests.services.devices.conftest import MakePhone, Phone, phone_maker

HOME = "203.0.113.5"
NEIGHBOUR = "198.51.100.7"


@pytest.fixture
def behind_proxy(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[LiveServer]:
    """The app behind a trusted reverse proxy on loopback, so tests can come from any address."""
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, trusted_proxies=["127.0.0.1"])
    system = build_system(settings, clock=clock)
    server = start_live_server(system)
    yield server
    server.stop()
    system.close()


@pytest.fixture
def make_phone(behind_proxy: LiveServer) -> MakePhone:  # the same phones, in this fixture's system
    return phone_maker(behind_proxy.system)


def check_in(server: LiveServer, phone: Phone, source: str, **changes: object) -> None:
    with server.client() as client:
        answer = client.post(
            "/device/v1/checkin",
            json=phone.report(**changes),
            headers={**phone.basic(), "X-Forwarded-For": source},
        )
    assert answer.status_code == 200, answer.text


@pytest.mark.promise("DEV-8")
def test_a_visitor_sees_only_the_phones_of_their_own_connection(
    behind_proxy: LiveServer, make_phone: MakePhone
) -> None:
    kitchen = make_phone(product="Gigaset C430 IP")
    office = make_phone(product="Gigaset N510 IP PRO")
    elsewhere = make_phone(product="Gigaset A690 IP")
    check_in(behind_proxy, kitchen, HOME, internal_ip="192.168.178.23", software_version="42.1")
    check_in(behind_proxy, office, HOME, internal_ip="192.168.178.40", software_version="42.250")
    check_in(behind_proxy, elsewhere, NEIGHBOUR, internal_ip="10.0.0.9")
    with behind_proxy.client() as client:
        page = client.get("/config-helper", headers={"X-Forwarded-For": HOME})
        other = client.get("/config-helper", headers={"X-Forwarded-For": "192.0.2.99"})
    assert page.status_code == 200
    assert 'href="http://192.168.178.23/"' in page.text
    assert 'href="http://192.168.178.40/"' in page.text
    assert "Gigaset N510 IP PRO" in page.text and "42.250" in page.text
    assert "10.0.0.9" not in page.text and "A690" not in page.text
    # Only what DEV-8 names: no number, MAC, serial or device name.
    for hidden in (kitchen.number, kitchen.serial, kitchen.mac, "7C:2F:80", "Kitchen"):
        assert hidden not in page.text
    assert other.status_code == 200
    assert "192.168.178" not in other.text and 'id="none"' in other.text


@pytest.mark.promise("DEV-8")
def test_an_untrusted_forwarded_header_is_ignored(live_server: LiveServer, make_phone: MakePhone) -> None:
    # No trusted proxy configured: the connection's own address counts, whatever the header says,
    # so nobody can claim to be in someone else's network.
    phone = make_phone()
    check_in(live_server, phone, HOME)
    fingerprint = live_server.system.pseudonymizer.pseudonym("public_network", "127.0.0.1")
    with live_server.system.database.reading() as connection:
        stored_fingerprint = connection.execute(sa.select(device_report.c.public_network)).scalar_one()
    assert stored_fingerprint == fingerprint
    with live_server.client() as client:
        page = client.get("/config-helper", headers={"X-Forwarded-For": HOME})
    assert 'href="http://192.168.178.23/"' in page.text  # it is this connection's phone, not HOME's


@pytest.mark.parametrize(
    ("lang", "heading"),
    [
        ("en", "Your phones in this network"),
        ("de", "Ihre Telefone in diesem Netz"),
        ("nl", "Uw telefoons in dit netwerk"),
    ],
)
def test_the_helper_speaks_english_german_and_dutch(live_server: LiveServer, lang: str, heading: str) -> None:
    with live_server.client() as client:
        page = client.get("/config-helper", params={"lang": lang})
    assert f"<h1>{heading}</h1>" in page.text
    assert page.headers["content-language"] == lang
