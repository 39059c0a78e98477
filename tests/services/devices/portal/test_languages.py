"""The portal speaks English, German and Dutch, and its catalogs translate every text it shows."""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import privateline.services.devices.portal as portal_package
from tests.services.devices.portal.conftest import PortalServer, add_device, signed_in

PACKAGE = "privateline.services.devices.portal"


@pytest.mark.parametrize(
    ("lang", "heading", "button", "services", "switch_off", "wrong"),
    [
        ("en", "Your phone", "Sign in", "Services", "Switch off", "The number or the device password is wrong."),
        (
            "de",
            "Ihr Telefon",
            "Anmelden",
            "Dienste",
            "Ausschalten",
            "Die Rufnummer oder das Gerätepasswort ist falsch.",
        ),
        (
            "nl",
            "Uw telefoon",
            "Aanmelden",
            "Diensten",
            "Uitschakelen",
            "Het nummer of het apparaatwachtwoord is onjuist.",
        ),
    ],
)
def test_the_portal_speaks_english_german_and_dutch(
    portal: PortalServer, lang: str, heading: str, button: str, services: str, switch_off: str, wrong: str
) -> None:
    record = add_device(portal.system)
    browser = portal.browser()
    page = browser.get("/device", params={"lang": lang})
    assert page.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{heading}</h1>" in page.text
    assert f">{button}</button>" in page.text
    refused = browser.sign_in(record.number, "not-the-password", lang=lang)
    assert wrong in html.unescape(refused.text)

    browser = signed_in(portal, record)
    overview = browser.get("/device", params={"lang": lang}).text
    assert f"<h2>{services}</h2>" in overview
    assert f">{switch_off}</button>" in overview
    # The forms keep the language for the page that answers them.
    assert f'action="/device/services?lang={lang}"' in overview
    answer = browser.submit(f"/device/services?lang={lang}", service="messaging", on="off")
    assert answer.headers["location"] == f"/device?lang={lang}&done=messaging_off#services"


def test_accept_language_chooses_the_language_without_a_query(portal: PortalServer) -> None:
    page = portal.browser().get("/device", headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"})
    assert page.headers["content-language"] == "nl"
    assert "<h1>Uw telefoon</h1>" in page.text


def _source_messages() -> set[str]:
    directory = Path(portal_package.__file__).parent
    found = extract_from_dir(
        str(directory),
        method_map=[("**.py", "python"), ("**/templates/**.j2", "jinja2")],
        keywords=dict(DEFAULT_KEYWORDS),
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_text_of_the_portal_is_translated(lang: str) -> None:
    po = resources.files(PACKAGE).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    translated = {m.id for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
    sources = _source_messages()
    assert len(sources) > 100
    assert sorted(sources - translated) == []  # nothing shown in English by accident
    assert sorted({m.id for m in catalog if m.id} - sources) == []  # no stale entries
    assert list(catalog.check()) == []  # placeholders agree
