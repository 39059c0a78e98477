"""DEV-6 through the JSON API under /device/v1/info/: the same profile, weather and biorhythm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from privateline.kernel.clock import FakeClock
from tests.conftest import LiveServer
from tests.services.devices.info.conftest import Phone, add_device, all_profiles, profile_row

PROFILE = "/device/v1/info/profile"


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


@pytest.mark.promise("DEV-6")
def test_the_profile_is_created_changed_and_deleted(
    live_server: LiveServer, clock: FakeClock, client: httpx.Client
) -> None:
    system = live_server.system
    phone = add_device(system)
    created = system.clock.now()

    first = client.get(PROFILE, params={"mac": phone.mac.lower()})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.json() == {
        "city": None,
        "birth_date": None,
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
    }
    assert profile_row(system, phone.id) is not None

    clock.advance(timedelta(minutes=1))
    changed = client.put(PROFILE, params={"mac": phone.mac}, json={"city": " Den   Haag ", "birth_date": "1975-10-31"})
    assert changed.status_code == 200
    assert changed.json()["city"] == "Den Haag"
    assert changed.json()["birth_date"] == "1975-10-31"
    assert changed.json()["updated_at"] == system.clock.now().isoformat()
    row = profile_row(system, phone.id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == ("Den Haag", date(1975, 10, 31))

    # Only the settings named change; null deletes one.
    partly = client.put(PROFILE, params={"mac": phone.mac}, json={"birth_date": None})
    assert (partly.json()["city"], partly.json()["birth_date"]) == ("Den Haag", None)

    deleted = client.delete(PROFILE, params={"mac": phone.mac})
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": True})
    assert profile_row(system, phone.id) is None
    assert client.delete(PROFILE, params={"mac": phone.mac}).json() == {"deleted": False}
    assert profile_row(system, phone.id) is None


@pytest.mark.promise("DEV-6")
def test_a_first_change_creates_the_profile(live_server: LiveServer, client: httpx.Client) -> None:
    phone = add_device(live_server.system)
    answer = client.put(PROFILE, params={"mac": phone.mac}, json={"city": "Gent"})
    assert answer.status_code == 200
    row = profile_row(live_server.system, phone.id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == ("Gent", None)


def test_weather_and_biorhythm(live_server: LiveServer, client: httpx.Client) -> None:
    phone = add_device(live_server.system)
    assert client.get("/device/v1/info/weather", params={"mac": phone.mac}).json() == {
        "error": "no city is set in the profile"
    }
    assert client.get("/device/v1/info/biorhythm", params={"mac": phone.mac}).status_code == 409
    client.put(PROFILE, params={"mac": phone.mac}, json={"city": "Berlin", "birth_date": "1980-03-02"})

    weather = client.get("/device/v1/info/weather", params={"mac": phone.mac, "lang": "2", "tz": "60"}).json()
    assert weather["city"] == "Berlin"
    assert weather["synthetic"] is True  # the offline provider's demo data
    assert [d["date"] for d in weather["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]

    bio = client.get("/device/v1/info/biorhythm", params={"mac": phone.mac, "days": "2"}).json()
    assert bio["birth_date"] == "1980-03-02"
    assert bio["days"][0] == {
        "date": "2026-03-01",
        "days_alive": 16800,
        "physical": 0.3984,
        "emotional": 0.0,
        "intellectual": 0.5406,
    }
    assert len(bio["days"]) == 2


def test_unknown_city(live_server: LiveServer, client: httpx.Client) -> None:
    phone = add_device(live_server.system)
    client.put(PROFILE, params={"mac": phone.mac}, json={"city": "4711"})
    answer = client.get("/device/v1/info/weather", params={"mac": phone.mac})
    assert (answer.status_code, answer.json()) == (422, {"error": "a city name has at least one letter"})


@pytest.mark.promise("DEV-6")
@pytest.mark.parametrize("switch", ["information services off", "out of service"])
def test_a_switched_off_device_gets_no_profile(live_server: LiveServer, client: httpx.Client, switch: str) -> None:
    phone = add_device(
        live_server.system, info_on=switch != "information services off", in_service=switch != "out of service"
    )
    params = {"mac": phone.mac}
    answers = [
        client.get(PROFILE, params=params),
        client.put(PROFILE, params=params, json={"city": "Berlin"}),
        client.delete(PROFILE, params=params),
        client.get("/device/v1/info/weather", params=params),
        client.get("/device/v1/info/biorhythm", params=params),
    ]
    assert {(a.status_code, a.json()["error"]) for a in answers} == {
        (403, "the information services are switched off for this device")
    }
    assert all_profiles(live_server.system) == []


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "reason"),
    [
        ("GET", PROFILE, {}, None, 400, "parameter 'mac' is missing"),
        ("GET", PROFILE, {"mac": "xyz"}, None, 400, "parameter 'mac' is not a MAC address"),
        ("GET", PROFILE, {"mac": "7C2F80FFFFFE"}, None, 404, "no device with this MAC address"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b"", 400, "invalid profile change"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b"[1, 2]", 400, "invalid profile change"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"city": 5}', 400, "invalid profile change: city"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"nickname": "x"}', 400, "invalid profile change: nickname"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"birth_date": "1980-02-30"}', 400, "invalid profile change"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"city": "' + b"x" * 81 + b'"}', 400, "invalid profile change"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"birth_date": "2030-01-01"}', 422, "a birth date lies between"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"city": "Ber\\u0000lin"}', 422, "printable characters"),
        ("PUT", PROFILE, {"mac": "{mac}"}, b'{"city": "' + b"x" * 5000 + b'"}', 413, "at most 4096 bytes"),
        ("GET", "/device/v1/info/weather", {"mac": "{mac}", "lang": "!!"}, None, 400, "parameter 'lang'"),
        ("GET", "/device/v1/info/weather", {"mac": "{mac}", "tz": "x"}, None, 400, "parameter 'tz'"),
        ("GET", "/device/v1/info/biorhythm", {"mac": "{mac}", "days": "0"}, None, 400, "parameter 'days'"),
        ("GET", "/device/v1/info/biorhythm", {"mac": "{mac}", "days": "many"}, None, 400, "parameter 'days'"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    live_server: LiveServer,
    client: httpx.Client,
    method: str,
    path: str,
    params: dict[str, str],
    body: bytes | None,
    status: int,
    reason: str,
) -> None:
    phone: Phone = add_device(live_server.system)
    filled = {key: value.format(mac=phone.mac) for key, value in params.items()}
    answer = client.request(
        method, path, params=filled, content=body, headers={"Content-Type": "application/json"} if body else {}
    )
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    row = profile_row(live_server.system, phone.id)
    assert row is None or (row["city"], row["birth_date"]) == (None, None)
