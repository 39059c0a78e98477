"""Weather providers (being built)."""

from __future__ import annotations

from typing import Protocol


class WeatherProvider(Protocol):
    pass


class OfflineWeather:
    pass


class HttpWeather:
    def __init__(self, forecast_url: str, geocoding_url: str, timeout: float) -> None:
        self.forecast_url = forecast_url
        self.geocoding_url = geocoding_url
        self.timeout = timeout
