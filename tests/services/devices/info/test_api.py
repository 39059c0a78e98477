"""DEV-6 through the JSON API under /device/v1/info/: the same profile, weather and biorhythm.

Every call signs in with the device's number and device password (HTTP Basic); how that
protects the device's data is proven in `test_api_sign_in.py` (R-12).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from privateline.kernel.clock import FakeClock
from privateline.services.devices.records import Service, set_in_service
from privateline.services.devices.switches import switch_service
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, Phone, stored
from tests.services.devices.info.conftest import all_profiles, profile_row

PROFILE = "/device/v1/info/profile"


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


@pytest.mark.promise("DEV-6")
def test_the_profile_is_created_changed_and_deleted(
    live_server: LiveServer, clock: FakeClock, client: httpx.Client, make_phone: MakePhone
) -> None:
    system = live_server.system
    phone = make_phone()
    device_id = stored(system, phone).id
    created = system.clock.now()

    # `mac` is not needed; sent along (in any usual spelling) it must be the device's own.
    first = client.get(PROFILE, params={"mac": phone.mac.lower()}, headers=phone.basic())
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.json() == {
        "city": None,
        "birth_date": None,
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
    }
    assert profile_row(system, device_id) is not None

    clock.advance(timedelta(minutes=1))
    changed = client.put(PROFILE, headers=phone.basic(), json={"city": " Den   Haag ", "birth_date": "1975-10-31"})
    assert changed.status_code == 200
    assert changed.json()["city"] == "Den Haag"
    assert changed.json()["birth_date"] == "1975-10-31"
    assert changed.json()["updated_at"] == system.clock.now().isoformat()
    row = profile_row(system, device_id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == ("Den Haag", date(1975, 10, 31))

    # Only the settings named change; null deletes one.
    partly = client.put(PROFILE, headers=phone.basic(), json={"birth_date": None})
    assert (partly.json()["city"], partly.json()["birth_date"]) == ("Den Haag", None)

    deleted = client.delete(PROFILE, headers=phone.basic())
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": True})
    assert profile_row(system, device_id) is None
    assert client.delete(PROFILE, headers=phone.basic()).json() == {"deleted": False}
    assert profile_row(system, device_id) is None


@pytest.mark.promise("DEV-6")
def test_a_first_change_creates_the_profile(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone
) -> None:
    phone = make_phone()
    answer = client.put(PROFILE, headers=phone.basic(), json={"city": "Gent"})
    assert answer.status_code == 200
    row = profile_row(live_server.system, stored(live_server.system, phone).id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == ("Gent", None)


def test_weather_and_biorhythm(client: httpx.Client, make_phone: MakePhone) -> None:
    phone = make_phone()
    signed_in = phone.basic()
    assert client.get("/device/v1/info/weather", headers=signed_in).json() == {"error": "no city is set in the profile"}
    assert client.get("/device/v1/info/biorhythm", headers=signed_in).status_code == 409
    client.put(PROFILE, headers=signed_in, json={"city": "Berlin", "birth_date": "1980-03-02"})

    weather = client.get("/device/v1/info/weather", params={"lang": "2", "tz": "60"}, headers=signed_in).json()
    assert weather["city"] == "Berlin"
    assert weather["synthetic"] is True  # the offline provider's demo data
    assert [d["date"] for d in weather["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]

    bio = client.get("/device/v1/info/biorhythm", params={"mac": phone.mac, "days": "2"}, headers=signed_in).json()
    assert bio["birth_date"] == "1980-03-02"
    assert bio["days"][0] == {
        "date": "2026-03-01",
        "days_alive": 16800,
        "physical": 0.3984,
        "emotional": 0.0,
        "intellectual": 0.5406,
    }
    assert len(bio["days"]) == 2


def test_unknown_city(client: httpx.Client, make_phone: MakePhone) -> None:
    phone = make_phone()
    client.put(PROFILE, headers=phone.basic(), json={"city": "4711"})
    answer = client.get("/device/v1/info/weather", headers=phone.basic())
    assert (answer.status_code, answer.json()) == (422, {"error": "a city name has at least one letter"})


def _switched(live_server: LiveServer, phone: Phone, switch: str) -> None:
    system = live_server.system
    record = stored(system, phone)
    with system.database.unit_of_work() as uow:
        if switch == "information services off":
            switch_service(uow.connection, system.pseudonymizer, record, Service.INFO, False, system.clock.now())
        else:
            set_in_service(uow.connection, record.id, False)
        uow.commit()


@pytest.mark.promise("DEV-6")
@pytest.mark.parametrize(
    ("switch", "reason"),
    [
        ("information services off", "the information services are switched off for this device"),
        ("out of service", "this device has been taken out of service"),
    ],
)
def test_a_switched_off_device_gets_no_profile(
    live_server: LiveServer, client: httpx.Client, make_phone: MakePhone, switch: str, reason: str
) -> None:
    phone = make_phone()
    _switched(live_server, phone, switch)
    signed_in = phone.basic()
    answers = [
        client.get(PROFILE, headers=signed_in),
        client.put(PROFILE, headers=signed_in, json={"city": "Berlin"}),
        client.delete(PROFILE, headers=signed_in),
        client.get("/device/v1/info/weather", headers=signed_in),
        client.get("/device/v1/info/biorhythm", headers=signed_in),
    ]
    assert {(a.status_code, a.json()["error"]) for a in answers} == {(403, reason)}
    assert all_profiles(live_server.system) == []


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "reason"),
    [
        ("GET", PROFILE, {"mac": "xyz"}, None, 400, "parameter 'mac' is not a MAC address"),
        ("GET", PROFILE, {"mac": "7C2F80FFFFFE"}, None, 403, "is not the signed-in device's"),
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
    make_phone: MakePhone,
    method: str,
    path: str,
    params: dict[str, str],
    body: bytes | None,
    status: int,
    reason: str,
) -> None:
    phone = make_phone()
    filled = {key: value.format(mac=phone.mac) for key, value in params.items()}
    headers = phone.basic() | ({"Content-Type": "application/json"} if body else {})
    answer = client.request(method, path, params=filled, content=body, headers=headers)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    row = profile_row(live_server.system, stored(live_server.system, phone).id)
    assert row is None or (row["city"], row["birth_date"]) == (None, None)
