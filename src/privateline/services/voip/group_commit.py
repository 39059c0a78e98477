"""The SIP location's group commit: a batch of binding replacements in one transaction (DEV-4).

`GroupCommit.replace` writes what `bindings.replace_bindings` writes (the devices that may
hold bindings, one upsert of the rows, one DELETE per distinct count for the places no
longer used) and returns the numbers written.  The SIP transport runs it before it sends
the answers of a batch, so its cost is paid hundreds of times a second:

* on SQLite, the embedded default, it runs on a dedicated driver connection
  (`reads.DriverConnection`) with BEGIN IMMEDIATE and COMMIT of its own, the statements
  compiled once, and every list of numbers or devices passed as ONE JSON text that
  SQLite's `json_each` unpacks (no statement per list length).  Through a SQLAlchemy
  `Connection` a flush of eight bindings cost ~1,300 us, almost all of it the engine's
  per-statement work; SQLite's own work for it is ~100 us (measured side by side,
  docs/SIP.md "Performance");
* on PostgreSQL, where rows are locked in order against concurrent writers (see
  `bindings._writable`), it runs `replace_bindings` in a unit of work as before.

A driver error is raised as SQLAlchemy's (`DBAPIError.instance`), so the caller tells a busy
or unreachable database (OperationalError: keep the batch and retry) from a refused value
exactly as on the other path; the connection is dropped and the next batch opens a fresh one.

Not thread-safe: one transport (one event loop) owns an instance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.exc import DBAPIError

from privateline.services.devices.records import device
from privateline.services.voip.bindings import (
    BINDING_KEY,
    StoredBinding,
    places_to_clear,
    replace_bindings,
    replacement_rows,
    served,
    sip_binding,
)
from privateline.services.voip.reads import DriverConnection, Prepared
from privateline.storage.database import Database
from privateline.storage.upsert import upsert_on_sqlite_cursor


def _json_values(name: str) -> Select[Any]:
    """`SELECT value FROM json_each(:name)`: the members of a JSON array given as one text."""
    return select(func.json_each(bindparam(name)).table_valued("value").c.value)


_SERVED_OF_JSON_NUMBERS = select(device.c.number, device.c.id).where(
    served(), device.c.number.in_(_json_values("numbers"))
)
_CLEAR_PLACES_OF_JSON_DEVICES = delete(sip_binding).where(
    sip_binding.c.device_id.in_(_json_values("device_ids")), sip_binding.c.slot >= bindparam("first_unused")
)


class GroupCommit:
    """Writes batches of binding replacements for one SIP transport (see the module)."""

    def __init__(self, database: Database, connection: DriverConnection | None = None) -> None:
        """On SQLite the commit runs on `connection` (shared with the readers that watch for
        `reads.KeptReads`, so that this process's own commits do not count), or its own."""
        self.database = database
        dialect = database.engine.dialect
        self._connection = (connection or DriverConnection(database)) if dialect.name == "sqlite" else None
        # Run on SQLite only (`json_each`); compiling them once costs nothing worth sparing.
        self._served = Prepared(_SERVED_OF_JSON_NUMBERS, dialect)
        self._clear = Prepared(_CLEAR_PLACES_OF_JSON_DEVICES, dialect)

    def replace(self, replacements: Mapping[str, Sequence[StoredBinding]]) -> frozenset[str]:
        """Make each number's bindings the given ones, in one transaction; the numbers written
        (the others' devices may hold no bindings, DEV-10)."""
        if self._connection is None:
            with self.database.unit_of_work() as uow:
                written = replace_bindings(uow.connection, replacements)
                uow.commit()
            return written
        dialect = self.database.engine.dialect
        cursor = self._connection.cursor()
        statement = "BEGIN IMMEDIATE"
        try:
            cursor.execute(statement)
            try:
                statement = self._served.sql
                cursor.execute(statement, self._served.parameters({"numbers": json.dumps(sorted(replacements))}))
                writable: dict[str, int] = dict(cursor.fetchall())
                if writable:
                    statement = "upsert"
                    rows = replacement_rows(writable, replacements)
                    upsert_on_sqlite_cursor(cursor, dialect, sip_binding, rows, BINDING_KEY)
                    for count, devices in places_to_clear(writable, replacements):
                        statement = self._clear.sql
                        parameters = {"device_ids": json.dumps(devices), "first_unused": count}
                        cursor.execute(statement, self._clear.parameters(parameters))
                statement = "COMMIT"
                cursor.execute(statement)
            except BaseException:
                self._connection.close()  # closing rolls back what was not committed
                raise
        except dialect.loaded_dbapi.Error as error:
            # No parameters in the error: they are phones' contacts (personal data).
            raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error) from error
        return frozenset(writable)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


__all__ = ["GroupCommit"]
