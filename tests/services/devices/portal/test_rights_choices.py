"""Rectification field by field, restriction, objection and consent withdrawal on `/device/rights`,
and the services that must respect them, all through real HTTP (R-3, R-7, R-8, R-9, R-13).

The portal, the handsets' information services, their JSON API and the configuration helper
run in one app with the purpose gate wired in, as the application wires them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from starlette.routing import Route

from privateline.app.config import Settings
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.kernel.consent import ConsentEvent, ConsentEventKind
from privateline.kernel.gate import Ground, Verdict
from privateline.kernel.requests import RequestKind, RequestState
from privateline.services.devices.config_helper import ConfigHelperPage
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.info.http import info_router
from privateline.services.devices.info.weather import Forecast, OfflineWeather
from privateline.services.devices.nicknames import nickname_of, set_nickname
from privateline.services.devices.profiles import info_profile, profile_of, update_profile
from privateline.services.devices.records import Device
from privateline.services.devices.reports import device_report, public_network_fingerprint
from privateline.services.devices.subject import device_subject
from privateline.services.forwarding import TrustedProxies
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.rights_requests import RightsRequests, StoredRequest, rights_request
from privateline.storage.subject_rights import ObjectionState, SubjectRights
from tests.services.devices.info.conftest import Answer, Handset
from tests.services.devices.portal.conftest import (
    FACTORY_PASSWORD,
    Browser,
    PortalServer,
    add_device,
    audit_kinds,
    csrf_of,
    portal_app,
    reload,
    rows_of,
    serve,
    signed_in,
)
from tests.services.privacy.registers import MISUSE, QUALITY, TIPS, register_with_device_choices

HOME = "203.0.113.5"
RESTRICTED_ON_HANDSET = "At your request, the data of this phone is only stored, not used."


@dataclass
class RecordingWeather(OfflineWeather):
    """The offline forecast, noting every city it is asked about: a used profile leaves a trace."""

    cities: list[str] = field(default_factory=list)

    def forecast(self, city: str, lang: str, today: date) -> Forecast:
        self.cities.append(city)
        return super().forecast(city, lang, today)


@dataclass
class Cloud:
    server: PortalServer
    weather: RecordingWeather

    @property
    def system(self) -> System:
        return self.server.system

    def handset(self, record: Device) -> Handset:
        client = httpx.Client(base_url=self.server.url, timeout=10)
        self.server.clients.append(client)
        return Handset(client, record.mac, lang="en", tz="60")

    def api(self, method: str, path: str, record: Device, **kwargs: object) -> httpx.Response:
        """A call of the JSON API, signed in with the phone's number and factory password (R-12)."""
        client = self.server.browser(source=None).client
        client.auth = httpx.BasicAuth(record.number, FACTORY_PASSWORD)
        return client.request(method, f"/device/v1/info/{path}", **kwargs)  # type: ignore[arg-type]

    def phones_at_home(self) -> str:
        client = self.server.browser(source=None).client
        page = client.get("/config-helper", headers={"X-Forwarded-For": HOME})
        assert page.status_code == 200
        return page.text


def cloud_app(system: System, weather: RecordingWeather) -> FastAPI:
    """The portal with the rights engine, the information services and the configuration helper, gated."""
    app = portal_app(system)
    gate = DeviceGate(system.rights.gate, system.pseudonymizer)
    proxies = TrustedProxies.parse(["127.0.0.1"])
    app.include_router(
        info_router(system.database, system.clock, weather, gate, realm=system.settings.sip_realm, proxies=proxies)
    )
    helper = ConfigHelperPage(system.database, system.pseudonymizer, proxies, gate)
    app.router.routes.append(Route("/config-helper", helper.__call__, methods=["GET"]))
    return app


@pytest.fixture
def cloud(system: System, serve_portal: Callable[[FastAPI], PortalServer]) -> Cloud:
    weather = RecordingWeather()
    return Cloud(serve_portal(cloud_app(system, weather)), weather)


@pytest.fixture
def choices_portal(settings: Settings, clock: FakeClock) -> Iterator[PortalServer]:
    """The portal of a system whose register lets device owners object and withdraw consent."""
    built = build_system(settings, clock=clock, register=register_with_device_choices())
    running = serve(portal_app(built), built)
    yield running
    running.stop()
    built.close()


