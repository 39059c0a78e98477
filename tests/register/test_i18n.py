from __future__ import annotations

from importlib import resources

import pytest
from babel.messages.pofile import read_po

from privateline.register.i18n import negotiate, translations
from privateline.register.loader import load_register
from privateline.register.notice import notice_view, render_notice

HEADINGS = [
    "Privacy notice",
    "Your rights",
    "What we process and why",
    "Changes to this notice",
    "Legal basis",
]


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_catalog_entry_is_translated(lang: str) -> None:
    po = resources.files("privateline.register").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    missing = [
        m.id for m in catalog if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert missing == []
    assert list(catalog.check()) == []


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_the_notice_is_written_in_the_language_asked_for(lang: str) -> None:
    loaded = load_register()
    html = render_notice(notice_view(loaded.register, loaded.version, lang), "html")
    gettext = translations(lang).gettext
    for heading in HEADINGS:
        assert gettext(heading) != heading
        assert gettext(heading) in html
        assert f">{heading}<" not in html
    assert f'<html lang="{lang}">' in html
    for activity in loaded.register.activities.values():
        assert activity.purpose.get(lang) in html.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')


@pytest.mark.parametrize(
    ("query", "header", "chosen"),
    [
        ("de", "nl", "de"),
        (None, "nl-BE,nl;q=0.9,en;q=0.5", "nl"),
        (None, "fr-FR, de;q=0.7, en;q=0.8", "en"),
        (None, "fr", "en"),
        ("xx", "de-AT", "de"),
        (None, None, "en"),
        (None, "de;q=0, nl;q=0.1", "nl"),
    ],
)
def test_the_language_comes_from_the_query_then_accept_language(
    query: str | None, header: str | None, chosen: str
) -> None:
    assert negotiate(query, header) == chosen
