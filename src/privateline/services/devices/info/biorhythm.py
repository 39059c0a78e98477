"""The biorhythm information service (DEV-6): three sine curves that start at birth.

The classic biorhythm has a physical cycle of 23 days, an emotional one of 28 days and
an intellectual one of 33 days; each day's value is sin(2π · days since birth / period),
between -1 and +1.  Nothing here touches the database or the clock: the caller passes
the birth date from the owner's profile and the day to show, so the same inputs always
give the same readings (and the tests can check them against known values).

The day count is reduced modulo the period before the sine is taken.  Mathematically
that changes nothing, but it keeps the argument small, so whole and quarter periods give
exactly 0, +1 and -1 instead of rounding noise like 1e-16, and a value that is 0 shows as
0 %, not as -0 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

# How many days one reading screen shows: today and the next two days fit a handset display.
DISPLAY_DAYS = 3
MAX_DAYS = 31


class Cycle(StrEnum):
    PHYSICAL = "physical"
    EMOTIONAL = "emotional"
    INTELLECTUAL = "intellectual"

    @property
    def period(self) -> int:
        """The cycle's length in days."""
        return PERIODS[self]


PERIODS: dict[Cycle, int] = {Cycle.PHYSICAL: 23, Cycle.EMOTIONAL: 28, Cycle.INTELLECTUAL: 33}


class BiorhythmError(ValueError):
    """A reading that cannot be made (a day before the birth date, too many days)."""


@dataclass(frozen=True)
class Reading:
    """The three values of one day, each between -1 and +1."""

    day: date
    days_alive: int
    physical: float
    emotional: float
    intellectual: float

    def value(self, cycle: Cycle) -> float:
        return {Cycle.PHYSICAL: self.physical, Cycle.EMOTIONAL: self.emotional, Cycle.INTELLECTUAL: self.intellectual}[
            cycle
        ]

    def percent(self, cycle: Cycle) -> int:
        """The value as a whole percentage (-100 to 100), as a display shows it."""
        return round(self.value(cycle) * 100) + 0  # "+ 0" turns -0 into 0


def days_alive(born: date, day: date) -> int:
    if day < born:
        raise BiorhythmError("the day lies before the birth date")
    return (day - born).days


def cycle_value(cycle: Cycle, days: int) -> float:
    """sin(2π · days / period), with the day count reduced to one period (see the module doc)."""
    phase = days % cycle.period
    quarter, remainder = divmod(phase * 4, cycle.period)
    if remainder == 0:  # a whole quarter period: the exact value, not rounding noise
        return (0.0, 1.0, 0.0, -1.0)[quarter]
    return math.sin(2 * math.pi * phase / cycle.period)


def reading(born: date, day: date) -> Reading:
    alive = days_alive(born, day)
    return Reading(
        day=day,
        days_alive=alive,
        physical=cycle_value(Cycle.PHYSICAL, alive),
        emotional=cycle_value(Cycle.EMOTIONAL, alive),
        intellectual=cycle_value(Cycle.INTELLECTUAL, alive),
    )


def readings(born: date, first: date, days: int = DISPLAY_DAYS) -> list[Reading]:
    """The readings of `days` consecutive days from `first`, for a display."""
    if not 1 <= days <= MAX_DAYS:
        raise BiorhythmError(f"a display shows 1 to {MAX_DAYS} days")
    return [reading(born, first + timedelta(days=offset)) for offset in range(days)]
