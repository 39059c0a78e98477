"""The retention sweeper: remove what has outlived the register's rule (R-11).

For every declared store whose activity has a fixed retention period, rows whose
anchor lies before the cut-off are deleted, anonymised, or handed to the store's own
sweeper.  Each sweep is recorded (for the DPO console) and written to the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Integer, String, Table, delete, insert, update

from privateline.kernel.retention import retention_cut
from privateline.register.model import Register
from privateline.storage.audit_log import AuditLog
from privateline.storage.declarations import Erasure, column_categories, declare_not_personal, store_of
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

retention_sweep = declare_not_personal(
    Table(
        "retention_sweep",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", UTCDateTime, nullable=False),
        Column("activity", String(64), nullable=False),
        Column("store", String(64), nullable=False),
        Column("cutoff", UTCDateTime, nullable=False),
        Column("removed", Integer, nullable=False),
    ),
    "counts of rows removed by each retention sweep",
)


@dataclass(frozen=True)
class SweepResult:
    activity: str
    store: str
    cutoff: datetime
    removed: int


def _sweep_table(connection: Connection, table: Table, cutoff: datetime) -> int:
    declaration = store_of(table)
    assert declaration is not None
    assert declaration.anchor_column is not None
    if declaration.sweeper is not None:
        return declaration.sweeper(connection, cutoff)
    expired = table.c[declaration.anchor_column] < cutoff
    if declaration.erasure is Erasure.ANONYMISE:
        cleared = {
            c.name: None
            for c in table.columns
            if column_categories(c) and c.name != declaration.anchor_column and c.nullable
        }
        return int(connection.execute(update(table).where(expired).values(**cleared)).rowcount)
    # DELETE, and LEGAL_HOLD at the end of the hold: the register's period is the hold.
    return int(connection.execute(delete(table).where(expired)).rowcount)


def sweep(connection: Connection, register: Register, tables: list[Table], now: datetime) -> list[SweepResult]:
    results: list[SweepResult] = []
    for table in tables:
        declaration = store_of(table)
        if declaration is None or declaration.anchor_column is None:
            continue
        activity = register.activities.get(declaration.activity)
        if activity is None:
            continue  # the part is switched off; its dormant store is not ours to touch
        cut = retention_cut(declaration.activity, activity, now)
        if cut is None:
            continue
        removed = _sweep_table(connection, table, cut.cutoff)
        connection.execute(
            insert(retention_sweep).values(
                at=now, activity=declaration.activity, store=table.name, cutoff=cut.cutoff, removed=removed
            )
        )
        results.append(SweepResult(declaration.activity, table.name, cut.cutoff, removed))
    if results:
        AuditLog(connection).append(
            now,
            "retention.swept",
            None,
            {"stores": {r.store: r.removed for r in results}},
        )
    return results
