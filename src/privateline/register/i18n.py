"""Translations of the notice's fixed texts (Babel catalogs for de and nl).

The texts that describe processing (purposes, names of activities) are written in all
three languages in the register itself; the fixed texts around them (headings, the
rights, legal bases, units) live in gettext catalogs under `locale/`.  The `.po`
files are compiled in memory on first use, so there is no build step to forget.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from privateline.register.model import LANGUAGES

DEFAULT_LANGUAGE = "en"


@cache
def package_translations(package: str, lang: str) -> NullTranslations:
    """The gettext catalog `locale/<lang>/LC_MESSAGES/messages.po` of a package, compiled in memory.

    Each part of privateline with texts of its own (the notice, the handset menus, the
    portal pages) keeps its catalog beside its code; English is the source language.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    po = resources.files(package).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def translations(lang: str) -> NullTranslations:
    """The notice's catalog."""
    return package_translations("privateline.register", lang)


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """`?lang=` wins; otherwise the best match from Accept-Language; otherwise English."""
    if requested:
        short = requested.strip().lower()[:2]
        if short in LANGUAGES:
            return short
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for position, item in enumerate(accept_language.split(",")):
            tag, _, params = item.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            short = tag.strip().lower()[:2]
            if short in LANGUAGES and quality > 0:
                ranked.append((-quality, position, short))
        if ranked:
            return min(ranked)[2]
    return DEFAULT_LANGUAGE
