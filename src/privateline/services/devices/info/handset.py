"""The Info Center pages a handset fetches (DEV-6), in the Gigaset scheme (see `gigaset.py`).

`GET /info/menu.jsp`        the Info Center menu: weather, biorhythm, settings
`GET /info/request.do`      the idle-screen ticker / "Info Center" screensaver: today's
                            weather and biorhythm in a few short lines, reloaded every
                            half hour
`GET /info/weather.jsp`     three days of weather for the profile's city
`GET /info/biorhythm.jsp`   three days of biorhythm for the profile's birth date
`GET /info/settings.jsp`    the profile: city, birth date, delete
`GET /info/city.jsp`        a form for the city; with `city=` it saves it (empty: deletes it)
`GET /info/birthdate.jsp`   a form for the birth date; with `day=&month=&year=` it saves it
                            (all three empty: deletes it)
`GET /info/delete.jsp`      asks; with `confirm=yes` it deletes the whole profile

Handsets only send GET requests (XHTML-GP has no POST), so saving and deleting happen on
GET; the pages that change data are reached only from the forms and links of these
pages.  The first page that shows profile data creates the default profile (first use,
DEV-6); the delete pages and the refusals never create or read one.

Every answer is an XHTML-GP page, also for errors, with a status that says what happened:
400 for a request no handset sends (with the parameter's name), 404 for an unknown base
station, 403 when the information services are off, the device is out of service or its
owner restricted the processing of its data (Art. 18, R-7: the data is stored, not used), 503
when the database fails.  A weather service that fails does not fail the page: the page
says that the forecast is not available (200).  Log lines name pages, parameters and
failure kinds, never a MAC, a city or a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from babel.dates import format_date, format_skeleton
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from privateline.kernel.clock import Clock
from privateline.register.i18n import package_translations
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.info import biorhythm
from privateline.services.devices.info.gigaset import (
    CONTENT_TYPE,
    DEFAULT_LANGUAGE,
    KNOWN_PARAMETERS,
    MAX_INPUT_LENGTH,
    PACKAGE,
    SCREENSAVER_EXPIRES,
    BadParameterError,
    HandsetRequest,
    Query,
    Renderer,
    fit,
    latin1,
    parse_lang,
    parse_query,
)
from privateline.services.devices.info.service import (
    RefusedError,
    change_profile,
    check_device,
    profile_for_use,
    remove_profile,
)
from privateline.services.devices.info.weather import (
    Condition,
    UnknownCity,
    WeatherProvider,
    WeatherUnavailable,
)
from privateline.services.devices.profiles import MAX_CITY, InfoProfile, ProfileError
from privateline.storage.database import Database

log = structlog.get_logger("privateline.info")

MENU = "/info/menu.jsp"
TICKER = "/info/request.do"
WEATHER = "/info/weather.jsp"
BIORHYTHM = "/info/biorhythm.jsp"
SETTINGS = "/info/settings.jsp"
CITY = "/info/city.jsp"
BIRTH_DATE = "/info/birthdate.jsp"
DELETE = "/info/delete.jsp"

# Characters of a line that is cut rather than wrapped (titles, menu entries, the ticker).
LINE = 28
EARLIEST_BIRTH = date(1900, 1, 1)  # as `profiles.check_birth_date` checks it


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker, read by `pybabel extract`
    """Mark `message` for translation; it is translated where it is shown."""
    return message


CONDITIONS: dict[Condition, str] = {
    Condition.CLEAR: N_("Clear"),
    Condition.PARTLY_CLOUDY: N_("Partly cloudy"),
    Condition.OVERCAST: N_("Overcast"),
    Condition.FOG: N_("Fog"),
    Condition.DRIZZLE: N_("Drizzle"),
    Condition.RAIN: N_("Rain"),
    Condition.SHOWERS: N_("Showers"),
    Condition.SNOW: N_("Snow"),
    Condition.THUNDERSTORM: N_("Thunderstorm"),
}

NO_CITY = N_("No city is set for the weather forecast.")
UNKNOWN_CITY = N_("The weather service does not know this city. Please check the spelling.")
NO_FORECAST = N_("The weather forecast is not available right now. Please try again later.")
NO_BIRTH_DATE = N_("No birth date is set for the biorhythm.")
FUTURE_BIRTH = N_("The birth date lies after today's date.")
# The idle screen has short lines (44 characters in the screensaver profile): short forms.
TICKER_PROBLEMS: dict[str, str] = {
    NO_CITY: N_("Weather: no city set"),
    UNKNOWN_CITY: N_("Weather: city unknown"),
    NO_FORECAST: N_("Weather: not available"),
    NO_BIRTH_DATE: N_("Biorhythm: no birth date"),
    FUTURE_BIRTH: N_("Biorhythm: check birth date"),
}


@dataclass(frozen=True)
class Page:
    template: str
    status: int = 200
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Text:
    """A message to translate on the page, with its placeholders."""

    message: str
    params: dict[str, object] = field(default_factory=dict)


def message_page(status: int, heading: str, text: Text, link: tuple[str, str] | None = None) -> Page:
    return Page("message.xhtml.j2", status, {"heading": heading, "text": text, "link": link})


def _links(handset: HandsetRequest) -> dict[str, str]:
    return {
        "menu": handset.link(MENU),
        "weather": handset.link(WEATHER),
        "biorhythm": handset.link(BIORHYTHM),
        "settings": handset.link(SETTINGS),
        "city": handset.link(CITY),
        "birthdate": handset.link(BIRTH_DATE),
        "delete": handset.link(DELETE),
        "confirm": handset.link(DELETE, confirm="yes"),
    }


def _signed(value: int) -> str:
    return f"{value:+d}%" if value else "0%"


def _temperatures(low: float, high: float) -> str:
    return f"{round(low)}/{round(high)} °C"


class HandsetPages:
    def __init__(self, database: Database, clock: Clock, weather: WeatherProvider, gate: DeviceGate) -> None:
        self.database = database
        self.clock = clock
        self.weather = weather
        self.gate = gate  # asked before every use of a profile
        self.renderer = Renderer()

    def routes(self) -> list[tuple[str, Callable[[HandsetRequest, Query], Page]]]:
        return [
            (MENU, self.menu),
            (TICKER, self.ticker),
            (WEATHER, self.weather_page),
            (BIORHYTHM, self.biorhythm_page),
            (SETTINGS, self.settings),
            (CITY, self.city),
            (BIRTH_DATE, self.birth_date),
            (DELETE, self.delete),
        ]

    # -- answering ---------------------------------------------------------------------

    def respond(self, raw_query: bytes, build: Callable[[HandsetRequest, Query], Page], name: str) -> Response:
        lang = DEFAULT_LANGUAGE
        try:
            query = parse_query(raw_query)
            lang = _best_language(query)
            handset = HandsetRequest.from_query(query)
            lang = handset.lang
            page = build(handset, query)
        except BadParameterError as exc:
            # A client chooses parameter names freely: only known names reach the log.
            known = exc.name in KNOWN_PARAMETERS
            log.info("handset request refused", page=name, parameter=exc.name if known else "other")
            page = message_page(
                400,
                N_("Invalid request"),
                Text(
                    N_("This request cannot be answered: the parameter %(name)s is missing or not valid."),
                    {"name": exc.name if known else fit(exc.name, 16)},
                ),
            )
        except RefusedError as exc:
            page = self._refusal(exc)
        except SQLAlchemyError as exc:
            log.error("information service failed", page=name, error=type(exc).__name__)
            page = message_page(
                503, N_("Information services"), Text(N_("The service is busy. Please try again later."))
            )
        body = self.renderer.render(page.template, lang, **page.context)
        return Response(
            body,
            status_code=page.status,
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store", "Content-Language": lang},
        )

    @staticmethod
    def _refusal(refused: RefusedError) -> Page:
        if refused.kind == RefusedError.UNKNOWN:
            return message_page(
                404,
                N_("Information services"),
                Text(N_("This phone is not registered for the information services.")),
            )
        if refused.kind == RefusedError.RESTRICTED:
            return message_page(
                403,
                N_("Information services"),
                Text(
                    N_(
                        "At your request, the data of this phone is only stored, not used. "
                        "You can lift the restriction in the device portal."
                    )
                ),
            )
        if refused.kind == RefusedError.NOT_ALLOWED:
            return message_page(
                403,
                N_("Information services"),
                Text(N_("The information services may not use the data of this phone at the moment.")),
            )
        return message_page(
            403,
            N_("Information services"),
            Text(
                N_(
                    "The information services are switched off for this phone. "
                    "You can switch them on in the device portal."
                )
            ),
        )

    # -- the pages ---------------------------------------------------------------------

    def menu(self, handset: HandsetRequest, _query: Query) -> Page:
        profile_for_use(self.database, self.clock, handset.mac, self.gate)  # the Info Center's first use
        return Page("menu.xhtml.j2", context={"links": _links(handset)})

    def ticker(self, handset: HandsetRequest, _query: Query) -> Page:
        profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
        today = handset.local_date(self.clock.now())
        gettext = package_translations(PACKAGE, handset.lang).gettext
        lines: list[str] = []
        weather = self._weather(profile, handset, today)
        if weather.problem is not None:
            lines.append(gettext(TICKER_PROBLEMS[weather.problem]))
        else:
            first = weather.days[0]
            lines += [weather.city or "", f"{first.condition} {first.temperatures}"]
        bio = self._biorhythm(profile, today, days=1)
        if bio.problem is not None:
            lines.append(gettext(TICKER_PROBLEMS[bio.problem]))
        else:
            day = bio.days[0]
            lines += [
                f"{gettext('Physical')} {day.physical}",
                f"{gettext('Emotional')} {day.emotional}",
                f"{gettext('Intellectual')} {day.intellectual}",
            ]
        return Page("ticker.xhtml.j2", context={"lines": lines, "expires": SCREENSAVER_EXPIRES})

    def weather_page(self, handset: HandsetRequest, _query: Query) -> Page:
        profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
        today = handset.local_date(self.clock.now())
        return Page(
            "weather.xhtml.j2",
            context={"weather": self._weather(profile, handset, today), "links": _links(handset)},
        )

    def biorhythm_page(self, handset: HandsetRequest, _query: Query) -> Page:
        profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
        today = handset.local_date(self.clock.now())
        view = self._biorhythm(profile, today, days=biorhythm.DISPLAY_DAYS, lang=handset.lang)
        return Page("biorhythm.xhtml.j2", context={"bio": view, "links": _links(handset)})

    def settings(self, handset: HandsetRequest, _query: Query) -> Page:
        profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
        return self._settings_page(handset, profile)

    def city(self, handset: HandsetRequest, query: Query) -> Page:
        typed = query.last("city")
        if typed is None:
            profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
            return self._city_form(handset, profile.city, None)
        check_device(self.database, handset.mac, self.gate)  # refusals before complaints about the input
        city = " ".join(typed.split())
        if len(city) > MAX_CITY:
            return self._city_form(
                handset, None, Text(N_("A city name has at most %(max)s characters."), {"max": MAX_CITY}), 400
            )
        try:
            profile = change_profile(self.database, self.clock, handset.mac, {"city": city or None}, self.gate)
        except ProfileError:
            return self._city_form(handset, None, Text(N_("This city name cannot be saved.")), 400)
        done = N_("The city has been saved.") if city else N_("The city has been deleted.")
        return self._settings_page(handset, profile, done)

    def birth_date(self, handset: HandsetRequest, query: Query) -> Page:
        fields = [query.last(name) for name in ("day", "month", "year")]
        if all(value is None for value in fields):
            profile = profile_for_use(self.database, self.clock, handset.mac, self.gate)
            return self._birth_date_form(handset, profile.birth_date, None)
        check_device(self.database, handset.mac, self.gate)  # refusals before complaints about the input
        day, month, year = (" ".join((value or "").split()) for value in fields)
        if not (day or month or year):
            profile = change_profile(self.database, self.clock, handset.mac, {"birth_date": None}, self.gate)
            return self._settings_page(handset, profile, N_("The birth date has been deleted."))
        error = _birth_date_error(day, month, year)
        if error is not None:
            return self._birth_date_form(handset, None, error, 400)
        born = date(int(year), int(month), int(day))
        try:
            profile = change_profile(self.database, self.clock, handset.mac, {"birth_date": born}, self.gate)
        except ProfileError:
            earliest = format_date(EARLIEST_BIRTH, "medium", locale=handset.lang)
            error = Text(N_("A birth date lies between %(earliest)s and today."), {"earliest": earliest})
            return self._birth_date_form(handset, None, error, 400)
        return self._settings_page(handset, profile, N_("The birth date has been saved."))

    def delete(self, handset: HandsetRequest, query: Query) -> Page:
        confirm = query.last("confirm")
        if confirm is None:
            check_device(self.database, handset.mac)  # not gated: erasure stays open under a restriction
            return Page("delete.xhtml.j2", context={"links": _links(handset)})
        if confirm.strip().lower() != "yes":
            raise BadParameterError("confirm", "is not 'yes'")
        remove_profile(self.database, handset.mac)
        return message_page(
            200,
            N_("Profile deleted"),
            Text(N_("Your profile has been deleted: no city and no birth date are stored for this phone.")),
            (handset.link(MENU), N_("Menu")),
        )

    # -- building blocks ---------------------------------------------------------------

    def _settings_page(self, handset: HandsetRequest, profile: InfoProfile, done: str | None = None) -> Page:
        return Page(
            "settings.xhtml.j2",
            context={
                "done": done,
                "city": None if profile.city is None else fit(profile.city, LINE),
                "birth_date": None
                if profile.birth_date is None
                else format_date(profile.birth_date, "medium", locale=handset.lang),
                "links": _links(handset),
            },
        )

    def _city_form(self, handset: HandsetRequest, current: str | None, error: Text | None, status: int = 200) -> Page:
        # A handset's text field holds at most 32 characters; a longer city (typed in the
        # portal) is shown above the field instead of being cut, which saving would store.
        fits = current is not None and len(current) <= MAX_INPUT_LENGTH and latin1(current) == current
        prefill = current if fits and current is not None else ""
        return Page(
            "city.xhtml.j2",
            status,
            {
                "current": None if current is None else fit(current, LINE),
                "value": prefill,
                "error": error,
                "maxlength": MAX_INPUT_LENGTH,
                "links": _links(handset),
            },
        )

    def _birth_date_form(
        self, handset: HandsetRequest, current: date | None, error: Text | None, status: int = 200
    ) -> Page:
        return Page(
            "birthdate.xhtml.j2",
            status,
            {
                "day": "" if current is None else str(current.day),
                "month": "" if current is None else str(current.month),
                "year": "" if current is None else str(current.year),
                "error": error,
                "links": _links(handset),
            },
        )

    def _weather(self, profile: InfoProfile, handset: HandsetRequest, today: date) -> WeatherView:
        city = profile.city
        if city is None:
            return WeatherView(problem=NO_CITY)
        try:
            forecast = self.weather.forecast(city, handset.lang, today)
        except UnknownCity:
            return WeatherView(city=fit(city, LINE), problem=UNKNOWN_CITY)
        except WeatherUnavailable as exc:
            log.warning("weather forecast unavailable", reason=exc.reason)
            return WeatherView(city=fit(city, LINE), problem=NO_FORECAST)
        gettext = package_translations(PACKAGE, handset.lang).gettext
        days = [
            DayView(
                label=_day_label(day.day, today, handset.lang),
                condition=gettext(CONDITIONS[day.condition]),
                temperatures=_temperatures(day.low, day.high),
            )
            for day in forecast.days
        ]
        return WeatherView(city=fit(forecast.city, LINE), days=days, synthetic=forecast.synthetic)

    def _biorhythm(self, profile: InfoProfile, today: date, *, days: int, lang: str = DEFAULT_LANGUAGE) -> BioView:
        if profile.birth_date is None:
            return BioView(problem=NO_BIRTH_DATE)
        try:
            readings = biorhythm.readings(profile.birth_date, today, days)
        except biorhythm.BiorhythmError:
            return BioView(problem=FUTURE_BIRTH)
        return BioView(
            days=[
                BioDay(
                    label=_day_label(r.day, today, lang),
                    physical=_signed(r.percent(biorhythm.Cycle.PHYSICAL)),
                    emotional=_signed(r.percent(biorhythm.Cycle.EMOTIONAL)),
                    intellectual=_signed(r.percent(biorhythm.Cycle.INTELLECTUAL)),
                )
                for r in readings
            ]
        )


@dataclass(frozen=True)
class DayView:
    label: str
    condition: str
    temperatures: str


@dataclass(frozen=True)
class WeatherView:
    city: str | None = None
    days: list[DayView] = field(default_factory=list)
    problem: str | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class BioDay:
    label: str
    physical: str
    emotional: str
    intellectual: str


@dataclass(frozen=True)
class BioView:
    days: list[BioDay] = field(default_factory=list)
    problem: str | None = None


_DIGITS = re.compile(r"[0-9]+")


def _birth_date_error(day: str, month: str, year: str) -> Text | None:
    if not (day and month and year):
        return Text(N_("Fill in day, month and year, or leave all three empty to delete the birth date."))
    if not (_DIGITS.fullmatch(day) and _DIGITS.fullmatch(month) and _DIGITS.fullmatch(year)) or not (
        len(day) <= 2 and len(month) <= 2 and len(year) == 4
    ):
        return Text(N_("Enter the birth date in digits: day, month and a four-digit year."))
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return Text(N_("This date does not exist."))
    return None


def _day_label(day: date, today: date, lang: str) -> str:
    gettext = package_translations(PACKAGE, lang).gettext
    if day == today:
        return gettext("Today")
    if day == today + timedelta(days=1):
        return gettext("Tomorrow")
    return format_skeleton("MMMEd", day, locale=lang)


def _best_language(query: Query) -> str:
    """The language for an error page, even when another parameter is bad."""
    try:
        return parse_lang(query.last("lang") or query.last("g_lang"))
    except BadParameterError:
        return DEFAULT_LANGUAGE
