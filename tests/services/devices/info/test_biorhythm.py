"""The biorhythm: sin(2π · days since birth / period) for 23, 28 and 33 days."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privateline.services.devices.info.biorhythm import (
    PERIODS,
    BiorhythmError,
    Cycle,
    cycle_value,
    reading,
    readings,
)

BORN = date(1980, 3, 2)


def test_the_periods_are_23_28_and_33_days() -> None:
    assert PERIODS == {Cycle.PHYSICAL: 23, Cycle.EMOTIONAL: 28, Cycle.INTELLECTUAL: 33}


def test_every_cycle_starts_at_zero_on_the_day_of_birth() -> None:
    first = reading(BORN, BORN)
    assert first.days_alive == 0
    assert (first.physical, first.emotional, first.intellectual) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("cycle", list(Cycle))
def test_whole_periods_are_exactly_zero(cycle: Cycle) -> None:
    for k in (1, 2, 7, 100, 1000):
        assert cycle_value(cycle, k * cycle.period) == 0.0


def test_quarter_and_three_quarter_periods_are_exactly_plus_and_minus_one() -> None:
    # Only the 28-day cycle has quarter periods of whole days; for 23 and 33 days the
    # nearest whole days come within 0.3 % of the peaks (see the next tests).
    for k in (0, 1, 50, 600):
        assert cycle_value(Cycle.EMOTIONAL, k * 28 + 7) == 1.0
        assert cycle_value(Cycle.EMOTIONAL, k * 28 + 21) == -1.0


def test_the_emotional_cycle_peaks_after_seven_days_and_bottoms_out_after_21() -> None:
    assert reading(BORN, BORN + timedelta(days=7)).emotional == 1.0
    assert reading(BORN, BORN + timedelta(days=14)).emotional == 0.0
    assert reading(BORN, BORN + timedelta(days=21)).emotional == -1.0


def test_quarter_periods_of_odd_cycles_are_close_to_one() -> None:
    # 23 / 4 = 5.75 days: the nearest whole days are just below the peak.
    assert cycle_value(Cycle.PHYSICAL, 6) == pytest.approx(math.sin(2 * math.pi * 6 / 23))
    assert cycle_value(Cycle.PHYSICAL, 6) > 0.99
    assert cycle_value(Cycle.INTELLECTUAL, 8) == pytest.approx(math.sin(2 * math.pi * 8 / 33))
    assert cycle_value(Cycle.INTELLECTUAL, 25) < -0.99


def test_a_known_day() -> None:
    # 1980-03-02 to 2026-03-01 is 16800 days: 16800 mod 23 = 10, mod 28 = 0, mod 33 = 3.
    day = reading(BORN, date(2026, 3, 1))
    assert day.days_alive == 16800
    assert day.physical == pytest.approx(math.sin(2 * math.pi * 10 / 23))
    assert day.emotional == 0.0
    assert day.intellectual == pytest.approx(math.sin(2 * math.pi * 3 / 33))
    assert (day.percent(Cycle.PHYSICAL), day.percent(Cycle.EMOTIONAL), day.percent(Cycle.INTELLECTUAL)) == (
        40,
        0,
        54,
    )


def test_a_display_shows_consecutive_days() -> None:
    shown = readings(BORN, date(2026, 3, 1), 3)
    assert [r.day for r in shown] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert [r.days_alive for r in shown] == [16800, 16801, 16802]


def test_no_reading_before_birth_or_for_too_many_days() -> None:
    with pytest.raises(BiorhythmError):
        reading(BORN, BORN - timedelta(days=1))
    with pytest.raises(BiorhythmError):
        readings(BORN, BORN, 0)
    with pytest.raises(BiorhythmError):
        readings(BORN, BORN, 32)


@given(days=st.integers(min_value=0, max_value=60_000), cycle=st.sampled_from(list(Cycle)))
def test_values_are_the_sine_of_the_phase(days: int, cycle: Cycle) -> None:
    value = cycle_value(cycle, days)
    assert -1.0 <= value <= 1.0
    assert value == pytest.approx(math.sin(2 * math.pi * days / cycle.period), abs=1e-9)
    assert cycle_value(cycle, days + cycle.period) == value