def _phone(system: System, **overrides: object) -> Device:
    """A phone with a nickname, a profile and a check-in report from HOME."""
    found = {"internal_ip": "192.168.1.40", "software_version": "42.1"} | overrides
    record = add_device(system, None, FACTORY_PASSWORD, **found)
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        c = uow.connection
        c.execute(
            sa.insert(device_report).values(
                device_id=record.id,
                reported_at=now,
                private_ip="192.168.1.40",
                private_port=5062,
                public_network=public_network_fingerprint(system.pseudonymizer, HOME),
                device_name="Werkstatt",
                software_version="42.1",
            )
        )
        if record.voip_on:
            set_nickname(c, record.id, "Tante Ju", now)
        if record.info_on:
            update_profile(c, record.id, now, {"city": "Utrecht", "birth_date": date(1961, 8, 13)})
        uow.commit()
    return reload(system, record.number)


def _file(browser: Browser, kind: str, lang: str = "en", **fields: str) -> httpx.Response:
    page = browser.get("/device/rights", params={"lang": lang})
    assert page.status_code == 200, page.text
    return browser.post(f"/device/rights?lang={lang}", {"csrf": csrf_of(page.text), "kind": kind, **fields})


def _filed(answer: httpx.Response, done: str) -> str:
    assert answer.status_code == 303, html.unescape(answer.text)
    location = answer.headers["location"]
    found = re.fullmatch(rf"/device/rights\?lang=\w\w&done={done}#request-([A-Za-z0-9_-]+)", location)
    assert found is not None, location
    return found.group(1)


def _requests(system: System, record: Device) -> dict[str, StoredRequest]:
    pseudonym = system.pseudonymizer.pseudonym("device_owner", record.number)
    with system.database.reading() as connection:
        return {r.id: r for r in RightsRequests(connection).of_subject(pseudonym)}


def _request_count(system: System) -> int:
    with system.database.reading() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(rights_request)).scalar_one())


def _row(page: str, request_id: str) -> str:
    found = re.search(rf'<tr id="request-{request_id}" class="request-row"(.*?)</tr>', page, re.S)
    assert found is not None, f"request {request_id} is not listed"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def _gate(system: System, record: Device, activity: str, at: datetime | None = None) -> Verdict:
    with system.database.reading() as connection:
        return system.rights.gate.verdict(connection, device_subject(record, system.pseudonymizer), activity, at=at)


def _refused_on_handset(answer: Answer) -> None:
    assert answer.status == 403, answer.text
    assert RESTRICTED_ON_HANDSET in answer.text


# Rectification field by field (R-3) ---------------------------------------------------------


@pytest.mark.promise("R-3", "R-13")
def test_the_owner_corrects_nickname_city_and_birth_date_at_once_and_the_handset_uses_the_correction(
    cloud: Cloud,
) -> None:
    system = cloud.system
    record = _phone(system)
    bystander = _phone(system)
    browser = signed_in(cloud.server, record)
    page = html.unescape(browser.get("/device/rights").text)
    assert 'id="fix-nickname" name="nickname" maxlength="40" value="Tante Ju"' in page
    assert 'id="fix-city" name="city" maxlength="80" value="Utrecht"' in page
    assert 'name="birth_date" type="date" min="1900-01-01" max="2026-03-01" value="1961-08-13"' in page
    for factory_fact in ("number", "serial", "mac"):
        assert f'name="{factory_fact}"' not in page

    answer = _file(browser, "rectification", nickname="Tante Jo", city=" Den  Haag ", birth_date="1961-08-31")
    request_id = _filed(answer, "rectified")
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) == "Tante Jo"
        profile = profile_of(connection, record.id)
        untouched = profile_of(connection, bystander.id)
    assert profile is not None and (profile.city, profile.birth_date) == ("Den Haag", date(1961, 8, 31))
    assert untouched is not None and untouched.city == "Utrecht"
    stored = _requests(system, record)[request_id]
    assert stored.request.kind is RequestKind.RECTIFICATION and stored.request.state is RequestState.COMPLETED
    assert stored.detail == {"via": "device-portal", "fields": ["birth_date", "city", "nickname"]}
    kinds = audit_kinds(system, record)
    assert kinds[-4:] == ["rights.received", "rights.identity_verified", "rights.rectified", "rights.completed"]

    shown = browser.get(answer.headers["location"]).text
    assert "Your data has been corrected." in shown
    row = _row(shown, request_id)
    assert "Rectification" in row and "Completed" in row
    assert "Corrected: Birth date for the biorhythm, City for the weather forecast, Nickname of your number" in row
    # Made without delay: the very next use of the profile is the corrected one.
    weather = cloud.handset(record).open("/info/weather.jsp")
    assert weather.status == 200 and "Den Haag" in weather.text
    assert cloud.weather.cities == ["Den Haag"]

    # In the owner's language.
    german = _file(browser, "rectification", lang="de", city="Leiden")
    assert "Ihre Daten sind berichtigt." in browser.get(german.headers["location"]).text


