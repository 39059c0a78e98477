"""Every handset answer is an XHTML-GP page within the size budget, in English, German and Dutch,
and requests no handset sends are refused with 400 and the parameter's name, never with a 500.

`Handset.get` checks each answer against the element set, attributes, content model and
styles written down in `gigaset.py` (see `xhtml.py`); these tests make sure every page and
every outcome is fetched at least once, with the longest content a profile can hold.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from privateline.kernel.clock import FakeClock
from privateline.services.devices.info.gigaset import MAX_PAGE_BYTES
from privateline.services.devices.profiles import MAX_CITY
from tests.conftest import LiveServer
from tests.services.devices.info.conftest import Answer, Handset, add_device, all_profiles
from tests.services.devices.info.xhtml import parse, problems, text_of

LANGUAGES = [
    # (handset code, language, a word of the menu, a word of the settings, the switched-off text)
    ("3", "en", "Weather", "Delete profile", "switched off"),
    ("2", "de", "Wetter", "Profil löschen", "ausgeschaltet"),
    ("10", "nl", "Weer", "Profiel verwijderen", "uitgeschakeld"),
]


def _every_outcome(handset: Handset) -> list[Answer]:
    """Every page and every outcome of the Info Center, in the handset's language."""
    answers = [handset.open("/info/menu.jsp"), handset.open("/info/request.do")]
    answers += [handset.open("/info/weather.jsp"), handset.open("/info/biorhythm.jsp")]
    settings = handset.open("/info/settings.jsp")
    city_form = handset.open("/info/city.jsp")
    answers += [settings, city_form]
    answers.append(handset.submit(city_form, city="Ä" * MAX_CITY))  # the longest city, two bytes a letter
    answers.append(handset.submit(city_form, city="Ä" * (MAX_CITY + 1)))  # refused
    birth_form = handset.open("/info/birthdate.jsp")
    answers += [birth_form, handset.submit(birth_form, day="31", month="2", year="1999")]
    answers.append(handset.submit(birth_form, day="1", month="1", year="1900"))  # the earliest
    answers += [handset.open("/info/weather.jsp"), handset.open("/info/biorhythm.jsp")]
    answers += [handset.open("/info/request.do"), handset.open("/info/settings.jsp")]
    answers += [handset.open("/info/city.jsp"), handset.open("/info/birthdate.jsp")]
    answers += [handset.open("/info/delete.jsp"), handset.open("/info/delete.jsp", "confirm=yes")]
    answers.append(handset.submit(handset.open("/info/city.jsp"), city="12345"))  # a city no weather knows
    answers.append(handset.open("/info/weather.jsp"))
    answers.append(handset.open("/info/request.do"))
    answers.append(handset.open("/info/menu.jsp", "mac=7C2F80FFFFFE"))  # refused: two different MACs
    return answers


@pytest.mark.promise("DEV-6")
@pytest.mark.parametrize(("code", "lang", "menu_word", "settings_word", "off_word"), LANGUAGES)
def test_every_page_in_every_language_is_valid_xhtml_gp_within_the_size_limit(
    live_server: LiveServer, code: str, lang: str, menu_word: str, settings_word: str, off_word: str
) -> None:
    system = live_server.system
    phone = add_device(system)
    off = add_device(system, info_on=False)
    with live_server.client() as client:
        handset = Handset(client, phone.mac, lang=code, tz="840")
        answers = _every_outcome(handset)
        answers.append(Handset(client, off.mac, lang=code).open("/info/menu.jsp"))
        answers.append(Handset(client, "7C2F80FFFFFE", lang=code).open("/info/menu.jsp"))
        answers.append(Handset(client, phone.mac, lang=code, tz="-720").open("/info/biorhythm.jsp"))
    # Every answer was parsed and checked by Handset.get; here: the language and the outcomes.
    assert {a.headers["content-language"] for a in answers} == {lang}
    assert menu_word in answers[0].text
    assert settings_word in answers[4].text
    assert off_word in answers[-3].text
    assert [a.status for a in answers] == [200] * 7 + [400, 200, 400] + [200] * 12 + [400, 403, 404, 200]
    assert max(len(a.body) for a in answers) <= MAX_PAGE_BYTES


