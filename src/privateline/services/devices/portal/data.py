"""Every piece of data held about one device, found from the stores' declarations (R-2, R-6).

Nothing here lists tables by hand: every declared store whose subjects are device
owners is read for the rows whose subject column holds the device's id, and every
store that finds its subjects by pseudonym (the audit trail) for the rows holding the
device's pseudonym.  A store added later appears in the portal and in the export
without a change here.  Columns holding a password form are never read at all; they
are listed as stored but not shown.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.portal.labels import COLUMN_NOTES, PASSWORD_CATEGORY
from privateline.services.devices.records import SUBJECT, Device
from privateline.storage.declarations import column_categories, store_of

ANY_SUBJECT = "*"
PSEUDONYM_CATEGORY = "user.unique_id.pseudonymous"


@dataclass(frozen=True)
class HeldColumn:
    name: str
    categories: tuple[str, ...]
    withheld: bool  # a password form: stored, never shown or exported
    note: str | None

    @property
    def technical(self) -> bool:
        return not self.categories


@dataclass(frozen=True)
class HeldStore:
    activity: str
    table: str
    columns: tuple[HeldColumn, ...]
    rows: tuple[dict[str, Any], ...]  # values of the columns that are shown, by column name

    @property
    def shown(self) -> tuple[HeldColumn, ...]:
        return tuple(c for c in self.columns if not c.withheld)

    @property
    def withheld(self) -> tuple[HeldColumn, ...]:
        return tuple(c for c in self.columns if c.withheld)


@dataclass(frozen=True)
class HeldActivity:
    activity: str
    stores: tuple[HeldStore, ...]


def _categories(column: Column[Any]) -> tuple[str, ...]:
    return column_categories(column) or ()


def _subject_value(table: Table, device: Device, pseudonymizer: Pseudonymizer) -> object | None:
    """What the store's subject column holds for this device, or None if the store is not about devices."""
    declaration = store_of(table)
    if declaration is None or declaration.subject_column is None:
        return None
    if declaration.subject_kind == SUBJECT:
        return device.id
    subject_column = table.c[declaration.subject_column]
    if declaration.subject_kind == ANY_SUBJECT and PSEUDONYM_CATEGORY in _categories(subject_column):
        return pseudonymizer.pseudonym(SUBJECT, device.number)
    return None


def held_stores(
    connection: Connection, tables: list[Table], device: Device, pseudonymizer: Pseudonymizer
) -> list[HeldStore]:
    """The device's rows in every store about it, ordered by activity and table."""
    found: list[HeldStore] = []
    for table in sorted(tables, key=lambda t: t.name):
        key = _subject_value(table, device, pseudonymizer)
        declaration = store_of(table)
        if key is None or declaration is None or declaration.subject_column is None:
            continue
        columns = tuple(
            HeldColumn(
                name=c.name,
                categories=_categories(c),
                withheld=PASSWORD_CATEGORY in _categories(c),
                note=COLUMN_NOTES.get((table.name, c.name)),
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
    return sorted(found, key=lambda s: (s.activity != "device_factory_records", s.activity, s.table))


def by_activity(stores: list[HeldStore]) -> list[HeldActivity]:
    grouped: dict[str, list[HeldStore]] = {}
    for store in stores:
        grouped.setdefault(store.activity, []).append(store)
    return [HeldActivity(activity, tuple(items)) for activity, items in grouped.items()]


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


def export_document(
    stores: list[HeldStore], device: Device, exported_at: datetime, extra: dict[str, Any]
) -> dict[str, Any]:
    """The machine-readable copy of everything held about the device (R-6), without password forms."""
    return {
        "format": "privateline.device-data/1",
        "exported_at": exported_at.isoformat(),
        "device": {"number": device.number},
        **extra,
        "stores": [
            {
                "activity": store.activity,
                "store": store.table,
                "columns": {c.name: list(c.categories) for c in store.shown},
                "not_shown": {
                    c.name: {
                        "categories": list(c.categories),
                        "reason": "a password form: stored so the phone can sign in, never handed out",
                    }
                    for c in store.withheld
                },
                "rows": [{name: jsonable(value) for name, value in row.items()} for row in store.rows],
            }
            for store in stores
        ],
    }
