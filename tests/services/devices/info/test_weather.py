"""Weather providers: synthetic offline data, and Open-Meteo over real HTTP against local servers."""

from __future__ import annotations

import json
import socket
import time
from datetime import date, timedelta

import pytest

from privateline.services.devices.info.weather import (
    FORECAST_DAYS,
    Condition,
    HttpWeather,
    OfflineWeather,
    UnknownCity,
    WeatherProvider,
    WeatherUnavailable,
    condition_for_wmo,
)
from tests.services.devices.info.conftest import FakeOpenMeteo

TODAY = date(2026, 3, 1)


def test_both_providers_are_weather_providers(open_meteo: FakeOpenMeteo) -> None:
    providers: list[WeatherProvider] = [
        OfflineWeather(),
        HttpWeather(forecast_url=open_meteo.forecast_url, geocoding_url=open_meteo.geocoding_url, timeout=5),
    ]
    for provider in providers:
        forecast = provider.forecast("Berlin", "en", TODAY)
        assert [d.day for d in forecast.days] == [TODAY + timedelta(days=n) for n in range(FORECAST_DAYS)]


# -- OfflineWeather ----------------------------------------------------------------------


def test_offline_weather_is_deterministic() -> None:
    first = OfflineWeather().forecast("Utrecht", "nl", TODAY)
    again = OfflineWeather().forecast("Utrecht", "nl", TODAY)
    assert first == again
    assert first.synthetic is True
    assert first.city == "Utrecht"


def test_offline_weather_depends_on_the_normalised_city_and_the_day() -> None:
    weather = OfflineWeather()
    assert weather.forecast("  berlin ", "en", TODAY).days == weather.forecast("BERLIN", "de", TODAY).days
    cities = {weather.forecast(city, "en", TODAY).days for city in ("Berlin", "Hamburg", "Utrecht", "Wien", "Bern")}
    assert len(cities) == 5
    tomorrow = weather.forecast("Berlin", "en", TODAY + timedelta(days=1))
    assert tomorrow.days[0] == weather.forecast("Berlin", "en", TODAY).days[1]


def test_offline_weather_is_plausible_all_year() -> None:
    weather = OfflineWeather()
    for offset in range(0, 365, 5):
        for day in weather.forecast("Bocholt", "en", TODAY + timedelta(days=offset)).days:
            assert -30 < day.low <= day.high < 45
            assert isinstance(day.condition, Condition)


def test_offline_weather_knows_no_city_without_letters() -> None:
    with pytest.raises(UnknownCity):
        OfflineWeather().forecast("12345", "en", TODAY)


# -- HttpWeather against a local Open-Meteo ----------------------------------------------


def _http(open_meteo: FakeOpenMeteo, cache_seconds: float = 900.0) -> HttpWeather:
    return HttpWeather(
        forecast_url=open_meteo.forecast_url,
        geocoding_url=open_meteo.geocoding_url,
        timeout=5,
        cache_seconds=cache_seconds,
    )


def test_http_weather_geocodes_the_city_and_reads_the_daily_forecast(open_meteo: FakeOpenMeteo) -> None:
    forecast = _http(open_meteo).forecast("münchen", "de", TODAY)
    assert forecast.city == "München"
    assert forecast.synthetic is False
    assert [(d.day, d.low, d.high, d.condition) for d in forecast.days] == [
        (TODAY, -1.6, 9.4, Condition.OVERCAST),
        (TODAY + timedelta(days=1), -0.6, 10.4, Condition.RAIN),
        (TODAY + timedelta(days=2), 0.4, 11.4, Condition.CLEAR),
    ]
    (search_path, search), (forecast_path, query) = open_meteo.requests
    assert search_path == "/v1/search"
    assert search["name"] == ["münchen"] and search["language"] == ["de"] and search["count"] == ["1"]
    assert forecast_path == "/v1/forecast"
    assert query["latitude"] == ["48.1374"] and query["longitude"] == ["11.5755"]
    assert query["start_date"] == ["2026-03-01"] and query["end_date"] == ["2026-03-03"]
    assert query["daily"] == ["weather_code,temperature_2m_max,temperature_2m_min"]
    assert "name" not in query  # the city goes to the geocoding service only


def test_http_weather_keeps_answers_for_a_while(open_meteo: FakeOpenMeteo) -> None:
    weather = _http(open_meteo)
    first = weather.forecast("Berlin", "en", TODAY)
    assert weather.forecast(" berlin", "en", TODAY) == first
    assert len(open_meteo.requests) == 2
    weather.forecast("Berlin", "en", TODAY + timedelta(days=1))  # another day is another question
    assert len(open_meteo.requests) == 4


def test_http_weather_without_cache_asks_every_time(open_meteo: FakeOpenMeteo) -> None:
    weather = _http(open_meteo, cache_seconds=0)
    weather.forecast("Berlin", "en", TODAY)
    weather.forecast("Berlin", "en", TODAY)
    assert len(open_meteo.requests) == 4


def test_an_unknown_city_is_reported(open_meteo: FakeOpenMeteo) -> None:
    with pytest.raises(UnknownCity) as raised:
        _http(open_meteo).forecast("Atlantis", "en", TODAY)
    assert "Atlantis" not in raised.value.reason  # reasons are logged; they never name the city
    assert [path for path, _ in open_meteo.requests] == ["/v1/search"]


