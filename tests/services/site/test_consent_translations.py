"""The banner and the cookie settings exist in English, German and Dutch, every text translated."""

from __future__ import annotations

import pytest

from tests.catalogs import assert_fully_translated


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_text_of_the_banner_and_the_settings_is_translated(lang: str) -> None:
    assert_fully_translated("privateline.services.site.consent", lang, at_least=30, same_at_most=3)
