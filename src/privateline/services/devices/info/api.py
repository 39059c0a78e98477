"""The information services as JSON, for apps and newer phones (DEV-6).

`GET    /device/v1/info/profile`               the profile (created with the defaults on first use)
`PUT    /device/v1/info/profile`               change settings: {"city": str|null, "birth_date": "YYYY-MM-DD"|null};
                                               only the keys given change, null deletes a setting
`DELETE /device/v1/info/profile`               delete the profile
`GET    /device/v1/info/weather?lang=..`       the forecast for the profile's city
`GET    /device/v1/info/biorhythm?days=..`     the biorhythm for the profile's birth date

Every route needs the device's own credentials: its number and device password in HTTP
Basic (RFC 7617), checked as `POST /device/v1/checkin` checks them, with the same limits
on failed attempts, counted by this API (`devices.device_auth`, R-12).  The signed-in device is the one whose
profile is used.  A MAC is printed on the device and its box and is no secret, so it
identifies nothing here: `mac` is not needed, and when it is still sent (as the handset
scheme does) it must be the signed-in device's MAC.  The handset pages under `/info/`
stay MAC-based, because real handsets call them that way.  `tz` (minutes east of UTC, as
handsets send it) sets the day the weather and biorhythm start on.

Errors answer `{"error": reason}`: 400 bad parameters or body, 401 not signed in or
number or password wrong (with the `WWW-Authenticate` challenge), 403 services off,
device out of service, a `mac` that is not the signed-in device's, or its data's
processing restricted by its owner (R-7), 409 the setting a service needs is not set,
413 body too large, 422 a value the profile cannot take or a city the weather service
does not know, 429 too many failed sign-ins (with Retry-After), 503 weather service or
database failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from privateline.kernel.clock import Clock
from privateline.services.devices.device_auth import DeviceSignIn, SignInRefusedError
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.info import biorhythm
from privateline.services.devices.info.gigaset import (
    BadParameterError,
    Query,
    parse_lang,
    parse_mac,
    parse_query,
    parse_tz,
)
from privateline.services.devices.info.service import RefusedError, change_profile, profile_for_use, remove_profile
from privateline.services.devices.info.weather import UnknownCity, WeatherProvider, WeatherUnavailable
from privateline.services.devices.profiles import MAX_CITY, InfoProfile, ProfileError
from privateline.services.devices.records import Device
from privateline.storage.database import Database

log = structlog.get_logger("privateline.info")

PREFIX = "/device/v1/info"
MAX_BODY = 4096
_DAYS = re.compile(r"[0-9]{1,2}")


class ProfileChange(BaseModel):
    """A change of the profile: only the fields present are changed; null deletes a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    city: str | None = Field(default=None, max_length=MAX_CITY)
    birth_date: date | None = None


