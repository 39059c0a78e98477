"""The handset texts exist in German and Dutch, every one translated, and fit a handset's font."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import privateline.services.devices.info as info_package
from privateline.services.devices.info.gigaset import MAX_SUBMIT_LABEL, PACKAGE

SOFTKEY_LABELS = ["Save"]  # the texts shown on a softkey (the forms' submit buttons)


def _catalog(lang: str) -> Catalog:
    po = resources.files(PACKAGE).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        return read_po(f, locale=lang)


def _source_messages() -> set[str]:
    found = extract_from_dir(
        str(Path(info_package.__file__).parent),
        method_map=[("**.py", "python"), ("**/templates/**.j2", "jinja2")],
        keywords=dict(DEFAULT_KEYWORDS),
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_handset_text_is_translated(lang: str) -> None:
    catalog = _catalog(lang)
    translated = {m.id for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
    sources = _source_messages()
    assert len(sources) > 60
    assert sorted(sources - translated) == []  # nothing shown in English by accident
    assert sorted({m.id for m in catalog if m.id} - sources) == []  # no stale entries
    assert list(catalog.check()) == []  # placeholders agree


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_translations_use_only_the_handset_font(lang: str) -> None:
    for message in _catalog(lang):
        if message.id and isinstance(message.string, str):
            message.string.encode("latin-1")  # ISO-8859-1, the handsets' character set


def test_english_texts_use_only_the_handset_font() -> None:
    for message in _source_messages():
        message.encode("latin-1")


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_softkey_labels_fit_the_softkey(lang: str) -> None:
    catalog = _catalog(lang)
    for label in SOFTKEY_LABELS:
        message = catalog.get(label)
        assert message is not None
        assert isinstance(message.string, str)
        assert 0 < len(message.string) <= MAX_SUBMIT_LABEL, message.string
        assert len(label) <= MAX_SUBMIT_LABEL