@pytest.mark.promise("R-3")
def test_an_invalid_correction_is_refused_with_its_reason_and_changes_and_files_nothing(cloud: Cloud) -> None:
    system = cloud.system
    record = _phone(system)
    browser = signed_in(cloud.server, record)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"birth_date": "1850-01-01"}, 422, "A birth date lies between 1900-01-01 and today."),
        ({"birth_date": "2026-03-02"}, 422, "A birth date lies between 1900-01-01 and today."),
        ({"birth_date": "13.08.1961"}, 422, "Enter the birth date as YYYY-MM-DD"),
        ({"nickname": 'Tante "J"'}, 422, 'A nickname has no control characters and none of " \\ < >.'),
        ({"nickname": ""}, 422, "A nickname has 1 to 40 characters."),
        ({"city": "x" * 81}, 422, "A city name has at most 80 printable characters."),
        # One bad value among good ones: nothing is changed.
        ({"city": "Delft", "birth_date": "1850-01-01"}, 422, "A birth date lies between"),
        # Factory facts are not the owner's input.
        ({"number": "4999"}, 422, "Only the values shown on this page can be corrected here."),
        ({"serial": "SN-FAKE", "city": "Delft"}, 422, "Only the values shown on this page can be corrected here."),
        ({"mac": "00A0DE000000"}, 422, "Only the values shown on this page can be corrected here."),
        ({"city": "Utrecht", "nickname": "Tante Ju"}, 422, "Nothing differs from what is stored."),
        ({}, 422, "Nothing differs from what is stored."),
    ]
    for fields, status, reason in cases:
        refused = _file(browser, "rectification", **fields)
        assert refused.status_code == status, fields
        assert reason in html.unescape(refused.text), fields
    german = _file(browser, "rectification", lang="de", birth_date="1850-01-01")
    assert "Ein Geburtsdatum liegt zwischen dem 1900-01-01 und heute." in html.unescape(german.text)
    # What was typed stays in the form, to be corrected.
    assert 'value="1850-01-01"' in german.text

    assert _request_count(system) == 0
    assert reload(system, record.number) == record
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) == "Tante Ju"
        profile = profile_of(connection, record.id)
    assert profile is not None and (profile.city, profile.birth_date) == ("Utrecht", date(1961, 8, 13))
    assert "rights.rectified" not in audit_kinds(system, record)


@pytest.mark.promise("R-3")
def test_the_nickname_cannot_be_corrected_while_calls_are_switched_off(cloud: Cloud) -> None:
    system = cloud.system
    record = _phone(system, voip_on=False)
    browser = signed_in(cloud.server, record)
    page = html.unescape(browser.get("/device/rights").text)
    assert 'id="fix-nickname"' not in page
    assert "Switch calls (VoIP) on first: the nickname belongs to the call service." in page
    refused = _file(browser, "rectification", nickname="Opa")
    assert refused.status_code == 409
    assert "Switch calls (VoIP) on first" in refused.text
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) is None
    assert _request_count(system) == 0


# Restriction (R-7) -------------------------------------------------------------------------------


