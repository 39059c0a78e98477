"""The consent ledger's store: every consent event, append-only (Art. 7(1), WEB-8, R-9).

Rows are only ever inserted: giving, withdrawing and expiring are each a new row, so
the ledger proves what the subject chose, when, on which version of the notice and
how it was collected.  Subjects appear only as keyed pseudonyms; the receipt id
(`record_id`) is what a website visitor keeps in their browser to prove that a
consent is theirs.  Rows are swept one year after they were written (WEB-8).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, Connection, Integer, String, Table, insert, select

from privateline.kernel.consent import ConsentEvent, ConsentEventKind, ConsentState, current_consent, lapsed
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "website_consent_records"
_RECORD = "user.consent.record"

consent_event = declare_store(
    Table(
        "consent_event",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("record_id", String(64), nullable=False, index=True, info=personal("user.unique_id.pseudonymous")),
        Column("subject", String(64), nullable=False, index=True, info=personal("user.unique_id.pseudonymous")),
        Column("purpose", String(64), nullable=False, info=personal(_RECORD)),
        Column("kind", String(16), nullable=False, info=personal(_RECORD)),
        Column("register_version", String(32), nullable=False, info=personal(_RECORD)),
        Column("method", String(32), nullable=False, info=personal(_RECORD)),
        Column("at", UTCDateTime, nullable=False, index=True, info=personal(_RECORD)),
        Column("expires_at", UTCDateTime, nullable=True, info=personal(_RECORD)),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        # Any kind of subject may give a consent (a website visitor in the banner, a device
        # owner in the portal where the register asks one): the subject column holds the
        # keyed pseudonym, so each subject's access package and erasure find their events.
        subject_kind="*",
        subject_column="subject",
        anchor_column="at",
        erasure=Erasure.DELETE,
    ),
)


def _event(row: object) -> ConsentEvent:
    m = row._mapping  # type: ignore[attr-defined]
    return ConsentEvent(
        record_id=m["record_id"],
        subject=m["subject"],
        purpose=m["purpose"],
        kind=ConsentEventKind(m["kind"]),
        register_version=m["register_version"],
        method=m["method"],
        at=m["at"],
        expires_at=m["expires_at"],
    )


class ConsentLedger:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def append(self, events: Iterable[ConsentEvent]) -> None:
        rows = [
            {
                "record_id": e.record_id,
                "subject": e.subject,
                "purpose": e.purpose,
                "kind": e.kind.value,
                "register_version": e.register_version,
                "method": e.method,
                "at": e.at,
                "expires_at": e.expires_at,
            }
            for e in events
        ]
        if rows:
            self._c.execute(insert(consent_event), rows)

    def events_of(self, subject: str) -> list[ConsentEvent]:
        query = select(consent_event).where(consent_event.c.subject == subject).order_by(consent_event.c.id)
        return [_event(r) for r in self._c.execute(query)]

    def events_of_record(self, record_id: str) -> list[ConsentEvent]:
        query = select(consent_event).where(consent_event.c.record_id == record_id).order_by(consent_event.c.id)
        return [_event(r) for r in self._c.execute(query)]

    def current(self, subject: str, purpose: str, now: datetime) -> ConsentState:
        return current_consent(self.events_of(subject), purpose, now)

    def record_expiries(self, now: datetime) -> int:
        """Write an "expired" event for each given consent whose time is up (WEB-8: ask again)."""
        query = select(consent_event).where(consent_event.c.expires_at <= now)
        candidates = {(e.subject, e.purpose) for e in (_event(r) for r in self._c.execute(query))}
        expired: list[ConsentEvent] = []
        for subject in {s for s, _ in candidates}:
            for event in lapsed(self.events_of(subject), now):
                if (event.subject, event.purpose) in candidates:
                    expired.append(
                        ConsentEvent(
                            event.record_id,
                            event.subject,
                            event.purpose,
                            ConsentEventKind.EXPIRED,
                            event.register_version,
                            "expiry",
                            now,
                        )
                    )
        self.append(expired)
        return len(expired)