@pytest.mark.parametrize(
    ("path", "status", "body", "reason"),
    [
        ("/v1/search", 500, b"oops", "answered with HTTP status 500"),
        ("/v1/forecast", 429, b'{"error": true, "reason": "too many"}', "answered with HTTP status 429"),
        ("/v1/search", 200, b"<html>not json</html>", "malformed"),
        ("/v1/search", 200, b'{"results": [{"name": "X"}]}', "malformed"),
        ("/v1/search", 200, b'{"results": "Berlin"}', "malformed"),
        ("/v1/forecast", 200, b'{"daily": {"time": ["2026-03-01"]}}', "malformed"),
        ("/v1/forecast", 200, b"[]", "malformed"),
        ("/v1/forecast", 200, b"\xff\xfe", "malformed"),
        (
            "/v1/forecast",
            200,
            json.dumps(
                {
                    "daily": {
                        "time": ["2026-03-01"],
                        "weather_code": [3],
                        "temperature_2m_max": [999],
                        "temperature_2m_min": [1],
                    }
                }
            ).encode(),
            "malformed",
        ),
        (
            "/v1/forecast",
            200,
            json.dumps(
                {
                    "daily": {
                        "time": ["2026-03-01", "2026-03-02"],
                        "weather_code": [3],
                        "temperature_2m_max": [5, 6],
                        "temperature_2m_min": [1, 2],
                    }
                }
            ).encode(),
            "malformed",
        ),
        (
            "/v1/forecast",
            200,
            json.dumps(
                {
                    "daily": {
                        "time": ["2026-03-01"],
                        "weather_code": [12345],
                        "temperature_2m_max": [5],
                        "temperature_2m_min": [1],
                    }
                }
            ).encode(),
            "malformed",
        ),
        ("/v1/forecast", 200, b'{"pad": "' + b"x" * 300_000 + b'"}', "too large"),
    ],
)
def test_failures_of_the_service_become_weather_unavailable(
    open_meteo: FakeOpenMeteo, path: str, status: int, body: bytes, reason: str
) -> None:
    open_meteo.override[path] = lambda _query: (status, body)
    with pytest.raises(WeatherUnavailable) as raised:
        _http(open_meteo).forecast("Berlin", "en", TODAY)
    assert reason in raised.value.reason


def test_days_without_values_are_left_out_and_the_old_field_name_is_read(open_meteo: FakeOpenMeteo) -> None:
    daily = {
        "time": ["2026-03-01", "2026-03-02", "2026-03-03"],
        "weathercode": [61, None, 0],
        "temperature_2m_max": [4.0, None, 7],
        "temperature_2m_min": [0.5, None, -2],
    }
    open_meteo.override["/v1/forecast"] = lambda _q: (200, json.dumps({"daily": daily}).encode())
    days = _http(open_meteo).forecast("Berlin", "en", TODAY).days
    assert [(d.day, d.condition, d.low, d.high) for d in days] == [
        (TODAY, Condition.RAIN, 0.5, 4.0),
        (TODAY + timedelta(days=2), Condition.CLEAR, -2.0, 7.0),
    ]


def test_a_service_that_never_answers_times_out(silent_server: str) -> None:
    weather = HttpWeather(
        forecast_url=f"{silent_server}/v1/forecast", geocoding_url=f"{silent_server}/v1/search", timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(WeatherUnavailable) as raised:
        weather.forecast("Berlin", "en", TODAY)
    assert raised.value.reason == "the weather service did not answer in time"
    assert time.monotonic() - started < 5


def test_a_service_that_cannot_be_reached() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        unused = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: connections are refused
    weather = HttpWeather(forecast_url=f"{unused}/f", geocoding_url=f"{unused}/s", timeout=2)
    with pytest.raises(WeatherUnavailable) as raised:
        weather.forecast("Berlin", "en", TODAY)
    assert raised.value.reason == "the weather service cannot be reached"


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/v1/forecast", "/v1/forecast"])
def test_unusable_urls_are_refused_when_the_provider_is_made(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        HttpWeather(forecast_url=url, geocoding_url="https://geocoding-api.open-meteo.com/v1/search", timeout=5)


def test_the_timeout_is_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        HttpWeather(forecast_url="https://a.example/f", geocoding_url="https://a.example/s", timeout=0)


@pytest.mark.parametrize(
    ("code", "condition"),
    [
        (0, Condition.CLEAR),
        (2, Condition.PARTLY_CLOUDY),
        (3, Condition.OVERCAST),
        (48, Condition.FOG),
        (55, Condition.DRIZZLE),
        (65, Condition.RAIN),
        (75, Condition.SNOW),
        (86, Condition.SNOW),
        (81, Condition.SHOWERS),
        (99, Condition.THUNDERSTORM),
    ],
)
def test_wmo_codes(code: int, condition: Condition) -> None:
    assert condition_for_wmo(code) == condition


def test_an_unknown_wmo_code_is_an_error() -> None:
    with pytest.raises(ValueError, match="WMO"):
        condition_for_wmo(4)
