"""`/privacy-center`: the rights in brief, the controller, the DPO and the supervisory authority with
postal address, phone and e-mail, and where each kind of data subject goes (R-1, R-10)."""

from __future__ import annotations

import html
import re

import httpx
import pytest
import yaml

from privateline.register.i18n import translations
from privateline.register.loader import LoadedRegister, parse_register
from privateline.register.notice import disclosure
from tests.catalogs import assert_fully_translated
from tests.services.privacy.center.conftest import Serve

PACKAGE = "privateline.services.privacy.center"


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return html.unescape(page[start : page.index("</section>", start)])


@pytest.mark.promise("R-1", "R-10")
@pytest.mark.parametrize("lang", ["en", "de", "nl"])
def test_the_privacy_center_names_controller_dpo_and_authority_and_the_right_to_complain(
    center: httpx.Client, shipped: LoadedRegister, lang: str
) -> None:
    register = shipped.register
    response = center.get("/privacy-center", params={"lang": lang})
    assert response.status_code == 200
    assert response.headers["content-language"] == lang
    page = response.text
    assert f'<html lang="{lang}">' in page
    notice = translations(lang).gettext
    for section_id, party, role in (
        ("controller", register.controller, "Controller"),
        ("dpo", register.dpo, "Data protection officer"),
        ("authority", register.supervisory_authority, "Supervisory authority"),
    ):
        shown = _section(page, section_id)
        assert f"<h3>{notice(role)}</h3>" in shown
        assert party.name in shown
        assert party.address.street in shown
        assert f"{party.address.postcode} {party.address.city}" in shown
        assert party.phone in shown
        assert f'href="mailto:{party.email}"' in shown
    # The right to complain, in the notice's words and in the page's own, naming Art. 77.
    rights = _section(page, "rights")
    assert f"<dt>{notice('Complaint')}</dt>" in rights
    assert "77" in html.unescape(page[page.index('id="complaint"') :].split("</p>", 1)[0])
    # Every right of the notice, in the same words.
    told = disclosure(shipped.register, shipped.version, [], lang)["rights"]
    assert len(told) >= 8
    for right in told:
        assert f"<dt>{right['right']}</dt>\n  <dd>{right['text']}</dd>" in rights


@pytest.mark.parametrize(
    ("lang", "who", "link", "customers"),
    [
        (
            "en",
            "Who are you?",
            "Sign in with your phone",
            "This installation has no customer accounts yet, so it holds no data about customers.",
        ),
        (
            "de",
            "Wer sind Sie?",
            "Mit Ihrem Telefon anmelden",
            "Diese Installation hat noch keine Kundenkonten und speichert daher keine Daten über Kundinnen und Kunden.",
        ),
        (
            "nl",
            "Wie bent u?",
            "Aanmelden met uw telefoon",
            "Deze installatie heeft nog geen klantaccounts en bewaart dus geen gegevens over klanten.",
        ),
    ],
    ids=["en", "de", "nl"],
)
def test_device_owners_are_sent_to_their_phone_and_everyone_else_is_told_plainly_what_exists(
    center: httpx.Client, shipped: LoadedRegister, lang: str, who: str, link: str, customers: str
) -> None:
    page = center.get("/privacy-center", params={"lang": lang}).text
    assert f"<h2>{who}</h2>" in page
    assert f'<a id="device-owner-link" href="/device/rights?lang={lang}">{link}</a>' in page
    assert customers in _section(page, "customer")
    newsletter, visitor = _section(page, "newsletter"), _section(page, "visitor")
    # Newsletter recipients prove who they are by a link sent to their address; the
    # form says the answer is the same for every address.
    assert f'<form method="post" action="/privacy-center/email?lang={lang}" id="newsletter-form">' in newsletter
    assert '<input id="newsletter-address" name="address" type="email" required' in newsletter
    sent, same = {
        "en": ("Send me the link", "we answer the same way"),
        "de": ("Link an mich senden", "unsere Antwort ist dieselbe"),
        "nl": ("Stuur mij de link", "ons antwoord is hetzelfde"),
    }[lang]
    assert f'<button type="submit">{sent}</button>' in newsletter
    assert same in newsletter
    assert {"en": "30 minutes", "de": "30 Minuten", "nl": "30 minuten"}[lang] in newsletter
    # Website visitors prove who they are with their browser's cookie settings.
    assert f'<a id="visitor-link" href="/cookie-settings?lang={lang}">' in visitor
    # Where to write instead: the DPO's postal and e-mail address, right there.
    dpo = shipped.register.dpo
    write = html.unescape(
        page[page.index('id="write-to-dpo"') : page.index("</address>", page.index('id="dpo-address"'))]
    )
    for shown in (dpo.name, dpo.address.street, f"{dpo.address.postcode} {dpo.address.city}", dpo.email):
        assert shown in write


def test_the_language_follows_accept_language_and_the_page_sets_no_cookie(center: httpx.Client) -> None:
    response = center.get("/privacy-center", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert response.headers["content-language"] == "de"
    assert "<h1>Datenschutzcenter</h1>" in response.text
    assert "set-cookie" not in response.headers
    assert center.get("/privacy-center").headers["content-language"] == "en"
    links = re.findall(r'<a href="(/privacy-center\?lang=\w\w)" hreflang', response.text)
    assert links == ["/privacy-center?lang=en", "/privacy-center?lang=de", "/privacy-center?lang=nl"]


def test_the_parties_come_from_the_register_in_use(serve_center: Serve, shipped: LoadedRegister) -> None:
    assert shipped.register.uses_example_values
    example = serve_center(shipped).get("/privacy-center").text
    assert "still shows example values" in example

    data = yaml.safe_load(shipped.register.model_dump_json())
    data["dpo"].update(name="Dr. Jan de Vries", phone="+31 20 555 0199", email="fg@operator.example.nl")
    data["dpo"]["address"].update(street="Keizersgracht 100", postcode="1015 AA", city="Amsterdam", country="NL")
    data["controller"].update(name="Operator Telecom B.V.")
    changed = parse_register(yaml.safe_dump(data, allow_unicode=True), "operator.yaml")
    page = serve_center(changed).get("/privacy-center", params={"lang": "nl"}).text
    dpo = _section(page, "dpo")
    assert "Dr. Jan de Vries" in dpo and "Keizersgracht 100" in dpo and "1015 AA Amsterdam" in dpo
    assert "+31 20 555 0199" in dpo and "fg@operator.example.nl" in dpo
    assert "Operator Telecom B.V." in _section(page, "controller")
    assert "Keizersgracht 100" in html.unescape(page[page.index('id="dpo-address"') :])
    assert shipped.register.dpo.email not in page


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_text_of_the_privacy_center_is_translated(lang: str) -> None:
    assert_fully_translated(PACKAGE, lang, at_least=20)
