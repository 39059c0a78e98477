"""Every piece of data held about one subject, found from the stores' declarations (R-2, R-6).

Nothing here lists tables: a store whose subject kind is the subject's is read for
the rows whose subject column holds the subject's key, and a store of every kind of
subject (`*`: the audit trail, rights requests, the consent ledger) for the rows
holding the subject's pseudonym.  A store added later is found without a change here.
Password forms are never read: they are listed as stored but not shown.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from privateline.storage.declarations import StoreDeclaration, column_categories, store_of

ANY_SUBJECT = "*"
PSEUDONYM_CATEGORY = "user.unique_id.pseudonymous"
# Stored so a device or a person can sign in; never shown, exported or sent anywhere.
WITHHELD_CATEGORIES = frozenset({"user.authorization.device_password", "user.account.password"})


@dataclass(frozen=True)
class Subject:
    """A data subject as the stores know them."""

    kind: str  # a subject kind of the register, e.g. "device_owner"
    key: object  # what the subject column of this kind's stores holds, e.g. a device id
    pseudonym: str  # what stores of every kind of subject hold instead (keyed HMAC)


@dataclass(frozen=True)
class HeldColumn:
    name: str
    categories: tuple[str, ...]
    withheld: bool
    note: str | None = None

    @property
    def technical(self) -> bool:
        return not self.categories


@dataclass(frozen=True)
class HeldStore:
    activity: str
    table: str
    columns: tuple[HeldColumn, ...]
    rows: tuple[dict[str, Any], ...]  # values of the shown columns, by column name

    @property
    def shown(self) -> tuple[HeldColumn, ...]:
        return tuple(c for c in self.columns if not c.withheld)

    @property
    def withheld(self) -> tuple[HeldColumn, ...]:
        return tuple(c for c in self.columns if c.withheld)


def categories_of(column: Column[Any]) -> tuple[str, ...]:
    return column_categories(column) or ()


def subject_value(table: Table, subject: Subject) -> object | None:
    """What the store's subject column holds for this subject, or None when the store is not about them."""
    declaration = store_of(table)
    if declaration is None or declaration.subject_column is None:
        return None
    if declaration.subject_kind == subject.kind:
        return subject.key
    if declaration.subject_kind == ANY_SUBJECT and PSEUDONYM_CATEGORY in categories_of(
        table.c[declaration.subject_column]
    ):
        return subject.pseudonym
    return None


def stores_about(tables: list[Table], subject: Subject) -> list[tuple[Table, StoreDeclaration, object]]:
    found = []
    for table in sorted(tables, key=lambda t: t.name):
        declaration = store_of(table)
        key = subject_value(table, subject)
        if declaration is not None and key is not None:
            found.append((table, declaration, key))
    return found


def held_stores(
    connection: Connection,
    tables: list[Table],
    subject: Subject,
    note: Callable[[str, str], str | None] | None = None,
) -> list[HeldStore]:
    """The subject's rows in every store about them, ordered by activity and table."""
    found: list[HeldStore] = []
    for table, declaration, key in stores_about(tables, subject):
        assert declaration.subject_column is not None
        columns = tuple(
            HeldColumn(
                name=c.name,
                categories=categories_of(c),
                withheld=bool(WITHHELD_CATEGORIES.intersection(categories_of(c))),
                note=note(table.name, c.name) if note else None,
            )
            for c in table.columns
        )
        shown = [table.c[c.name] for c in columns if not c.withheld]
        query = select(*shown).where(table.c[declaration.subject_column] == key)
        primary = list(table.primary_key.columns)
        if primary:
            query = query.order_by(*primary)
        rows = tuple(dict(row._mapping) for row in connection.execute(query))
        found.append(HeldStore(declaration.activity, table.name, columns, rows))
    return sorted(found, key=lambda s: (s.activity, s.table))


def jsonable(value: object) -> object:
    """A stored value as JSON can carry it: moments and dates in ISO 8601."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
