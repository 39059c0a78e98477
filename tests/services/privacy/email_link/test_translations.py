"""The e-mail channel's pages and mail exist in English, German and Dutch, every text translated."""

from __future__ import annotations

import pytest

from tests.catalogs import assert_fully_translated


@pytest.mark.parametrize("lang", ["de", "nl"])
def test_every_text_of_the_e_mail_channel_is_translated(lang: str) -> None:
    assert_fully_translated("privateline.services.privacy.email_link", lang, at_least=40, same_at_most=3)
