"""The signed link token and the address's normalisation, checked against a fake clock (R-13)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from privateline.kernel.clock import FakeClock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.privacy.email_link.address import normalised, pseudonym, pseudonym_resolver
from privateline.services.privacy.email_link.link import CLOCK_SKEW, LIFETIME, LinkTokens
from privateline.services.privacy.held import Subject

KEY = b"k" * 32
PSEUDONYM = "ab" * 32


def test_a_token_is_valid_for_thirty_minutes_by_the_instance_clock() -> None:
    clock = FakeClock()
    tokens = LinkTokens(KEY)
    token = tokens.issue("newsletter_recipient", PSEUDONYM, clock.now())
    claim = tokens.read(token, clock.now())
    assert claim is not None
    assert (claim.subject_kind, claim.pseudonym, claim.expires_at) == (
        "newsletter_recipient",
        PSEUDONYM,
        clock.now() + LIFETIME,
    )
    assert tokens.read(token, clock.now() + LIFETIME - timedelta(seconds=1)) is not None
    assert tokens.read(token, clock.now() + LIFETIME) is None
    # Issued "in the future" beyond a little clock skew: not ours to believe.
    assert tokens.read(token, clock.now() - CLOCK_SKEW - timedelta(seconds=1)) is None
    # Two tokens for one address differ: each carries its own nonce.
    again = tokens.issue("newsletter_recipient", PSEUDONYM, clock.now())
    other = tokens.read(again, clock.now())
    assert again != token and other is not None and other.nonce != claim.nonce


@pytest.mark.parametrize("token", [None, "", "x", "a" * 600, 42, "e30.c2lnbmF0dXJl"])
def test_what_is_not_a_genuine_token_reads_as_nothing(token: object) -> None:
    assert LinkTokens(KEY).read(token, FakeClock().now()) is None


def test_a_token_of_another_key_reads_as_nothing() -> None:
    clock = FakeClock()
    token = LinkTokens(b"o" * 32).issue("newsletter_recipient", PSEUDONYM, clock.now())
    assert LinkTokens(KEY).read(token, clock.now()) is None
    assert "k" * 32 not in repr(LinkTokens(KEY))


def test_addresses_are_compared_without_case_and_blanks_and_only_real_ones_are_taken() -> None:
    assert normalised("  Anna.Schmidt@Example.ORG\n") == "anna.schmidt@example.org"
    assert normalised("jörg@müller.example") == "jörg@müller.example"
    assert normalised("a+news@sub.example.co.uk") == "a+news@sub.example.co.uk"
    for text in (
        "",
        "anna",
        "a@b",
        "a@b@c.de",
        "a..b@x.de",
        ".a@x.de",
        "a b@x.de",
        "a@-x.de",
        "a@x_y.de",
        "a@192.0.2.1",
        '"a"@x.de',
        "a@x.de\r\nBcc: b@y.de",
        "x" * 65 + "@x.de",
    ):
        assert normalised(text) is None, text
    pseudonymizer = Pseudonymizer(b"p" * 32)
    assert pseudonym(pseudonymizer, "anna@example.org") == pseudonymizer.pseudonym(
        "newsletter_recipient", "anna@example.org"
    )
    assert pseudonym(pseudonymizer, "anna@example.org") != pseudonym(pseudonymizer, "anna@example.org", "customer")


def test_a_subject_known_by_pseudonym_alone_resolves_to_itself() -> None:
    resolve = pseudonym_resolver("newsletter_recipient")
    found = resolve(None, {PSEUDONYM})  # type: ignore[arg-type]  # no lookup: the connection is not used
    assert found == {PSEUDONYM: Subject("newsletter_recipient", PSEUDONYM, PSEUDONYM)}
