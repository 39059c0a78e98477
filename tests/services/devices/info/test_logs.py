"""The information services never log a MAC address, a number, a password, a city or a birth date in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from privateline.app.config import Settings
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone
from tests.services.devices.info.conftest import FakeOpenMeteo, Handset


@pytest.fixture
def settings(tmp_path: Path, database_url: str, open_meteo: FakeOpenMeteo) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        sweep_interval_seconds=3600,
        weather_provider="open-meteo",
        weather_forecast_url=open_meteo.forecast_url,
        weather_geocoding_url=open_meteo.geocoding_url,
        weather_timeout_seconds=5,
    )


@pytest.mark.promise("DEV-6")
def test_no_log_line_names_the_device_the_city_or_the_birth_date(
    live_server: LiveServer, open_meteo: FakeOpenMeteo, make_phone: MakePhone
) -> None:
    phone = make_phone()
    open_meteo.places["wuppertal"] = {"name": "Wuppertal", "latitude": 51.25627, "longitude": 7.14816}
    with capture_logs() as logs, live_server.client() as client:
        handset = Handset(client, phone.mac, lang="2")
        handset.submit(handset.open("/info/city.jsp"), city="Wuppertal")
        handset.submit(handset.open("/info/birthdate.jsp"), day="17", month="8", year="1966")
        open_meteo.override["/v1/forecast"] = lambda _query: (500, b"down")
        handset.open("/info/weather.jsp")  # logs the failing weather service
        handset.open("/info/menu.jsp", "tz=east")  # logs the refused parameter
        handset.open("/info/menu.jsp", "Wuppertal=%01")  # a parameter name chosen by the client
        client.get("/device/v1/info/weather", params={"mac": phone.mac, "tz": "60"}, headers=phone.basic())
        # Refused sign-ins log nothing at all: a line would name the number tried.
        client.get("/device/v1/info/profile")
        client.get("/device/v1/info/profile", headers=phone.basic("a-guessed-pw"))
        client.get("/device/v1/info/profile", params={"mac": "7C2F80FFFFFE"}, headers=phone.basic())
    assert [(entry["event"], entry.get("parameter")) for entry in logs] == [
        ("weather forecast unavailable", None),
        ("handset request refused", "tz"),
        ("handset request refused", "other"),
        ("weather forecast unavailable", None),
    ]
    logged = repr(logs)
    for secret in (
        phone.mac,
        phone.mac.lower(),
        "7C:2F:80",
        "7C2F80FFFFFE",
        phone.number,
        phone.password,
        "a-guessed-pw",
        "Wuppertal",
        "1966",
        "17.08",
        "east",
    ):
        assert secret not in logged
