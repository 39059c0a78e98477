"""Weather forecasts for the information services (DEV-6).

A handset shows a few days of weather for the city in its owner's profile.  Where the
forecast comes from is the operator's choice (`weather_provider` in the settings):

* `OfflineWeather` needs no network.  Its forecasts are SYNTHETIC DEMO DATA: derived
  from a hash of the normalised city name and the date plus a seasonal curve, so the
  same city and day always get the same plausible-looking weather.  It exists so that a
  fresh installation, the tests and a demo run without internet access; it never
  claims to be a real forecast (`Forecast.synthetic` is True and the pages say so).
* `HttpWeather` asks Open-Meteo (https://open-meteo.com, no API key): first the
  geocoding API turns the city name into coordinates
  (`GET <geocoding_url>?name=<city>&count=1&language=<lang>&format=json`, answer
  `{"results": [{"name", "latitude", "longitude", ...}]}`, no `results` when nothing
  matched), then the forecast API gives daily values
  (`GET <forecast_url>?latitude=..&longitude=..&daily=weather_code,temperature_2m_max,
  temperature_2m_min&timezone=auto&start_date=..&end_date=..`, answer
  `{"daily": {"time": [...], "weather_code": [...], ...}}`).  Both base URLs are
  constructor arguments, so an operator can use a self-hosted Open-Meteo and the tests a
  local server.  Note for the register: with this provider the city the owner typed is
  sent to the geocoding service (only coordinates go to the forecast service).

Failures never reach the handset as a server error: every timeout, connection problem,
HTTP error status and malformed or oversized answer becomes `WeatherUnavailable(reason)`,
a city the service does not know becomes `UnknownCity(reason)`.  Reasons are fixed
English sentences without the city, so they can be logged (see `http.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx

FORECAST_DAYS = 3
# Answers larger than this are not forecasts for one place; reading stops there.
MAX_ANSWER_BYTES = 256 * 1024
# Plausible 2 m air temperatures on Earth; anything outside is a broken answer.
MIN_TEMPERATURE, MAX_TEMPERATURE = -90.0, 60.0
USER_AGENT = "privateline-info/1"


class Condition(StrEnum):
    """What the sky does, coarse enough for one word on a handset display."""

    CLEAR = "clear"
    PARTLY_CLOUDY = "partly_cloudy"
    OVERCAST = "overcast"
    FOG = "fog"
    DRIZZLE = "drizzle"
    RAIN = "rain"
    SHOWERS = "showers"
    SNOW = "snow"
    THUNDERSTORM = "thunderstorm"


def condition_for_wmo(code: int) -> Condition:
    """The condition of a WMO weather interpretation code (WMO 4677, as Open-Meteo reports it)."""
    if code == 0:
        return Condition.CLEAR
    if code in (1, 2):
        return Condition.PARTLY_CLOUDY
    if code == 3:
        return Condition.OVERCAST
    if code in (45, 48):
        return Condition.FOG
    if 51 <= code <= 57:
        return Condition.DRIZZLE
    if 61 <= code <= 67:
        return Condition.RAIN
    if 71 <= code <= 77 or code in (85, 86):
        return Condition.SNOW
    if 80 <= code <= 82:
        return Condition.SHOWERS
    if 95 <= code <= 99:
        return Condition.THUNDERSTORM
    raise ValueError(f"{code} is not a WMO weather code")


@dataclass(frozen=True)
class DayForecast:
    day: date
    low: float  # °C
    high: float  # °C
    condition: Condition


@dataclass(frozen=True)
class Forecast:
    city: str  # the name the provider knows the place by (may differ in spelling from the profile's)
    days: tuple[DayForecast, ...]
    synthetic: bool = False  # True for OfflineWeather's demo data


class WeatherError(Exception):
    """A forecast that cannot be given; `reason` says why in one English sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WeatherUnavailable(WeatherError):  # noqa: N818 - the name the application and the brief use
    """The weather service failed: no answer in time, unreachable, an error status or a broken answer."""


class UnknownCity(WeatherError):  # noqa: N818 - the name the application and the brief use
    """The weather service does not know the city of the profile."""


class WeatherProvider(Protocol):
    def forecast(self, city: str, lang: str, today: date) -> Forecast:
        """`FORECAST_DAYS` days of weather for `city` from `today` (the handset's local date).

        `lang` (en, de, nl) chooses the language of the place name where the provider
        has one.  Raises `UnknownCity` or `WeatherUnavailable`.
        """
        ...


