"""The check every package with texts of its own makes of its de/nl gettext catalogs."""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po


def source_messages(package: str) -> set[str]:
    """Every text the package's code and templates mark for translation."""
    module = importlib.import_module(package)
    assert module.__file__ is not None
    found = extract_from_dir(
        str(Path(module.__file__).parent),
        method_map=[("**.py", "python"), ("**/templates/**.j2", "jinja2")],
        keywords=dict(DEFAULT_KEYWORDS),
    )
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def assert_fully_translated(package: str, lang: str, *, at_least: int, same_at_most: int | None = None) -> None:
    """Every source text translated, no stale entry, a valid catalog; at most `same_at_most`
    translations equal to their English source (not English with swapped headings)."""
    po = resources.files(package).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    translated = {m.id for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
    sources = source_messages(package)
    assert len(sources) > at_least
    assert sorted(sources - translated) == []
    assert sorted({m.id for m in catalog if m.id} - sources) == []
    assert list(catalog.check()) == []
    if same_at_most is not None:
        same = [m.id for m in catalog if m.id and m.string == m.id]
        assert len(same) <= same_at_most, same
