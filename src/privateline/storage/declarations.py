"""How a table says what personal data it holds.

Every table privateline creates carries a declaration in its SQLAlchemy `info`:

* a **store** of personal data names the register activity it serves, whose data it
  holds (subject kind and the column that identifies the subject, if any), the column
  its retention period is counted from, and how its rows are erased; each of its
  columns lists the data categories it holds (an empty list for technical columns);
* any other table says why it holds no personal data.

`privateline check` (see `conformance`) compares these declarations with the register
and with the live database schema, so the notice cannot promise less than the
database holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Connection, Table

STORE_KEY = "privateline_store"
NOT_PERSONAL_KEY = "privateline_not_personal"
CATEGORIES_KEY = "privateline_categories"


class Erasure(StrEnum):
    DELETE = "delete"  # the row goes
    ANONYMISE = "anonymise"  # the personal columns are cleared, the rest stays
    LEGAL_HOLD = "legal_hold"  # kept until the hold ends (Art. 17(3)(b)), restricted to that purpose


# A store may sweep itself (the audit chain prunes a prefix and keeps a checkpoint);
# it returns the number of rows removed.
Sweeper = Callable[[Connection, datetime], int]


@dataclass(frozen=True)
class StoreDeclaration:
    activity: str
    subject_kind: str
    # The column naming the subject whose data a row is.  None: rows cannot be tied to
    # a person without additional information we do not hold (Art. 11 GDPR).
    subject_column: str | None
    # The column the retention period of the activity is counted from.
    anchor_column: str | None
    erasure: Erasure
    sweeper: Sweeper | None = None


def personal(*categories: str) -> dict[str, tuple[str, ...]]:
    """`info=` for a column holding the given data categories."""
    return {CATEGORIES_KEY: tuple(categories)}


def technical() -> dict[str, tuple[str, ...]]:
    """`info=` for a column of a store that holds no personal data by itself (keys, counters)."""
    return {CATEGORIES_KEY: ()}


def declare_store(table: Table, declaration: StoreDeclaration) -> Table:
    table.info[STORE_KEY] = declaration
    return table


def declare_not_personal(table: Table, why: str) -> Table:
    table.info[NOT_PERSONAL_KEY] = why
    return table


def store_of(table: Table) -> StoreDeclaration | None:
    declaration = table.info.get(STORE_KEY)
    return declaration if isinstance(declaration, StoreDeclaration) else None


def not_personal_reason(table: Table) -> str | None:
    reason = table.info.get(NOT_PERSONAL_KEY)
    return reason if isinstance(reason, str) else None


def column_categories(column: Column[object]) -> tuple[str, ...] | None:
    """The categories a column declares, or None when it declares nothing at all."""
    value = column.info.get(CATEGORIES_KEY)
    return tuple(value) if isinstance(value, tuple) else None