def city_key(city: str) -> str:
    """The comparable form of a city name: Unicode-normalised, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", city).casefold().split())


def _known_city(city: str) -> str:
    key = city_key(city)
    if not any(ch.isalpha() for ch in key):
        raise UnknownCity("a city name has at least one letter")
    return key


class OfflineWeather:
    """Deterministic synthetic weather (demo data, see the module doc); needs no network."""

    # Weighted towards the common conditions, so a demo looks like ordinary weather.
    _CONDITIONS = (
        [Condition.CLEAR] * 3
        + [Condition.PARTLY_CLOUDY] * 4
        + [Condition.OVERCAST] * 3
        + [Condition.FOG, Condition.DRIZZLE, Condition.SHOWERS, Condition.THUNDERSTORM]
        + [Condition.RAIN] * 2
    )

    def forecast(self, city: str, lang: str, today: date) -> Forecast:
        key = _known_city(city)
        # A city's own "climate": a fixed offset from its name, so cities differ.
        climate = _unit(hashlib.blake2b(key.encode(), digest_size=8).digest()) * 12 - 4
        days = tuple(self._day(key, climate, today + timedelta(days=n)) for n in range(FORECAST_DAYS))
        return Forecast(city=" ".join(city.split()), days=days, synthetic=True)

    def _day(self, key: str, climate: float, day: date) -> DayForecast:
        digest = hashlib.blake2b(f"{key}\n{day.isoformat()}".encode(), digest_size=16).digest()
        # Coldest around mid-January, warmest around mid-July (northern hemisphere).
        season = -11 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)
        mean = 9 + season + climate + (_unit(digest[0:4]) - 0.5) * 6
        spread = 4 + _unit(digest[4:8]) * 7
        condition = self._CONDITIONS[int.from_bytes(digest[8:12], "big") % len(self._CONDITIONS)]
        if mean < 1 and condition in (Condition.RAIN, Condition.DRIZZLE, Condition.SHOWERS):
            condition = Condition.SNOW
        return DayForecast(
            day=day, low=round(mean - spread / 2, 1), high=round(mean + spread / 2, 1), condition=condition
        )


def _unit(data: bytes) -> float:
    """Bytes of a hash as a number in [0, 1)."""
    return int.from_bytes(data, "big") / float(1 << (8 * len(data)))


@dataclass(frozen=True)
class _Place:
    name: str
    latitude: float
    longitude: float


class HttpWeather:
    """Forecasts from Open-Meteo's geocoding and forecast JSON APIs (see the module doc).

    `timeout` (seconds) limits each phase of each request (connecting, waiting for and
    reading the answer).  Answers are kept in memory for `cache_seconds` per city,
    language and day, so handsets polling for their idle screen do not each cause two
    requests; the cache holds no device or owner identifier and is never written to disk.
    """

    def __init__(
        self,
        forecast_url: str,
        geocoding_url: str,
        timeout: float,
        *,
        cache_seconds: float = 900.0,
        cache_size: int = 1024,
    ) -> None:
        if not timeout > 0:
            raise ValueError("the weather timeout is a positive number of seconds")
        if cache_seconds < 0 or cache_size < 0:
            raise ValueError("the weather cache's lifetime and size cannot be negative")
        self.forecast_url = _service_url(forecast_url, "forecast")
        self.geocoding_url = _service_url(geocoding_url, "geocoding")
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, date], tuple[float, Forecast]] = OrderedDict()
        self._lock = threading.Lock()

    def forecast(self, city: str, lang: str, today: date) -> Forecast:
        cache_key = (_known_city(city), lang, today)
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        with httpx.Client(
            timeout=httpx.Timeout(self.timeout), follow_redirects=False, headers={"User-Agent": USER_AGENT}
        ) as client:
            place = self._place(client, " ".join(city.split()), lang)
            days = self._days(client, place, today)
        result = Forecast(city=place.name, days=days)
        self._remember(cache_key, result)
        return result

    def _cached(self, key: tuple[str, str, date]) -> Forecast | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            stored_at, forecast = entry
            if time.monotonic() - stored_at > self.cache_seconds:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return forecast

    def _remember(self, key: tuple[str, str, date], forecast: Forecast) -> None:
        if self.cache_seconds == 0 or self.cache_size == 0:
            return
        with self._lock:
            self._cache[key] = (time.monotonic(), forecast)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _place(self, client: httpx.Client, city: str, lang: str) -> _Place:
        answer = _get_json(client, self.geocoding_url, {"name": city, "count": 1, "language": lang, "format": "json"})
        if not isinstance(answer, dict):
            raise WeatherUnavailable("the geocoding service sent a malformed answer")
        results = answer.get("results")
        if results is None or results == []:
            raise UnknownCity("the weather service does not know this city")
        if not isinstance(results, list) or not isinstance(results[0], dict):
            raise WeatherUnavailable("the geocoding service sent a malformed answer")
        first = results[0]
        name = first.get("name")
        latitude = _in_range(first.get("latitude"), -90, 90)
        longitude = _in_range(first.get("longitude"), -180, 180)
        if not isinstance(name, str) or not name.strip() or latitude is None or longitude is None:
            raise WeatherUnavailable("the geocoding service sent a malformed answer")
        return _Place(" ".join(name.split()), latitude, longitude)

    def _days(self, client: httpx.Client, place: _Place, today: date) -> tuple[DayForecast, ...]:
        last = today + timedelta(days=FORECAST_DAYS - 1)
        answer = _get_json(
            client,
            self.forecast_url,
            {
                "latitude": f"{place.latitude:.4f}",
                "longitude": f"{place.longitude:.4f}",
                "daily": "weather_code,temperature_2m_max,temperature_2m_min",
                "timezone": "auto",
                "start_date": today.isoformat(),
                "end_date": last.isoformat(),
            },
        )
        try:
            return _daily_forecast(answer, today, last)
        except (KeyError, TypeError, ValueError):
            raise WeatherUnavailable("the forecast service sent a malformed answer") from None


def _daily_forecast(answer: Any, first: date, last: date) -> tuple[DayForecast, ...]:
    """The days between `first` and `last` of a forecast answer; raises KeyError/TypeError/ValueError."""
    daily = answer["daily"]
    times = daily["time"]
    # Open-Meteo renamed `weathercode` to `weather_code`; older self-hosted versions use the old name.
    codes = daily["weather_code"] if "weather_code" in daily else daily["weathercode"]
    highs, lows = daily["temperature_2m_max"], daily["temperature_2m_min"]
    if not all(isinstance(series, list) for series in (times, codes, highs, lows)):
        raise TypeError("daily series are lists")
    if not len(times) == len(codes) == len(highs) == len(lows):
        raise ValueError("daily series have one value per day")
    days = []
    for stamp, code, high, low in zip(times, codes, highs, lows, strict=True):
        if not isinstance(stamp, str):
            raise TypeError("a day is an ISO date")
        day = date.fromisoformat(stamp)
        if not first <= day <= last:
            continue
        if code is None or high is None or low is None:
            continue  # Open-Meteo sends null where a model has no value for a day
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError("a weather code is an integer")
        highest = _in_range(high, MIN_TEMPERATURE, MAX_TEMPERATURE)
        lowest = _in_range(low, MIN_TEMPERATURE, MAX_TEMPERATURE)
        if highest is None or lowest is None:
            raise ValueError("temperatures are plausible numbers")
        days.append(DayForecast(day=day, low=lowest, high=highest, condition=condition_for_wmo(code)))
    if not days:
        raise ValueError("the answer has no usable day")
    return tuple(sorted(days, key=lambda d: d.day))


def _in_range(value: object, low: float, high: float) -> float | None:
    """`value` as a float if it is a JSON number between `low` and `high`, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def _service_url(url: str, which: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ValueError(f"the weather {which} URL {url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"the weather {which} URL {url!r} is not an absolute http(s) URL")
    return url


def _get_json(client: httpx.Client, url: str, params: dict[str, Any]) -> Any:
    """GET `url` and decode its JSON answer, turning every failure into `WeatherUnavailable`."""
    try:
        with client.stream("GET", url, params=params) as response:
            if response.status_code != 200:
                raise WeatherUnavailable(f"the weather service answered with HTTP status {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise WeatherUnavailable("the weather service sent an answer that is too large")
    except httpx.TimeoutException:
        raise WeatherUnavailable("the weather service did not answer in time") from None
    except httpx.HTTPError:
        raise WeatherUnavailable("the weather service cannot be reached") from None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WeatherUnavailable("the weather service sent a malformed answer") from None
