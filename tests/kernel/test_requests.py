from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from privateline.kernel.requests import RequestKind, RequestState, RightsRequest, TransitionError

T0 = datetime(2026, 1, 31, 10, tzinfo=UTC)


def test_a_request_is_due_one_month_after_receipt_and_overdue_after() -> None:
    request = RightsRequest.receive(RequestKind.ACCESS, T0)
    assert request.due_at == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert not request.overdue(request.due_at)
    assert request.overdue(request.due_at + timedelta(seconds=1))
    done = request.verify_identity(T0).complete(T0 + timedelta(days=2))
    assert done.state is RequestState.COMPLETED and not done.overdue(T0 + timedelta(days=90))


def test_an_extension_needs_a_reason_within_the_first_month_and_adds_at_most_two_months() -> None:
    request = RightsRequest.receive(RequestKind.ERASURE, T0).verify_identity(T0).start(T0)
    with pytest.raises(TransitionError, match="reason"):
        request.extend(2, "  ", T0)
    with pytest.raises(TransitionError, match="1 to 2 months"):
        request.extend(3, "many requests", T0)
    with pytest.raises(TransitionError, match="within one month"):
        request.extend(1, "many requests", T0 + timedelta(days=40))
    extended = request.extend(2, "many requests this month", T0 + timedelta(days=5))
    assert extended.state is RequestState.EXTENDED
    assert extended.due_at == datetime(2026, 4, 28, 10, tzinfo=UTC)
    assert extended.reason == "many requests this month"


def test_nothing_is_completed_before_identity_is_verified_and_final_states_stay_final() -> None:
    request = RightsRequest.receive(RequestKind.ACCESS, T0)
    with pytest.raises(TransitionError, match="identity"):
        request.complete(T0)
    refused = request.refuse("identity could not be verified", T0)
    assert refused.state is RequestState.REFUSED and refused.closed_at == T0
    with pytest.raises(TransitionError):
        refused.verify_identity(T0)
    with pytest.raises(TransitionError, match="reason"):
        request.refuse("", T0)


def test_a_completion_may_carry_the_reason_the_subject_is_told() -> None:
    verified = RightsRequest.receive(RequestKind.OBJECTION, T0).verify_identity(T0)
    done = verified.complete(T0, "No compelling grounds: the processing stays stopped.")
    assert done.state is RequestState.COMPLETED
    assert done.reason == "No compelling grounds: the processing stays stopped."
    assert verified.complete(T0).reason is None
    with pytest.raises(TransitionError, match="not empty"):
        verified.complete(T0, "  ")
