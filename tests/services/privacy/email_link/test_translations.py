"""The e-mail channel's pages and mail exist in English, German and Dutch, every text translated."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import privateline.services.privacy.email_link as email_link_package

PACKAGE = "privateline.services.privacy.email_link"


def _source_messages() -> set[str]:
    found = extract_from_dir(
        str(Path(email_link_package.__file__).parent),
        method_map=[("**.py", "python"), ("**/templates/**.j2", "jinja2")],
        keywords=dict(DEFAULT_KEYWORDS),
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_text_of_the_e_mail_channel_is_translated(lang: str) -> None:
    po = resources.files(PACKAGE).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    translated = {m.id for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
    sources = _source_messages()
    assert len(sources) > 40
    assert sorted(sources - translated) == []
    assert sorted({m.id for m in catalog if m.id} - sources) == []
    assert list(catalog.check()) == []
    same = [m.id for m in catalog if m.id and m.string == m.id]
    assert len(same) <= 3, same
