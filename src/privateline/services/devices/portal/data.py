"""Every piece of data held about one device, found from the stores' declarations (R-2, R-6).

Nothing here lists tables by hand: every declared store whose subjects are device
owners is read for the rows whose subject column holds the device's id, and every
store that finds its subjects by pseudonym (the audit trail) for the rows holding the
device's pseudonym.  A store added later appears in the portal and in the export
without a change here.  Columns holding a password form are never read at all; they
are listed as stored but not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.portal.labels import COLUMN_NOTES
from privateline.services.devices.records import Device
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.held import HeldColumn, HeldStore, jsonable
from privateline.services.privacy.held import held_stores as subject_stores

__all__ = ["HeldActivity", "HeldColumn", "HeldStore", "by_activity", "export_document", "held_stores", "jsonable"]


@dataclass(frozen=True)
class HeldActivity:
    activity: str
    stores: tuple[HeldStore, ...]


def held_stores(
    connection: Connection, tables: list[Table], device: Device, pseudonymizer: Pseudonymizer
) -> list[HeldStore]:
    """The device's rows in every store about it, the factory record first."""
    found = subject_stores(
        connection, tables, device_subject(device, pseudonymizer), note=lambda t, c: COLUMN_NOTES.get((t, c))
    )
    return sorted(found, key=lambda s: (s.activity != "device_factory_records", s.activity, s.table))


def by_activity(stores: list[HeldStore]) -> list[HeldActivity]:
    grouped: dict[str, list[HeldStore]] = {}
    for store in stores:
        grouped.setdefault(store.activity, []).append(store)
    return [HeldActivity(activity, tuple(items)) for activity, items in grouped.items()]


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
