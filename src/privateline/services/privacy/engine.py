"""The rights engine: one place that executes a verified subject's request over every store.

Callers (the privacy center, the portal, the DPO console, the CLI) verify identity
first and hand over a `Subject`; the engine never looks anyone up by a name, an
address or a guessable id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from privateline.kernel.clock import Clock
from privateline.kernel.consent import ConsentEvent
from privateline.kernel.requests import RequestKind, RequestState
from privateline.register.loader import LoadedRegister
from privateline.register.notice import disclosure
from privateline.services.privacy import choices, rectification
from privateline.services.privacy.erasure import ErasureReport, Resolver, erase_subject, replay_erasures
from privateline.services.privacy.gate import PurposeGate
from privateline.services.privacy.held import HeldStore, Subject, held_stores, jsonable
from privateline.services.privacy.recipients import Change, activities_of_stores, notify_recipients
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.erasure_file import ErasureFile, JournalLine
from privateline.storage.rights_requests import RightsRequests
from privateline.storage.subject_rights import ObjectionState


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

    def request_package(
        self, subject: Subject, request_id: str, lang: str, kinds: Collection[RequestKind]
    ) -> dict[str, Any] | None:
        """The package of this subject's completed request of one of `kinds` (R-2, R-6); None otherwise.

        A request of another subject, of another kind, not yet completed or unknown all get
        None alike, so a guessed id tells nothing (R-13).
        """
        with self.database.reading() as connection:
            stored = RightsRequests(connection).get(request_id)
        if (
            stored is None
            or stored.subject_kind != subject.kind
            or stored.subject != subject.pseudonym
            or stored.request.kind not in kinds
            or stored.request.state is not RequestState.COMPLETED
        ):
            return None
        request = stored.request
        return {
            "request": {
                "id": stored.id,
                "kind": request.kind.value,
                "received_at": request.received_at.isoformat(),
                "completed_at": None if request.closed_at is None else request.closed_at.isoformat(),
            },
            **self.access_package(subject, lang, request_id),
        }

    def erase(self, subject: Subject, request_id: str | None = None) -> ErasureReport:
        now = self.clock.now()
        # The line outside the database is written first: it must survive a restore.
        self.erasure_file.append(JournalLine(subject.kind, subject.pseudonym, now, request_id))
        with self.database.unit_of_work() as uow:
            report = erase_subject(
                uow.connection, self.tables, self.loaded.register, subject, now, request_id=request_id
            )
            # Art. 19: the recipients of what was erased are told, queued in this same transaction.
            erased = activities_of_stores(self.tables, [*report.erased, *report.anonymised])
            notify_recipients(uow.connection, self.loaded.register, subject, Change.ERASURE, erased, now, request_id)
            uow.commit()
        return report

    def replay(self) -> dict[str, int]:
        now = self.clock.now()
        lines = self.erasure_file.lines()
        with self.database.unit_of_work() as uow:
            removed = replay_erasures(uow.connection, self.tables, self.loaded.register, self.resolvers, lines, now)
            uow.commit()
        return removed

    # Rectification, restriction, objection, consent withdrawal (R-3, R-7, R-8, R-9) ----------

    @property
    def gate(self) -> PurposeGate:
        """The purpose gate over this engine's register: what services ask before using data."""
        return PurposeGate(self.loaded.register, self.clock)

    def rectifiable(self, subject: Subject) -> list[rectification.Field]:
        """The fields the subject provided and may correct, with what they hold now (Art. 16)."""
        with self.database.reading() as connection:
            return rectification.fields_of(connection, self.tables, subject)

    def check_rectification(self, subject: Subject, changes: Mapping[str, object]) -> list[rectification.Planned]:
        """Check changes as `rectify` would, writing nothing; raises `RectificationError`."""
        with self.database.reading() as connection:
            return rectification.plan(connection, self.tables, subject, changes, self.clock.now())

    def rectify(self, subject: Subject, changes: Mapping[str, object], request_id: str | None = None) -> list[str]:
        """Correct the subject's own data field by field, at once (Art. 16, R-3); the fields that changed.

        Every change is checked with the validator of the original input before anything
        is written; one invalid value raises `RectificationError` and changes nothing.
        """
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            written = rectification.apply(uow.connection, self.tables, subject, changes, now, request_id)
            # Art. 19: recipients of the corrected data learn the correction, in this
            # transaction, each only of the fields of the activity it receives data from.
            by_activity: dict[str, dict[str, object]] = {}
            for name, planned in written.items():
                by_activity.setdefault(planned.activity, {})[name] = planned.value
            for activity, values in sorted(by_activity.items()):
                notify_recipients(
                    uow.connection,
                    self.loaded.register,
                    subject,
                    Change.RECTIFICATION,
                    [activity],
                    now,
                    request_id,
                    {"fields": values},
                )
            uow.commit()
        return sorted(written)

    def restrict(self, subject: Subject, activity: str, request_id: str | None = None) -> list[str]:
        """Restrict the processing of `activity` (or of all, `*`) to storage (Art. 18, R-7)."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            affected = choices.restrict(uow.connection, self.loaded.register, subject, activity, now, request_id)
            uow.commit()
        return affected

    def lift_restriction(self, subject: Subject, activity: str, request_id: str | None = None) -> bool:
        """Lift the subject's restriction of `activity`: its data is used again for its purpose."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            lifted = choices.lift_restriction(uow.connection, subject, activity, now, request_id)
            uow.commit()
        return lifted

    def object_to(
        self, subject: Subject, activity: str, request_id: str | None = None, source: str = choices.SOURCE_REQUEST
    ) -> ObjectionState:
        """Record an objection (Art. 21, R-8): upheld at once, or pending for the DPO's decision."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            state = choices.object_to(uow.connection, self.loaded.register, subject, activity, now, request_id, source)
            uow.commit()
        return state

    def withdraw_consent(
        self, subject: Subject, purpose: str, request_id: str | None = None, method: str = "request"
    ) -> ConsentEvent:
        """Withdraw the subject's consent to `purpose` from now on (Art. 7(3), R-9)."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            event = choices.withdraw_consent(
                uow.connection,
                self.loaded.register,
                self.loaded.version,
                subject,
                purpose,
                now,
                request_id,
                method,
            )
            uow.commit()
        return event


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