@pytest.mark.promise("R-7")
def test_a_restricted_profile_is_kept_but_not_used_by_the_handset_or_the_api_until_the_restriction_is_lifted(
    cloud: Cloud,
) -> None:
    system = cloud.system
    record = _phone(system)
    other = _phone(system)
    handset = cloud.handset(record)
    assert handset.open("/info/weather.jsp").status == 200
    assert cloud.weather.cities == ["Utrecht"]
    profile_before = rows_of(system, info_profile, record.id)

    browser = signed_in(cloud.server, record)
    answer = _file(browser, "restriction", action="restrict", activity="information_services")
    request_id = _filed(answer, "restricted")
    stored = _requests(system, record)[request_id]
    assert stored.request.state is RequestState.COMPLETED
    assert stored.detail == {"via": "device-portal", "activity": "information_services", "action": "restrict"}
    page = browser.get(answer.headers["location"]).text
    assert "The processing is restricted" in page
    assert "Information services such as the weather forecast" in _row(page, request_id)
    assert '<li data-activity="information_services">' in page

    # Every use of the profile is refused; nothing of it reaches a page or the weather service.
    for path, extra in (
        ("/info/weather.jsp", ""),
        ("/info/biorhythm.jsp", ""),
        ("/info/request.do", ""),
        ("/info/menu.jsp", ""),
        ("/info/settings.jsp", ""),
        ("/info/city.jsp", ""),
        ("/info/city.jsp", "city=Berlin"),
        ("/info/birthdate.jsp", "day=2&month=3&year=1980"),
    ):
        shown_on_handset = handset.open(path, extra)
        _refused_on_handset(shown_on_handset)
        assert "Utrecht" not in shown_on_handset.text and "1961" not in shown_on_handset.text, path
    for method, path, body in (
        ("GET", "profile", None),
        ("PUT", "profile", b'{"city": "Berlin"}'),
        ("GET", "weather", None),
        ("GET", "biorhythm", None),
    ):
        refused = cloud.api(method, path, record, content=body)
        assert refused.status_code == 403, (method, path)
        assert "restricted" in refused.json()["error"] and "Utrecht" not in refused.text
    assert cloud.weather.cities == ["Utrecht"]
    german = Handset(cloud.server.browser(source=None).client, record.mac, lang="de").open("/info/weather.jsp")
    assert german.status == 403 and "nur gespeichert, nicht verwendet" in german.text
    # Stored, unchanged: a restriction is not an erasure.
    assert rows_of(system, info_profile, record.id) == profile_before
    # Another phone is not affected.
    assert cloud.handset(other).open("/info/weather.jsp").status == 200

    lifted_id = _filed(
        _file(browser, "restriction", action="lift", activity="information_services"), "restriction_lifted"
    )
    assert "Lifted: Information services such as the weather forecast" in _row(
        browser.get("/device/rights").text, lifted_id
    )
    again = handset.open("/info/weather.jsp")
    assert again.status == 200 and "Utrecht" in again.text
    assert cloud.api("GET", "profile", record).json()["city"] == "Utrecht"
    kinds = audit_kinds(system, record)
    assert "rights.restricted" in kinds and "rights.restriction_lifted" in kinds


@pytest.mark.promise("R-7")
def test_the_owner_may_still_delete_a_restricted_profile(cloud: Cloud) -> None:
    system = cloud.system
    record = _phone(system)
    browser = signed_in(cloud.server, record)
    _filed(_file(browser, "restriction", action="restrict", activity="information_services"), "restricted")
    handset = cloud.handset(record)
    assert handset.open("/info/delete.jsp").status == 200
    assert handset.open("/info/delete.jsp", "confirm=yes").status == 200
    assert rows_of(system, info_profile, record.id) == []