def test_the_checker_finds_what_a_handset_cannot_show() -> None:
    page = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<!DOCTYPE html PUBLIC "-//OMA//DTD XHTML Mobile 1.2//EN" '
        '"http://www.openmobilealliance.org/tech/DTD/xhtml-mobile12.dtd">'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
        "<body>{}</body></html>"
    )
    assert problems(page.format("<p>fine</p>").encode()) == []
    assert problems(page.format("<div>no</div>").encode()) == [
        "<body> may not contain <div>",
        "<div> is not an XHTML-GP element",
        "<body> holds ['div']: not paragraphs only, one <ul> or one <form>",
    ]
    assert problems(page.format('<p style="color:red">x</p>').encode()) == ["style 'color:red' is not in XHTML-GP"]
    assert problems(page.format("<p>東京</p>").encode()) != []
    assert problems(page.format("<p>unclosed").encode())[0].startswith("not well-formed XML")
    assert problems(page.format("<p>" + "x" * MAX_PAGE_BYTES + "</p>").encode())[0].endswith(
        f"more than {MAX_PAGE_BYTES}"
    )
    form = '<form method="get" action="/info/x"><input type="submit" value="{}"/></form>'
    assert problems(page.format(form.format("Sichern")).encode()) == []
    assert problems(page.format(form.format("Speichern")).encode()) != []


BAD_REQUESTS = [
    # (path, raw query, the parameter named in the answer)
    ("/info/menu.jsp", "lang=2&tz=120", "mac"),
    ("/info/menu.jsp", "mac=", "mac"),
    ("/info/menu.jsp", "mac=not-a-mac", "mac"),
    ("/info/menu.jsp", "mac=01005E000001", "mac"),
    ("/info/menu.jsp", "mac={mac}&mac=7C2F80FFFFFE", "mac"),
    ("/info/menu.jsp", "mac={mac}&tz=ten", "tz"),
    ("/info/menu.jsp", "mac={mac}&tz=9999", "tz"),
    ("/info/menu.jsp", "mac={mac}&lang=%3Cscript%3E", "lang"),
    ("/info/menu.jsp", "mac={mac}&lang=300", "lang"),
    ("/info/menu.jsp", "mac={mac}&handsetid=handset", "handsetid"),
    ("/info/menu.jsp", "mac={mac}&cc=49%00", "cc"),
    ("/info/request.do", "mac={mac}&" + "&".join(f"x{n}=1" for n in range(45)), "query"),
    ("/info/weather.jsp", "mac={mac}&q=" + "y" * 2100, "query"),
    ("/info/city.jsp", "mac={mac}&city=Ber%0Alin", "city"),
    ("/info/delete.jsp", "mac={mac}&confirm=maybe", "confirm"),
    ("/info/menu.jsp", "mac={mac}&K%C3%B6ln%E2%82%AC=%07", "kölnEUR"),  # an unknown name, shown in Latin-1
]


@pytest.mark.parametrize(("path", "query", "name"), BAD_REQUESTS)
def test_requests_no_handset_sends_are_refused_with_400_and_the_reason(
    live_server: LiveServer, path: str, query: str, name: str
) -> None:
    phone = add_device(live_server.system)
    with live_server.client() as client:
        answer = client.get(f"{path}?{query.format(mac=phone.mac)}&lang=3")
    assert answer.status_code == 400
    root = parse(answer.content)
    assert f"the parameter {name} is missing or not valid" in text_of(root)
    assert all_profiles(live_server.system) == []


def test_other_methods_and_paths_are_not_server_errors(live_server: LiveServer) -> None:
    phone = add_device(live_server.system)
    with live_server.client() as client:
        assert client.post(f"/info/menu.jsp?mac={phone.mac}").status_code == 405
        assert client.get(f"/info/nothing.jsp?mac={phone.mac}").status_code == 404
        raw = httpx.get(f"{live_server.url}/info/menu.jsp?mac={phone.mac}&city=K%F6ln%FF%FE", timeout=10)
        assert raw.status_code == 200


@pytest.mark.parametrize(
    ("utc_hour", "tz", "shown"),
    [
        (23, "120", "Today Physical: +27% Emotional: +22% Intellectual: +19%"),  # already 2 March
        (23, "-300", "Today Physical: 0% Emotional: 0% Intellectual: 0%"),  # still 1 March
        (5, "-720", "The birth date lies after today's date."),  # still 28 February
    ],
)
def test_the_biorhythm_counts_days_in_the_handset_time_zone(
    live_server: LiveServer, clock: FakeClock, utc_hour: int, tz: str, shown: str
) -> None:
    phone = add_device(live_server.system)
    clock.set(datetime(2026, 3, 1, utc_hour, 30, tzinfo=UTC))
    with live_server.client() as client:
        handset = Handset(client, phone.mac, tz=tz)
        handset.submit(handset.open("/info/birthdate.jsp"), day="1", month="3", year="2026")
        assert shown in handset.open("/info/biorhythm.jsp").text
