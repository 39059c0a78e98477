"""The rights engine: one place that executes a verified subject's request over every store.

Callers (the privacy center, the portal, the DPO console, the CLI) verify identity
first and hand over a `Subject`; the engine never looks anyone up by a name, an
address or a guessable id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from privateline.kernel.clock import Clock
from privateline.register.loader import LoadedRegister
from privateline.register.notice import disclosure
from privateline.services.privacy.erasure import ErasureReport, Resolver, erase_subject, replay_erasures
from privateline.services.privacy.held import HeldStore, Subject, held_stores, jsonable
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.erasure_file import ErasureFile, JournalLine


@dataclass
class RightsEngine:
    database: Database
    tables: list[Table]
    loaded: LoadedRegister
    clock: Clock
    erasure_file: ErasureFile
    resolvers: dict[str, Resolver]

    def held(self, subject: Subject) -> list[HeldStore]:
        with self.database.reading() as connection:
            return held_stores(connection, self.tables, subject)

    def access_package(self, subject: Subject, lang: str, request_id: str | None = None) -> dict[str, Any]:
        """Everything held about the subject with what Art. 15(1) asks to be told (R-2), as JSON (R-6)."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            stores = held_stores(uow.connection, self.tables, subject)
            AuditLog(uow.connection).append(
                now, "rights.access_exported", subject.pseudonym, {"request": request_id, "stores": len(stores)}
            )
            uow.commit()
        return package_document(stores, self.loaded, subject, now, lang)

    def erase(self, subject: Subject, request_id: str | None = None) -> ErasureReport:
        now = self.clock.now()
        # The line outside the database is written first: it must survive a restore.
        self.erasure_file.append(JournalLine(subject.kind, subject.pseudonym, now, request_id))
        with self.database.unit_of_work() as uow:
            report = erase_subject(
                uow.connection, self.tables, self.loaded.register, subject, now, request_id=request_id
            )
            uow.commit()
        return report

    def replay(self) -> dict[str, int]:
        now = self.clock.now()
        lines = self.erasure_file.lines()
        with self.database.unit_of_work() as uow:
            removed = replay_erasures(uow.connection, self.tables, self.loaded.register, self.resolvers, lines, now)
            uow.commit()
        return removed


def package_document(
    stores: list[HeldStore], loaded: LoadedRegister, subject: Subject, at: datetime, lang: str
) -> dict[str, Any]:
    return {
        "format": "privateline.subject-data/1",
        "exported_at": at.isoformat(),
        "subject_kind": subject.kind,
        "processing": disclosure(loaded.register, loaded.version, sorted({s.activity for s in stores}), lang),
        "stores": [
            {
                "activity": store.activity,
                "store": store.table,
                "columns": {c.name: list(c.categories) for c in store.shown},
                "not_shown": {c.name: list(c.categories) for c in store.withheld},
                "rows": [{name: jsonable(value) for name, value in row.items()} for row in store.rows],
            }
            for store in stores
        ],
    }
