from __future__ import annotations

from datetime import UTC, datetime

import pytest

from privateline.register.periods import RetentionPeriod


def test_calendar_months_are_counted_as_months() -> None:
    period = RetentionPeriod.parse("26 months")
    assert period.before(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2024, 1, 31, tzinfo=UTC)


def test_periods_read_and_print_alike() -> None:
    assert str(RetentionPeriod.parse("1 year")) == "1 year"
    assert str(RetentionPeriod.parse("7 days")) == "7 days"


@pytest.mark.parametrize("text", ["seven days", "7", "0 days", "7 fortnights", "-1 day"])
def test_malformed_periods_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. '7 days'"):
        RetentionPeriod.parse(text)
