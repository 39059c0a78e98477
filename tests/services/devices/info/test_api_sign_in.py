"""The JSON API of the information services signs the device in with its own credentials (R-12).

A MAC is printed on the device and its box, so it cannot protect a device's city and
birth date: every route under /device/v1/info/ needs the device's number and device
password (HTTP Basic, RFC 7617), and the signed-in device is the one whose profile is
used.  Through the real server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from privateline.app.config import Settings
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.services.devices.device_api import FAILURES_PER_NUMBER, FAILURES_PER_SOURCE
from privateline.services.devices.records import set_in_service
from tests.conftest import LiveServer, start_live_server
from tests.services.devices.conftest import MakePhone, Phone, phone_maker, stored
from tests.services.devices.info.conftest import all_profiles, profile_row

PROFILE = "/device/v1/info/profile"
WEATHER = "/device/v1/info/weather"
BIORHYTHM = "/device/v1/info/biorhythm"
# Every route of the JSON API: method, path, body.
ROUTES = [
    ("GET", PROFILE, None),
    ("PUT", PROFILE, b'{"city": "Berlin", "birth_date": "1980-03-02"}'),
    ("DELETE", PROFILE, None),
    ("GET", WEATHER, None),
    ("GET", BIORHYTHM, None),
]
CHALLENGE = 'Basic realm="privateline devices", charset="UTF-8"'
WRONG = "number or device password is wrong"
NOT_ITS_MAC = "the MAC address given is not the signed-in device's"
NO_SUCH_MAC = "7C2F80FFFFFE"  # no device has it


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


def _basic(number: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{number}:{password}".encode()).decode()}


def _call(
    client: httpx.Client, method: str, path: str, body: bytes | None, headers: dict[str, str], **params: str
) -> httpx.Response:
    sent = dict(headers) | ({"Content-Type": "application/json"} if body else {})
    return client.request(method, path, params=params, content=body, headers=sent)


def _with_profile(client: httpx.Client, phone: Phone, city: str, birth_date: str) -> None:
    answer = client.put(PROFILE, headers=phone.basic(), json={"city": city, "birth_date": birth_date})
    assert answer.status_code == 200, answer.text


def _profile(system: System, phone: Phone) -> dict[str, Any] | None:
    return profile_row(system, stored(system, phone).id)


def _assert_refused_sign_in(answer: httpx.Response, reason: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == CHALLENGE  # RFC 7617 §2: the challenge
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"error": reason}


@pytest.mark.promise("R-12")
def test_without_credentials_every_route_is_refused_and_nothing_is_read_or_created(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone
) -> None:
    system = live_server.system
    owner, fresh = make_phone(), make_phone()
    _with_profile(client, owner, "Utrecht", "1961-08-13")
    before = _profile(system, owner)
    unreadable = [
        {},
        {"Authorization": "Bearer 0123456789"},
        {"Authorization": "Basic !!not-base64!!"},
        {"Authorization": "Basic " + base64.b64encode(owner.number.encode()).decode()},  # no ':'
    ]
    for method, path, body in ROUTES:
        for headers in unreadable:
            for phone in (owner, fresh):  # knowing the MAC is not enough
                answer = _call(client, method, path, body, headers, mac=phone.mac)
                _assert_refused_sign_in(answer, "sign in with the device's number and password (HTTP Basic)")
                assert "Utrecht" not in answer.text and "1961" not in answer.text
    assert _profile(system, owner) == before
    assert _profile(system, fresh) is None
    assert len(all_profiles(system)) == 1
    # Asking without credentials is not a failed guess (as for the check-in): the owner still signs in.
    assert client.get(PROFILE, headers=owner.basic()).json()["city"] == "Utrecht"


@pytest.mark.promise("R-12")
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_wrong_password_and_an_unknown_number_get_the_same_answer(
    live_server: LiveServer,
    client: httpx.Client,
    make_phone: MakePhone,
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    system = live_server.system
    phone, other = make_phone(), make_phone()
    _with_profile(client, phone, "Utrecht", "1961-08-13")
    before = _profile(system, phone)
    answers = [
        _call(client, method, path, body, phone.basic("not-the-password"), mac=phone.mac),
        _call(client, method, path, body, phone.basic(other.password)),  # another phone's password
        _call(client, method, path, body, _basic("1999", phone.password)),  # no such number
        _call(client, method, path, body, _basic("", phone.password)),
    ]
    for answer in answers:
        _assert_refused_sign_in(answer, WRONG)
        assert "Utrecht" not in answer.text
    assert len({(a.status_code, a.content, a.headers["www-authenticate"]) for a in answers}) == 1
    assert _profile(system, phone) == before
    assert _profile(system, other) is None


@pytest.mark.promise("R-12")
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_another_devices_mac_is_refused_and_nothing_of_that_device_is_read(
    live_server: LiveServer,
    client: httpx.Client,
    make_phone: MakePhone,
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    system = live_server.system
    intruder, victim = make_phone(), make_phone()
    _with_profile(client, victim, "Utrecht", "1961-08-13")
    before = _profile(system, victim)

    spelt = ":".join(victim.mac[i : i + 2] for i in range(0, 12, 2)).lower()  # any usual spelling
    answer = _call(client, method, path, body, intruder.basic(), mac=spelt)
    assert (answer.status_code, answer.json()) == (403, {"error": NOT_ITS_MAC})
    assert "Utrecht" not in answer.text and "1961" not in answer.text
    # A MAC no device has gets the very same answer: the refusal tells nothing about who exists.
    unknown = _call(client, method, path, body, intruder.basic(), mac=NO_SUCH_MAC)
    assert (unknown.status_code, unknown.content) == (answer.status_code, answer.content)
    # Nothing of the victim was read, changed or deleted, and the intruder got no profile either.
    assert _profile(system, victim) == before
    assert _profile(system, intruder) is None


@pytest.mark.promise("R-12")
def test_repeated_wrong_passwords_for_a_number_are_refused_with_429_until_the_window_passes(
    live_server: LiveServer, client: httpx.Client, clock: FakeClock, make_phone: MakePhone
) -> None:
    system = live_server.system
    phone, neighbour = make_phone(), make_phone()
    _with_profile(client, phone, "Utrecht", "1961-08-13")
    allowed, window = FAILURES_PER_NUMBER
    for _ in range(allowed):
        _assert_refused_sign_in(client.get(PROFILE, headers=phone.basic("guess")), WRONG)

    # Blocked: even the right password is not tried, and a change is not made.
    for method, path, body in ROUTES:
        blocked = _call(client, method, path, body, phone.basic())
        assert (blocked.status_code, blocked.json()) == (429, {"error": "too many failed sign-ins; try again later"})
        assert 1 <= int(blocked.headers["retry-after"]) <= int(window.total_seconds()) + 1  # RFC 6585 §4
        assert "Utrecht" not in blocked.text
    kept = _profile(system, phone)
    assert kept is not None and kept["city"] == "Utrecht"
    # Another number from the same source is not blocked (that source failed fewer times than it may).
    assert client.get(PROFILE, headers=neighbour.basic()).status_code == 200

    clock.advance(window)
    assert client.get(PROFILE, headers=phone.basic()).json()["city"] == "Utrecht"


@pytest.mark.promise("R-12")
def test_repeated_failures_from_one_source_are_refused_and_a_forged_forwarded_address_does_not_help(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone
) -> None:
    phone = make_phone()
    allowed, _window = FAILURES_PER_SOURCE
    for n in range(allowed):
        # A different number each time (below the per-number limit) and a made-up X-Forwarded-For,
        # which is not believed: no trusted proxy is configured.
        headers = _basic(f"19{n:02d}", "guess") | {"X-Forwarded-For": f"198.51.100.{n + 1}"}
        _assert_refused_sign_in(client.get(WEATHER, headers=headers), WRONG)
    blocked = client.get(PROFILE, headers=phone.basic() | {"X-Forwarded-For": "203.0.113.99"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert _profile(live_server.system, phone) is None


@pytest.mark.promise("R-12")
def test_behind_a_trusted_proxy_failures_count_for_the_forwarded_source(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", database_url=database_url, sweep_interval_seconds=3600, trusted_proxies=["127.0.0.1"]
    )
    system = build_system(settings, clock=clock)
    server = start_live_server(system)
    try:
        phone = phone_maker(system)()
        allowed, _window = FAILURES_PER_SOURCE
        with server.client() as client:
            guesser = {"X-Forwarded-For": "203.0.113.7"}
            for n in range(allowed):
                _assert_refused_sign_in(client.get(PROFILE, headers=_basic(f"19{n:02d}", "guess") | guesser), WRONG)
            assert client.get(PROFILE, headers=phone.basic() | guesser).status_code == 429
            # The phone at home, behind the same proxy, is not punished for the guesser.
            home = client.get(PROFILE, headers=phone.basic() | {"X-Forwarded-For": "198.51.100.20"})
            assert home.status_code == 200
    finally:
        server.stop()
        system.close()


@pytest.mark.promise("R-12")
def test_a_device_out_of_service_is_refused_and_a_stranger_is_not_told(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone
) -> None:
    system = live_server.system
    phone = make_phone()
    with system.database.unit_of_work() as uow:
        set_in_service(uow.connection, stored(system, phone).id, False)
        uow.commit()
    for method, path, body in ROUTES:
        answer = _call(client, method, path, body, phone.basic())
        assert (answer.status_code, answer.json()) == (403, {"error": "this device has been taken out of service"})
        # Without the password the answer is the usual one: nothing about the device's state.
        _assert_refused_sign_in(_call(client, method, path, body, phone.basic("guess")), WRONG)
    assert all_profiles(system) == []


@pytest.mark.promise("R-12", "DEV-6")
def test_the_profile_of_the_signed_in_device_is_the_one_used(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone
) -> None:
    system = live_server.system
    first, second = make_phone(), make_phone()
    _with_profile(client, first, "Berlin", "1980-03-02")
    assert client.put(PROFILE, params={"mac": second.mac}, headers=second.basic(), json={"city": "München"}).is_success

    assert client.get(PROFILE, headers=first.basic()).json()["city"] == "Berlin"
    assert client.get(PROFILE, headers=second.basic()).json()["city"] == "München"
    assert client.get(WEATHER, headers=first.basic()).json()["city"] == "Berlin"
    assert client.get(WEATHER, headers=second.basic()).json()["city"] == "München"
    assert client.get(BIORHYTHM, headers=first.basic()).json()["birth_date"] == "1980-03-02"
    assert client.get(BIORHYTHM, headers=second.basic()).status_code == 409  # its own profile has no birth date
    first_row, second_row = _profile(system, first), _profile(system, second)
    assert first_row is not None and second_row is not None
    assert (first_row["city"], first_row["birth_date"]) == ("Berlin", date(1980, 3, 2))
    assert (second_row["city"], second_row["birth_date"]) == ("München", None)

    assert client.delete(PROFILE, headers=second.basic()).json() == {"deleted": True}
    assert _profile(system, second) is None
    assert _profile(system, first) == first_row
