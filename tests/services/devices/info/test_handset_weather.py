"""The weather pages with the Open-Meteo provider, configured as an operator would, against a
local server that answers like Open-Meteo: forecasts, unknown cities and failing services.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from privateline.app.config import Settings
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone
from tests.services.devices.info.conftest import FakeOpenMeteo, Handset, add_device


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
def test_the_weather_page_shows_the_forecast_for_the_saved_city(
    live_server: LiveServer, open_meteo: FakeOpenMeteo
) -> None:
    phone = add_device(live_server.system)
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang="10", tz="60")
        handset.submit(handset.open("/info/city.jsp"), city="utrecht")
        weather = handset.open("/info/weather.jsp")
        ticker = handset.open("/info/request.do")
    assert weather.status == 200
    assert weather.text.startswith("Utrecht Vandaag Zwaar bewolkt, -2/9 °C Morgen Regen, -1/10 °C")
    assert "Demogegevens" not in weather.text
    assert ticker.text.startswith("Informatiediensten Utrecht Zwaar bewolkt -2/9 °C")
    searches = [query for path, query in open_meteo.requests if path == "/v1/search"]
    assert searches[0]["name"] == ["utrecht"] and searches[0]["language"] == ["nl"]


def test_a_city_the_weather_service_does_not_know(live_server: LiveServer) -> None:
    phone = add_device(live_server.system)
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang="3")
        handset.submit(handset.open("/info/city.jsp"), city="Atlantis")
        weather = handset.open("/info/weather.jsp")
    assert weather.status == 200
    assert "The weather service does not know this city. Please check the spelling." in weather.text
    assert weather.link("Change city").startswith("/info/city.jsp")


@pytest.mark.parametrize(
    ("path", "status", "body", "reason"),
    [
        ("/v1/search", 503, b"busy", "the weather service answered with HTTP status 503"),
        ("/v1/forecast", 200, b'{"daily": null}', "the forecast service sent a malformed answer"),
        ("/v1/forecast", 200, b"<html/>", "the weather service sent a malformed answer"),
    ],
)
def test_a_failing_weather_service_gives_a_clear_message_not_a_server_error(
    live_server: LiveServer,
    open_meteo: FakeOpenMeteo,
    make_phone: MakePhone,
    path: str,
    status: int,
    body: bytes,
    reason: str,
) -> None:
    phone = make_phone()  # known number and device password: the JSON API signs in with them
    open_meteo.override[path] = lambda _query: (status, body)
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang="2")
        handset.submit(handset.open("/info/city.jsp"), city="Berlin")
        weather = handset.open("/info/weather.jsp")
        ticker = handset.open("/info/request.do")
        api = client.get("/device/v1/info/weather", headers=phone.basic())
    assert weather.status == 200
    assert "Die Wettervorhersage ist zurzeit nicht verfügbar." in weather.text
    assert "Wetter: nicht verfügbar" in ticker.text
    assert (api.status_code, api.json()) == (503, {"error": reason})
