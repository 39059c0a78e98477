"""DEV-6 on the handset, through real HTTP: the Info Center creates the default profile on first
use, and the city and the birth date are changed, saved and deleted from the handset.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from privateline.kernel.clock import FakeClock
from privateline.services.devices.records import Service, device, device_by_mac
from privateline.services.devices.switches import switch_service
from tests.conftest import LiveServer
from tests.services.devices.info.conftest import Handset, Phone, add_device, all_profiles, profile_row

PAGES = [
    "/info/menu.jsp",
    "/info/request.do",
    "/info/weather.jsp",
    "/info/biorhythm.jsp",
    "/info/settings.jsp",
    "/info/city.jsp",
    "/info/birthdate.jsp",
    "/info/delete.jsp",
]
# Requests that would save or delete something.
CHANGES = [
    ("/info/city.jsp", "city=Berlin"),
    ("/info/city.jsp", "city="),
    ("/info/birthdate.jsp", "day=2&month=3&year=1980"),
    ("/info/birthdate.jsp", "day=&month=&year="),
    ("/info/delete.jsp", "confirm=yes"),
    # and malformed changes: the refusal comes before any complaint about the input
    ("/info/city.jsp", "city=" + "x" * 81),
    ("/info/birthdate.jsp", "day=31&month=2&year=1990"),
]


@pytest.fixture
def phone(live_server: LiveServer) -> Phone:
    return add_device(live_server.system)


@pytest.fixture
def handset(live_server: LiveServer, phone: Phone) -> Iterator[Handset]:
    with live_server.client() as client:
        yield Handset(client, phone.mac, lang="2", tz="120")


@pytest.mark.promise("DEV-6")
def test_first_use_creates_the_default_profile(
    live_server: LiveServer, clock: FakeClock, phone: Phone, handset: Handset
) -> None:
    system = live_server.system
    assert profile_row(system, phone.id) is None
    created_at = system.clock.now()

    menu = handset.open("/info/menu.jsp")

    assert menu.status == 200
    assert menu.text == "Informationsdienste Wetter Biorhythmus Einstellungen"
    assert profile_row(system, phone.id) == {
        "device_id": phone.id,
        "city": None,
        "birth_date": None,
        "created_at": created_at,
        "updated_at": created_at,
    }
    # Later uses find the profile; they neither create another nor change it.
    clock.advance(timedelta(hours=1))
    handset.open("/info/menu.jsp")
    handset.open("/info/request.do")
    assert profile_row(system, phone.id) == {
        "device_id": phone.id,
        "city": None,
        "birth_date": None,
        "created_at": created_at,
        "updated_at": created_at,
    }
    assert len(all_profiles(system)) == 1


@pytest.mark.promise("DEV-6")
def test_the_idle_screen_is_a_first_use_too(live_server: LiveServer, phone: Phone, handset: Handset) -> None:
    ticker = handset.open("/info/request.do", "tick=true")
    assert ticker.status == 200
    assert ticker.text == "Informationsdienste Wetter: kein Ort festgelegt Biorhythmus: kein Geburtsdatum"
    assert profile_row(live_server.system, phone.id) is not None


@pytest.mark.promise("DEV-6")
def test_city_and_birth_date_changed_on_the_handset_are_saved(
    live_server: LiveServer, clock: FakeClock, phone: Phone, handset: Handset
) -> None:
    system = live_server.system
    settings = handset.follow(handset.open("/info/menu.jsp"), "Einstellungen")
    assert "Ort: nicht festgelegt" in settings.text
    assert "Geburtsdatum: nicht festgelegt" in settings.text

    clock.advance(timedelta(minutes=5))
    city_form = handset.follow(settings, "Ort")
    assert city_form.form()[1] == {"city": ""}
    saved = handset.submit(city_form, city="München")
    assert saved.status == 200
    assert "Der Ort wurde gespeichert." in saved.text
    assert "Ort: München" in saved.text
    row = profile_row(system, phone.id)
    assert row is not None
    assert row["city"] == "München"
    assert row["updated_at"] == system.clock.now()

    birth_form = handset.follow(saved, "Geburtsdatum")
    assert birth_form.form()[1] == {"day": "", "month": "", "year": ""}
    saved = handset.submit(birth_form, day="2", month="3", year="1980")
    assert "Das Geburtsdatum wurde gespeichert." in saved.text
    assert "Geburtsdatum: 02.03.1980" in saved.text
    row = profile_row(system, phone.id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == ("München", date(1980, 3, 2))

    # The forms show what is saved, and the services use it.
    assert handset.follow(saved, "Ort").form()[1] == {"city": "München"}
    assert handset.follow(saved, "Geburtsdatum").form()[1] == {"day": "2", "month": "3", "year": "1980"}
    weather = handset.open("/info/weather.jsp")
    assert weather.root.findtext("{http://www.w3.org/1999/xhtml}head/{http://www.w3.org/1999/xhtml}title") == (
        "München"
    )
    assert "Heute" in weather.text and "Morgen" in weather.text
    biorhythm = handset.open("/info/biorhythm.jsp")  # 16800 days on 2026-03-01
    assert "Heute Körperlich: +40% Seelisch: 0% Geistig: +54%" in biorhythm.text


@pytest.mark.promise("DEV-6")
def test_a_city_typed_in_latin_1_is_saved_correctly(live_server: LiveServer, phone: Phone, handset: Handset) -> None:
    form = handset.open("/info/city.jsp")
    saved = handset.submit(form, encoding="latin-1", city="Köln")
    assert "Ort: Köln" in saved.text
    row = profile_row(live_server.system, phone.id)
    assert row is not None
    assert row["city"] == "Köln"


@pytest.mark.promise("DEV-6")
def test_each_setting_can_be_deleted_from_the_handset(live_server: LiveServer, phone: Phone, handset: Handset) -> None:
    system = live_server.system
    handset.submit(handset.open("/info/city.jsp"), city="Utrecht")
    handset.submit(handset.open("/info/birthdate.jsp"), day="24", month="12", year="1999")

    cleared = handset.submit(handset.open("/info/city.jsp"), city="")
    assert "Der Ort wurde gelöscht." in cleared.text
    assert "Ort: nicht festgelegt" in cleared.text
    cleared = handset.submit(handset.open("/info/birthdate.jsp"), day="", month="", year="")
    assert "Das Geburtsdatum wurde gelöscht." in cleared.text

    row = profile_row(system, phone.id)
    assert row is not None
    assert (row["city"], row["birth_date"]) == (None, None)


@pytest.mark.promise("DEV-6")
def test_deleting_the_profile_from_the_handset_removes_the_row(
    live_server: LiveServer, phone: Phone, handset: Handset
) -> None:
    system = live_server.system
    settings = handset.submit(handset.open("/info/city.jsp"), city="Bocholt")
    asking = handset.follow(settings, "Profil löschen")
    assert asking.status == 200
    assert "Ort und Geburtsdatum werden gelöscht." in asking.text
    assert profile_row(system, phone.id) is not None  # asking deletes nothing

    done = handset.follow(asking, "Löschen")

    assert done.status == 200
    assert "Ihr Profil wurde gelöscht" in done.text
    assert profile_row(system, phone.id) is None
    assert all_profiles(system) == []
    # Deleting again is harmless, and cancelling leads back to the settings.
    assert handset.open("/info/delete.jsp", "confirm=yes").status == 200
    assert profile_row(system, phone.id) is None
    assert "Einstellungen" in handset.follow(handset.open("/info/delete.jsp"), "Abbrechen").text


@pytest.mark.promise("DEV-6")
@pytest.mark.parametrize("switch", ["information services off", "out of service"])
def test_a_switched_off_device_gets_no_profile(live_server: LiveServer, switch: str) -> None:
    system = live_server.system
    phone = add_device(system, info_on=switch != "information services off", in_service=switch != "out of service")
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang="10")
        for path in PAGES:
            page = handset.open(path)
            assert page.status == 403, path
            assert "De informatiediensten zijn voor deze telefoon uitgeschakeld." in page.text
        for path, change in CHANGES:
            assert handset.open(path, change).status == 403, (path, change)
    assert all_profiles(system) == []


@pytest.mark.promise("DEV-6")
def test_a_switched_off_device_s_profile_is_not_read_or_changed(live_server: LiveServer) -> None:
    system = live_server.system
    phone = add_device(system)
    with live_server.client() as client:
        handset = Handset(client, phone.mac)
        handset.submit(handset.open("/info/city.jsp"), city="Rotterdam")
        # An inconsistent database (the switch without its deletion) must still not leak the city.
        with system.database.unit_of_work() as uow:
            uow.connection.execute(update(device).where(device.c.id == phone.id).values(info_on=False))
            uow.commit()
        for path in PAGES:
            page = handset.open(path)
            assert page.status == 403
            assert "Rotterdam" not in page.body.decode()
        for path, change in CHANGES:
            handset.open(path, change)
    row = profile_row(system, phone.id)
    assert row is not None
    assert row["city"] == "Rotterdam"


@pytest.mark.promise("DEV-6", "DEV-10")
def test_after_switching_off_the_handset_cannot_bring_the_profile_back(live_server: LiveServer) -> None:
    system = live_server.system
    phone = add_device(system)
    with live_server.client() as client:
        handset = Handset(client, phone.mac)
        handset.submit(handset.open("/info/city.jsp"), city="Hamburg")
        with system.database.unit_of_work() as uow:
            record = device_by_mac(uow.connection, phone.mac)
            assert record is not None
            switch_service(uow.connection, system.pseudonymizer, record, Service.INFO, False, system.clock.now())
            uow.commit()
        assert all_profiles(system) == []
        assert handset.open("/info/request.do").status == 403
        assert handset.open("/info/city.jsp", "city=Hamburg").status == 403
    assert all_profiles(system) == []


def test_an_unknown_base_station_is_told_so(live_server: LiveServer) -> None:
    with live_server.client() as client:
        page = Handset(client, "7C2F80FFFFFE", lang="3").open("/info/menu.jsp")
    assert page.status == 404
    assert "This phone is not registered for the information services." in page.text
    assert all_profiles(live_server.system) == []


@pytest.mark.parametrize(
    ("lang", "code", "words"),
    [
        ("1", "en", ["Information services", "Weather", "Biorhythm", "Settings"]),
        ("3", "en", ["Information services", "Weather", "Biorhythm", "Settings"]),
        ("2", "de", ["Informationsdienste", "Wetter", "Biorhythmus", "Einstellungen"]),
        ("10", "nl", ["Informatiediensten", "Weer", "Bioritme", "Instellingen"]),
        ("9", "en", ["Information services", "Weather", "Biorhythm", "Settings"]),  # French: English
    ],
)
def test_the_handset_language_chooses_the_texts(
    live_server: LiveServer, phone: Phone, lang: str, code: str, words: list[str]
) -> None:
    with live_server.client() as client:
        menu = Handset(client, phone.mac, lang=lang).open("/info/menu.jsp")
    assert menu.headers["content-language"] == code
    assert menu.text.split() == " ".join(words).split()


def test_the_birth_date_form_refuses_impossible_dates(live_server: LiveServer, phone: Phone, handset: Handset) -> None:
    form = handset.open("/info/birthdate.jsp")
    cases = [
        ({"day": "31", "month": "2", "year": "1990"}, "Dieses Datum gibt es nicht."),
        ({"day": "1", "month": "1", "year": "1899"}, "Ein Geburtsdatum liegt zwischen dem 01.01.1900 und heute."),
        ({"day": "2", "month": "3", "year": "2027"}, "Ein Geburtsdatum liegt zwischen dem 01.01.1900 und heute."),
        ({"day": "2", "month": "", "year": "1980"}, "Füllen Sie Tag, Monat und Jahr aus"),
        ({"day": "zwei", "month": "3", "year": "1980"}, "Geben Sie das Geburtsdatum in Ziffern ein"),
        ({"day": "2", "month": "3", "year": "80"}, "Geben Sie das Geburtsdatum in Ziffern ein"),
    ]
    for fields, message in cases:
        refused = handset.submit(form, **fields)
        assert refused.status == 400, fields
        assert message in refused.text, fields
        assert refused.form()[0].startswith("/info/birthdate.jsp")
    row = profile_row(live_server.system, phone.id)
    assert row is not None  # opening the form was the first use
    assert row["birth_date"] is None


def test_a_city_longer_than_the_profile_allows_is_refused(live_server: LiveServer, handset: Handset) -> None:
    refused = handset.submit(handset.open("/info/city.jsp"), city="x" * 81)
    assert refused.status == 400
    assert "Ein Ortsname hat höchstens 80 Zeichen." in refused.text