class ApiError(Exception):
    """An answer other than success: the status and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _profile_json(profile: InfoProfile) -> dict[str, Any]:
    return {
        "city": profile.city,
        "birth_date": None if profile.birth_date is None else profile.birth_date.isoformat(),
        "created_at": profile.created_at.isoformat(),
        "updated_at": profile.updated_at.isoformat(),
    }


def _today(query: Query, now: datetime) -> date:
    return (now + parse_tz(query.last("tz"))).date()


def _own_mac(query: Query, signed_in: Device) -> str:
    """The signed-in device's MAC; a `mac` sent along must be that one (R-12).

    Another MAC is refused without looking it up, so the answer is the same whether a
    device with that MAC exists or not.
    """
    if any(value.strip() for value in query.all("mac")) and parse_mac(query) != signed_in.mac:
        raise ApiError(403, "the MAC address given is not the signed-in device's")
    return signed_in.mac


class InfoApi:
    def __init__(
        self, database: Database, clock: Clock, weather: WeatherProvider, gate: DeviceGate, sign_in: DeviceSignIn
    ) -> None:
        self.database = database
        self.clock = clock
        self.weather = weather
        self.gate = gate  # asked before every use of a profile
        self.sign_in = sign_in  # the device's own credentials on every route

    def routes(self) -> list[tuple[str, str, Callable[[Request], Any]]]:
        return [
            (f"{PREFIX}/profile", "GET", self.get_profile),
            (f"{PREFIX}/profile", "PUT", self.put_profile),
            (f"{PREFIX}/profile", "DELETE", self.delete_profile),
            (f"{PREFIX}/weather", "GET", self.get_weather),
            (f"{PREFIX}/biorhythm", "GET", self.get_biorhythm),
        ]

    def _signed_in(self, request: Request) -> Device | Response:
        """The signed-in device, or the answer refusing the request (nothing else is read before)."""
        try:
            return self.sign_in.device(request)
        except SignInRefusedError as exc:
            return _error(exc.status, exc.reason, exc.headers)
        except SQLAlchemyError as exc:
            log.error("information service failed", interface="json", error=type(exc).__name__)
            return _error(503, "the service is busy; try again later")

    def _answer(
        self, request: Request, work: Callable[[Query, str], dict[str, Any]], signed_in: Device | None = None
    ) -> Response:
        """Sign the device in (unless done), run `work(query, its mac)` and turn the outcome into a JSON answer."""
        if signed_in is None:
            found = self._signed_in(request)
            if isinstance(found, Response):
                return found
            signed_in = found
        try:
            query = parse_query(request.scope.get("query_string", b""))
            result = work(query, _own_mac(query, signed_in))
        except BadParameterError as exc:
            return _error(400, exc.message)
        except RefusedError as exc:
            if exc.kind == RefusedError.UNKNOWN:  # removed after it signed in
                return _error(404, "this device is not in the factory records")
            if exc.kind == RefusedError.RESTRICTED:
                return _error(
                    403, "the owner restricted the processing of this device's data (Art. 18 GDPR): stored, not used"
                )
            if exc.kind == RefusedError.NOT_ALLOWED:
                return _error(403, "the information services may not use this device's data at the moment")
            return _error(403, "the information services are switched off for this device")
        except ApiError as exc:
            return _error(exc.status, exc.reason)
        except SQLAlchemyError as exc:
            log.error("information service failed", interface="json", error=type(exc).__name__)
            return _error(503, "the service is busy; try again later")
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    def get_profile(self, request: Request) -> Response:
        return self._answer(
            request, lambda _query, mac: _profile_json(profile_for_use(self.database, self.clock, mac, self.gate))
        )

    async def put_profile(self, request: Request) -> Response:
        # Signed in before the body is read: a stranger's body is not even accepted.
        signed_in = await run_in_threadpool(self._signed_in, request)
        if isinstance(signed_in, Response):
            return signed_in
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _error(413, f"a profile change has at most {MAX_BODY} bytes")
        return await run_in_threadpool(
            self._answer, request, lambda _query, mac: self._change(mac, bytes(body)), signed_in
        )

    def _change(self, mac: str, body: bytes) -> dict[str, Any]:
        try:
            change = ProfileChange.model_validate_json(body or b"null")
        except ValidationError as exc:
            raise ApiError(400, _describe(exc)) from None
        changes: dict[str, object] = {name: getattr(change, name) for name in change.model_fields_set}
        try:
            return _profile_json(change_profile(self.database, self.clock, mac, changes, self.gate))
        except ProfileError as exc:
            raise ApiError(422, str(exc)) from None

    def delete_profile(self, request: Request) -> Response:
        return self._answer(request, lambda _query, mac: {"deleted": remove_profile(self.database, mac)})

    def get_weather(self, request: Request) -> Response:
        def work(query: Query, mac: str) -> dict[str, Any]:
            lang = parse_lang(query.last("lang"))
            today = _today(query, self.clock.now())
            profile = profile_for_use(self.database, self.clock, mac, self.gate)
            if profile.city is None:
                raise ApiError(409, "no city is set in the profile")
            try:
                forecast = self.weather.forecast(profile.city, lang, today)
            except UnknownCity as exc:
                raise ApiError(422, exc.reason) from None
            except WeatherUnavailable as exc:
                log.warning("weather forecast unavailable", reason=exc.reason)
                raise ApiError(503, exc.reason) from None
            return {
                "city": forecast.city,
                "synthetic": forecast.synthetic,
                "days": [
                    {"date": d.day.isoformat(), "low": d.low, "high": d.high, "condition": d.condition.value}
                    for d in forecast.days
                ],
            }

        return self._answer(request, work)

    def get_biorhythm(self, request: Request) -> Response:
        def work(query: Query, mac: str) -> dict[str, Any]:
            text = (query.last("days") or str(biorhythm.DISPLAY_DAYS)).strip()
            if not _DAYS.fullmatch(text) or not 1 <= int(text) <= biorhythm.MAX_DAYS:
                raise BadParameterError("days", f"is not a number of days from 1 to {biorhythm.MAX_DAYS}")
            today = _today(query, self.clock.now())
            profile = profile_for_use(self.database, self.clock, mac, self.gate)
            if profile.birth_date is None:
                raise ApiError(409, "no birth date is set in the profile")
            try:
                readings = biorhythm.readings(profile.birth_date, today, int(text))
            except biorhythm.BiorhythmError as exc:
                raise ApiError(409, str(exc)) from None
            return {
                "birth_date": profile.birth_date.isoformat(),
                "days": [
                    {
                        "date": r.day.isoformat(),
                        "days_alive": r.days_alive,
                        **{cycle.value: round(r.value(cycle), 4) for cycle in biorhythm.Cycle},
                    }
                    for r in readings
                ],
            }

        return self._answer(request, work)


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def _describe(exc: ValidationError) -> str:
    reasons = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "body"
        reasons.append(f"{where}: {error['msg']}")
    return "invalid profile change: " + "; ".join(reasons)
