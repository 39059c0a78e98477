"""The ledger's order decides between events of the same moment; refusals lapse like consents (WEB-8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from privateline.kernel.consent import ConsentEvent, ConsentEventKind, choice_pending, current_consent, lapsed

T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def event(kind: ConsentEventKind, at: datetime = T, expires: datetime | None = None) -> ConsentEvent:
    return ConsentEvent("r", "s", "web_analytics", kind, "v1", "banner", at, expires)


def test_of_two_events_at_the_same_moment_the_one_written_last_decides() -> None:
    refused, given = event(ConsentEventKind.REFUSED, expires=T + YEAR), event(ConsentEventKind.GIVEN, expires=T + YEAR)
    assert current_consent([refused, given], "web_analytics", T).given
    assert not current_consent([given, refused], "web_analytics", T).given


def test_a_refusal_is_respected_for_a_year_then_the_visitor_is_asked_again() -> None:
    refused = event(ConsentEventKind.REFUSED, expires=T + YEAR)
    state = current_consent([refused], "web_analytics", T + timedelta(days=1))
    assert not state.given and state.reason.startswith("refused")
    assert not choice_pending([refused], "web_analytics", T + YEAR - timedelta(seconds=1))
    assert choice_pending([refused], "web_analytics", T + YEAR)
    assert lapsed([refused], T + YEAR) == [refused]
    assert choice_pending([], "web_analytics", T)  # never asked
    assert not choice_pending([event(ConsentEventKind.WITHDRAWN)], "web_analytics", T + YEAR)
