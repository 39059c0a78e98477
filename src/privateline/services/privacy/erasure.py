"""Erasure across every declared store, by each store's declared strategy (R-4, Art. 17).

For every store about the subject:

* an activity whose legal basis is a legal obligation (Art. 6(1)(c): the audit trail,
  rights requests, consent proofs, tax records) keeps the rows under Art. 17(3)(b),
  restricted to that purpose, and the subject is told which and why;
* a store declared `legal_hold` keeps its rows for the hold the register states;
* a store declared `anonymise` clears its personal columns that may be empty and
  keeps what the service cannot do without (a phone's factory number and passwords);
* a store declared `delete` loses the subject's rows.

The erasure is written to the erasure journal by pseudonym, so `privateline rights
replay` can apply it again to a database restored from an older backup, and to the
audit chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update

from privateline.register.model import LawfulBasis, Register
from privateline.services.privacy.held import Subject, categories_of, stores_about
from privateline.storage.audit_log import AuditLog
from privateline.storage.declarations import Erasure
from privateline.storage.erasure_file import JournalLine
from privateline.storage.subject_rights import SubjectRights


@dataclass(frozen=True)
class Kept:
    store: str
    activity: str
    rows: int
    why: str


@dataclass
class ErasureReport:
    erased: dict[str, int] = field(default_factory=dict)  # store -> rows deleted
    anonymised: dict[str, int] = field(default_factory=dict)  # store -> rows whose personal columns were cleared
    kept: list[Kept] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "erased": self.erased,
            "anonymised": self.anonymised,
            "kept": [{"store": k.store, "activity": k.activity, "rows": k.rows, "why": k.why} for k in self.kept],
        }


def _count(connection: Connection, table: Table, column: str, key: object) -> int:
    return int(connection.execute(select(func.count()).select_from(table).where(table.c[column] == key)).scalar_one())


def erase_subject(
    connection: Connection,
    tables: list[Table],
    register: Register,
    subject: Subject,
    now: datetime,
    *,
    request_id: str | None = None,
    journal: bool = True,
) -> ErasureReport:
    report = ErasureReport()
    rights = SubjectRights(connection)
    about = stores_about(tables, subject)
    # Children before parents: a table that others point to is handled last.
    referenced = {fk.column.table.name for table, _, _ in about for c in table.columns for fk in c.foreign_keys}
    about.sort(key=lambda item: item[0].name in referenced)
    for table, declaration, key in about:
        assert declaration.subject_column is not None
        activity = register.activities.get(declaration.activity)
        rows = _count(connection, table, declaration.subject_column, key)
        if rows == 0:
            continue
        where = table.c[declaration.subject_column] == key
        if activity is not None and activity.legal_basis.gdpr is LawfulBasis.LEGAL_OBLIGATION:
            provisions = ", ".join(activity.legal_basis.provisions)
            report.kept.append(
                Kept(table.name, declaration.activity, rows, f"kept by legal obligation ({provisions}; Art. 17(3)(b))")
            )
            continue
        if declaration.erasure is Erasure.LEGAL_HOLD:
            hold = activity.retention.legal_hold if activity is not None else None
            why = f"kept for {hold.period} under {hold.basis} (Art. 17(3)(b))" if hold else "kept under a legal hold"
            report.kept.append(Kept(table.name, declaration.activity, rows, why))
            rights.restrict(subject.kind, subject.pseudonym, declaration.activity, now, request_id)
            continue
        if declaration.erasure is Erasure.ANONYMISE:
            cleared = {c.name: None for c in table.columns if categories_of(c) and c.nullable}
            if cleared:
                connection.execute(update(table).where(where).values(**cleared))
            report.anonymised[table.name] = rows
            kept_columns = [c.name for c in table.columns if categories_of(c) and not c.nullable]
            if kept_columns:
                report.kept.append(
                    Kept(
                        table.name,
                        declaration.activity,
                        rows,
                        "kept because the service needs it while it is provided: " + ", ".join(kept_columns),
                    )
                )
            continue
        connection.execute(delete(table).where(where))
        report.erased[table.name] = rows
    if journal:
        rights.journal_erasure(subject.kind, subject.pseudonym, now, report.as_json(), request_id)
        AuditLog(connection).append(
            now,
            "rights.erased",
            subject.pseudonym,
            {"request": request_id, "erased": report.erased, "anonymised": report.anonymised},
        )
    return report


# Finds, among the subjects of one kind in the database, those with the given pseudonyms.
Resolver = Callable[[Connection, set[str]], dict[str, Subject]]


def replay_erasures(
    connection: Connection,
    tables: list[Table],
    register: Register,
    resolvers: dict[str, Resolver],
    journalled: list[JournalLine],
    now: datetime,
) -> dict[str, int]:
    """Erase again every journalled subject found in this (restored) database; rows removed per store.

    Journal lines the database lacks (it was restored from before them) are written back to
    its journal table, so the DPO sees every erasure again.
    """
    removed: dict[str, int] = {}
    rights = SubjectRights(connection)
    known = {(j.subject_kind, j.subject) for j in rights.journal()}
    for kind in sorted({j.subject_kind for j in journalled}):
        resolver = resolvers.get(kind)
        lines = [j for j in journalled if j.subject_kind == kind]
        found = resolver(connection, {j.subject for j in lines}) if resolver is not None else {}
        for line in lines:
            subject = found.get(line.subject)
            if subject is not None:
                report = erase_subject(connection, tables, register, subject, now, journal=False)
                for store, rows in {**report.erased, **report.anonymised}.items():
                    removed[store] = removed.get(store, 0) + rows
                AuditLog(connection).append(now, "rights.erasure_replayed", subject.pseudonym, {})
            if (line.subject_kind, line.subject) not in known:
                rights.journal_erasure(line.subject_kind, line.subject, line.at, {"replayed": True}, line.request_id)
                known.add((line.subject_kind, line.subject))
    return removed
