"""Retention periods as an operator writes them: "7 days", "26 months", "10 years".

Months and years are calendar units (26 months after 31 January is the last day of
March two years later), so they are added with `dateutil.relativedelta`, not as a fixed
number of days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from dateutil.relativedelta import relativedelta
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

Unit = Literal["day", "week", "month", "year"]

_PATTERN = re.compile(r"^\s*([1-9][0-9]{0,4})\s+(day|week|month|year)s?\s*$")


@dataclass(frozen=True, slots=True)
class RetentionPeriod:
    count: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> RetentionPeriod:
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a period: write a whole number and a unit, e.g. '7 days', '26 months', '10 years'"
            )
        unit: Unit = match.group(2)  # type: ignore[assignment]
        return cls(int(match.group(1)), unit)

    def delta(self) -> relativedelta:
        if self.unit == "day":
            return relativedelta(days=self.count)
        if self.unit == "week":
            return relativedelta(weeks=self.count)
        if self.unit == "month":
            return relativedelta(months=self.count)
        return relativedelta(years=self.count)

    def before(self, moment: datetime) -> datetime:
        """The moment this period before `moment`: rows anchored earlier have expired."""
        result: datetime = moment - self.delta()
        return result

    def after(self, moment: datetime) -> datetime:
        result: datetime = moment + self.delta()
        return result

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


def _coerce(value: object) -> RetentionPeriod:
    if isinstance(value, RetentionPeriod):
        return value
    if isinstance(value, str):
        return RetentionPeriod.parse(value)
    raise ValueError("must be a period written as text, e.g. '7 days'")


Period = Annotated[
    RetentionPeriod,
    BeforeValidator(_coerce),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _PATTERN.pattern}),
]
