from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from privateline.kernel.consent import ConsentEvent, ConsentEventKind, current_consent, lapsed
from privateline.kernel.gate import Facts, Ground, Use, decide

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
YEAR = timedelta(days=365)


def event(
    kind: ConsentEventKind, at: datetime, purpose: str = "web_analytics", expires: datetime | None = None
) -> ConsentEvent:
    return ConsentEvent("rec-1", "subject-p", purpose, kind, "v1", "banner", at, expires)


def test_withdrawal_ends_consent_from_then_on_and_not_before() -> None:
    events = [
        event(ConsentEventKind.GIVEN, T0, expires=T0 + YEAR),
        event(ConsentEventKind.WITHDRAWN, T0 + timedelta(days=3)),
    ]
    assert current_consent(events, "web_analytics", T0 + timedelta(days=1)).given
    after = current_consent(events, "web_analytics", T0 + timedelta(days=4))
    assert not after.given and after.reason.startswith("withdrawn")
    assert not current_consent(events, "event_analytics", T0 + timedelta(days=1)).given


def test_a_consent_lapses_at_its_expiry_and_is_found_for_the_sweeper() -> None:
    events = [event(ConsentEventKind.GIVEN, T0, expires=T0 + YEAR)]
    assert current_consent(events, "web_analytics", T0 + YEAR - timedelta(seconds=1)).given
    late = current_consent(events, "web_analytics", T0 + YEAR)
    assert not late.given and "expired" in late.reason
    assert lapsed(events, T0 + YEAR) == events
    renewed = [*events, event(ConsentEventKind.GIVEN, T0 + YEAR + timedelta(days=1), expires=T0 + 2 * YEAR)]
    assert lapsed(renewed, T0 + YEAR + timedelta(days=2)) == []


def test_the_gate_answers_with_a_reason() -> None:
    consent = current_consent([event(ConsentEventKind.GIVEN, T0, expires=T0 + YEAR)], "web_analytics", T0)
    on_consent = Facts("a", consent_required=True, direct_marketing=False, consent=consent)
    assert decide(on_consent)
    assert not decide(Facts("a", consent_required=True, direct_marketing=False))
    assert decide(Facts("b", consent_required=False, direct_marketing=False)).reason == "Art. 6(1)(b) GDPR"


def test_restricted_data_is_only_stored() -> None:
    facts = Facts("b", consent_required=False, direct_marketing=False, restricted=True)
    assert not decide(facts, Use.PROCESS)
    assert decide(facts, Use.STORE)


def test_objection_to_marketing_is_unconditional_and_to_interests_needs_compelling_grounds() -> None:
    marketing = Facts("f", consent_required=False, direct_marketing=True, objected=True, compelling_grounds=True)
    assert not decide(marketing)
    interests = Facts("f", consent_required=False, direct_marketing=False, objected=True)
    assert not decide(interests)
    weighed = Facts("f", consent_required=False, direct_marketing=False, objected=True, compelling_grounds=True)
    assert decide(weighed)


def test_a_switched_off_service_is_not_used() -> None:
    assert not decide(Facts("b", consent_required=False, direct_marketing=False, switched_off=True))


def test_the_verdict_names_its_ground_for_the_message_a_service_shows() -> None:
    restricted = Facts("b", consent_required=False, direct_marketing=False, restricted=True, switched_off=True)
    assert decide(restricted).ground is Ground.RESTRICTED  # a restriction is the first thing said
    assert decide(restricted, Use.STORE).ground is Ground.STORED_ONLY
    off = Facts("b", consent_required=False, direct_marketing=False, switched_off=True)
    assert decide(off).ground is Ground.SWITCHED_OFF
    objected = Facts("f", consent_required=False, direct_marketing=True, objected=True)
    assert decide(objected).ground is Ground.OBJECTED
    assert decide(Facts("a", consent_required=True, direct_marketing=False)).ground is Ground.NO_CONSENT
    assert decide(Facts("b", consent_required=False, direct_marketing=False)).ground is Ground.LEGAL_BASIS


@pytest.mark.promise("R-9")
def test_after_a_withdrawal_the_gate_refuses_and_what_came_before_stays_lawful() -> None:
    events = [
        event(ConsentEventKind.GIVEN, T0, expires=T0 + YEAR),
        event(ConsentEventKind.WITHDRAWN, T0 + timedelta(days=10)),
    ]

    def at(moment: datetime) -> Facts:
        state = current_consent(events, "web_analytics", moment)
        return Facts("a", consent_required=True, direct_marketing=False, consent=state)

    before = decide(at(T0 + timedelta(days=9)))
    assert before and before.ground is Ground.CONSENT
    after = decide(at(T0 + timedelta(days=10)))
    assert not after and after.ground is Ground.NO_CONSENT and "withdrawn" in after.reason
