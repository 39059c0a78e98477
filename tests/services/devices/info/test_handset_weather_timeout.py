"""A weather service that never answers: the provider gives up after its timeout, and the
handset gets a page that says so instead of a server error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from privateline.app.config import Settings
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone
from tests.services.devices.info.conftest import Handset


@pytest.fixture
def settings(tmp_path: Path, database_url: str, silent_server: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        sweep_interval_seconds=3600,
        weather_provider="open-meteo",
        weather_forecast_url=f"{silent_server}/v1/forecast",
        weather_geocoding_url=f"{silent_server}/v1/search",
        weather_timeout_seconds=0.3,
    )


@pytest.mark.promise("DEV-6")
def test_a_weather_service_that_never_answers_gives_a_clear_message(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    phone = make_phone()  # known number and device password: the JSON API signs in with them
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang="3")
        handset.submit(handset.open("/info/city.jsp"), city="Berlin")
        weather = handset.open("/info/weather.jsp")
        ticker = handset.open("/info/request.do")
        api = client.get("/device/v1/info/weather", headers=phone.basic())
    assert weather.status == 200
    assert "The weather forecast is not available right now. Please try again later." in weather.text
    assert "Berlin" in weather.text  # the page still says which city it is about
    assert "Weather: not available" in ticker.text
    assert (api.status_code, api.json()) == (503, {"error": "the weather service did not answer in time"})