@pytest.mark.promise("R-7")
def test_a_phone_whose_check_in_or_everything_is_restricted_is_not_shown_by_the_configuration_helper(
    cloud: Cloud,
) -> None:
    system = cloud.system
    record = _phone(system)
    link = 'href="http://192.168.1.40/"'
    assert link in cloud.phones_at_home()
    browser = signed_in(cloud.server, record)

    # The helper's own activity is not what is restricted here: it still shows the phone.
    _filed(_file(browser, "restriction", action="restrict", activity="information_services"), "restricted")
    assert link in cloud.phones_at_home()
    # The check-in's report is the helper's data: restricting the check-in stops its use here.
    _filed(_file(browser, "restriction", action="restrict", activity="device_checkin"), "restricted")
    assert link not in cloud.phones_at_home()
    _filed(_file(browser, "restriction", action="lift", activity="device_checkin"), "restriction_lifted")
    assert link in cloud.phones_at_home()
    # Everything.
    _filed(_file(browser, "restriction", action="restrict", activity="*"), "restricted")
    assert link not in cloud.phones_at_home()
    assert "All processing of your phone's data" in html.unescape(browser.get("/device/rights").text)
    _filed(_file(browser, "restriction", action="lift", activity="information_services"), "restriction_lifted")
    _refused_on_handset(cloud.handset(record).open("/info/weather.jsp"))  # "all" still stands
    _filed(_file(browser, "restriction", action="lift", activity="*"), "restriction_lifted")
    assert link in cloud.phones_at_home()
    assert cloud.handset(record).open("/info/weather.jsp").status == 200
    assert rows_of(system, device_report, record.id)  # the report stayed stored throughout


# Another phone ------------------------------------------------------------------------------


def test_another_phones_session_cannot_see_lift_or_correct_this_phones_requests(cloud: Cloud) -> None:
    system = cloud.system
    mine, theirs = _phone(system), _phone(system)
    owner = signed_in(cloud.server, mine)
    restricted = _filed(_file(owner, "restriction", action="restrict", activity="information_services"), "restricted")
    corrected = _filed(_file(owner, "rectification", city="Delft"), "rectified")

    intruder = signed_in(cloud.server, theirs)
    page = intruder.get("/device/rights").text
    assert restricted not in page and corrected not in page and mine.number not in page
    assert "You have made no requests yet." in page
    assert '<li data-activity="information_services">' not in page  # not their restriction to lift
    refused = _file(intruder, "restriction", action="lift", activity="information_services")
    assert refused.status_code == 422
    _refused_on_handset(cloud.handset(mine).open("/info/weather.jsp"))  # still restricted
    # Their correction changes only their own profile.
    _filed(_file(intruder, "rectification", city="Zwolle"), "rectified")
    with system.database.reading() as connection:
        own, other = profile_of(connection, mine.id), profile_of(connection, theirs.id)
    assert own is not None and own.city == "Delft"
    assert other is not None and other.city == "Zwolle"
    assert set(_requests(system, mine)) == {restricted, corrected}
    assert len(_requests(system, theirs)) == 1
    # Their page still shows none of mine.
    page = intruder.get("/device/rights").text
    assert restricted not in page and corrected not in page


# Objection (R-8) ----------------------------------------------------------------------------------


@pytest.mark.promise("R-8", "R-13", "WEB-3")
def test_an_objection_to_marketing_is_upheld_at_once_and_to_legitimate_interests_waits_for_the_dpo(
    choices_portal: PortalServer,
) -> None:
    system = choices_portal.system
    record = add_device(system)
    browser = signed_in(choices_portal, record)
    page = browser.get("/device/rights").text
    options = re.findall(r'<option value="(\w+)">', page[page.index('id="objection-activity"') :].split("</select>")[0])
    assert options == [TIPS, MISUSE]
    assert _gate(system, record, TIPS) and _gate(system, record, MISUSE)

    tips = _filed(_file(browser, "objection", activity=TIPS), "objection_upheld")
    assert _requests(system, record)[tips].request.state is RequestState.COMPLETED
    refused = _gate(system, record, TIPS)
    assert not refused and refused.ground is Ground.OBJECTED

    misuse = _filed(_file(browser, "objection", activity=MISUSE), "objection_pending")
    pending = _requests(system, record)[misuse]
    assert pending.request.state is RequestState.IDENTITY_VERIFIED and pending.detail["activity"] == MISUSE
    with system.database.reading() as connection:
        assert [r.id for r in RightsRequests(connection).queue(system.clock.now())] == [misuse]
        assert SubjectRights(connection).objections(pending.subject) == {
            TIPS: ObjectionState.UPHELD,
            MISUSE: ObjectionState.PENDING,
        }
    assert not _gate(system, record, MISUSE)  # stopped while the DPO weighs it

    shown = html.unescape(browser.get("/device/rights").text)
    assert "You objected: this processing has stopped." in shown
    assert "You objected: this processing has stopped until our data protection officer has decided." in shown
    assert 'id="request-objection"' not in shown  # nothing left to object to
    assert _file(browser, "objection", activity=TIPS).status_code == 422
    assert _file(browser, "objection", activity="information_services").status_code == 422
    assert "rights.objected" in audit_kinds(system, record)


@pytest.mark.promise("R-8")
def test_the_browsers_gpc_signal_is_an_objection_to_marketing_recorded_once(choices_portal: PortalServer) -> None:
    system = choices_portal.system
    record, quiet = add_device(system), add_device(system)
    browser = signed_in(choices_portal, record)
    gpc = {"Sec-GPC": "1"}
    assert browser.get("/device/rights", headers=gpc).status_code == 200
    [filed] = _requests(system, record).values()
    assert filed.request.kind is RequestKind.OBJECTION and filed.request.state is RequestState.COMPLETED
    assert filed.detail == {"via": "sec-gpc", "activities": [TIPS]}
    with system.database.reading() as connection:
        [standing] = SubjectRights(connection).standing_objections(filed.subject)
    assert (standing.activity, standing.state, standing.source) == (TIPS, ObjectionState.UPHELD, "gpc")
    assert not _gate(system, record, TIPS)
    assert _gate(system, record, MISUSE)  # neither marketing nor analytics: not covered by the signal
    row = _row(browser.get("/device/rights").text, filed.id)
    assert "Sent by your browser's Global Privacy Control signal" in row and "Tips and offers for your phone" in row

    # The signal comes with every request; the objection is recorded once.
    browser.get("/device", headers=gpc)
    browser.get("/device/rights", headers=gpc)
    assert len(_requests(system, record)) == 1
    # Without the signal, nothing is recorded.
    other = signed_in(choices_portal, quiet)
    other.get("/device/rights")
    other.get("/device/rights", headers={"Sec-GPC": "0"})
    assert _requests(system, quiet) == {}
    assert _gate(system, quiet, TIPS)


# Consent withdrawal (R-9) --------------------------------------------------------------------


@pytest.mark.promise("R-9", "R-13")
def test_a_consent_is_withdrawn_at_once_and_what_was_done_before_stays_lawful(
    choices_portal: PortalServer, clock: FakeClock
) -> None:
    system = choices_portal.system
    record = add_device(system)
    pseudonym = system.pseudonymizer.pseudonym("device_owner", record.number)
    given = ConsentEvent(
        "receipt-7",
        pseudonym,
        QUALITY,
        ConsentEventKind.GIVEN,
        system.loaded.version,
        "handset",
        clock.now(),
        clock.now() + timedelta(days=365),
    )
    with system.database.unit_of_work() as uow:
        ConsentLedger(uow.connection).append([given])
        uow.commit()
    clock.advance(timedelta(days=2))
    used_at = clock.now()
    assert _gate(system, record, QUALITY)
    clock.advance(timedelta(hours=1))

    browser = signed_in(choices_portal, record)
    page = browser.get("/device/rights").text
    assert f'<option value="{QUALITY}">Call-quality reports</option>' in page
    answer = _file(browser, "consent_withdrawal", activity=QUALITY)
    request_id = _filed(answer, "consent_withdrawn")
    assert _requests(system, record)[request_id].request.state is RequestState.COMPLETED

    refused = _gate(system, record, QUALITY)
    assert not refused and refused.ground is Ground.NO_CONSENT
    assert _gate(system, record, QUALITY, at=used_at)  # the earlier use rested on a consent then in force
    with system.database.reading() as connection:
        events = ConsentLedger(connection).events_of(pseudonym)
    assert events[0] == given  # nothing earlier is undone
    assert [(e.kind, e.record_id, e.method) for e in events[1:]] == [
        (ConsentEventKind.WITHDRAWN, "receipt-7", "device-portal")
    ]
    shown = html.unescape(browser.get(answer.headers["location"]).text)
    assert "Your consent has been withdrawn" in shown and "What was done before stays lawful." in shown
    assert "You have given no consent that is in force." in shown
    assert _file(browser, "consent_withdrawal", activity=QUALITY).status_code == 422
    assert "rights.consent_withdrawn" in audit_kinds(system, record)
