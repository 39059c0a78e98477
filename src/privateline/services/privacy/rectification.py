"""Rectification field by field (Art. 16 GDPR, R-3): what a subject may correct, checked like the original input.

A store declares, next to its table, which of its columns hold data **the subject
provided** and may therefore correct, each with the validator the original input went
through (`declare_rectifiable`).  Facts that come from the factory or the device (a
phone's number, serial, MAC, passwords, what it reports) are never declared so: they
are not the subject's statements, and "correcting" them would break the service or
the record.  The engine finds the declarations from the tables, as it finds the stores
for access and erasure, so a store added later is offered without a change here.

`plan` checks every requested change before anything is written: an unknown or
undeclared field, a value its validator refuses, or a field whose service is switched
off is a `FieldProblem` with a clear reason, and then nothing at all changes.  `apply`
writes the values in the caller's unit of work and records the rectification in the
audit chain (field names only, never the values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from privateline.services.privacy.held import Subject
from privateline.storage.audit_log import AuditLog
from privateline.storage.declarations import store_of

RECTIFIABLE_KEY = "privateline_rectifiable"


class FieldRefusedError(ValueError):
    """Raised by a field's validator: the value cannot be stored; the message says why."""


@dataclass(frozen=True)
class Rectifiable:
    """A column of a store that holds what the subject provided, and how a correction of it is checked."""

    field: str  # the name forms and callers use, unique per subject kind: "nickname", "city"
    column: str
    # The original input's validator: the value as given -> the value to store; raises
    # `FieldRefusedError` (or `ValueError`) with the reason.  The moment is for checks against today.
    clean: Callable[[object, datetime], object]
    # Writes the cleaned value for the subject whose key is given, as the service itself would.
    write: Callable[[Connection, object, object, datetime], None]
    # Whether the value can be held at all now (its service is on); None: always.
    available: Callable[[Connection, object], bool] | None = None
    unavailable: str = "this data is not held while its service is switched off"


def declare_rectifiable(table: Table, *fields: Rectifiable) -> Table:
    table.info[RECTIFIABLE_KEY] = tuple(table.info.get(RECTIFIABLE_KEY, ())) + fields
    return table


def rectifiable_of(table: Table) -> tuple[Rectifiable, ...]:
    found = table.info.get(RECTIFIABLE_KEY, ())
    return tuple(f for f in found if isinstance(f, Rectifiable))


@dataclass(frozen=True)
class Field:
    """One rectifiable field of one subject: where it lives and what it holds now."""

    name: str
    activity: str
    table: str
    current: object
    available: bool


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str  # "not_rectifiable", "unavailable" or "invalid"
    reason: str


class RectificationError(ValueError):
    """The changes cannot be made; nothing was changed."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class _Declared:
    table: Table
    activity: str
    subject_column: str
    spec: Rectifiable


def _declared(tables: list[Table], subject: Subject) -> dict[str, _Declared]:
    found: dict[str, _Declared] = {}
    for table in sorted(tables, key=lambda t: t.name):
        declaration = store_of(table)
        # Only stores of this kind of subject, keyed by the subject itself: the stores of
        # every subject (audit trail, requests) hold the controller's records, not the subject's input.
        if declaration is None or declaration.subject_kind != subject.kind or declaration.subject_column is None:
            continue
        for spec in rectifiable_of(table):
            found[spec.field] = _Declared(table, declaration.activity, declaration.subject_column, spec)
    return found


def _current(connection: Connection, declared: _Declared, subject: Subject) -> object:
    table = declared.table
    query = select(table.c[declared.spec.column]).where(table.c[declared.subject_column] == subject.key)
    return connection.execute(query).scalar_one_or_none()


def _available(connection: Connection, declared: _Declared, subject: Subject) -> bool:
    check = declared.spec.available
    return True if check is None else check(connection, subject.key)


def fields_of(connection: Connection, tables: list[Table], subject: Subject) -> list[Field]:
    """Every field the subject may rectify, with its current value, in the order of the stores."""
    return [
        Field(name, d.activity, d.table.name, _current(connection, d, subject), _available(connection, d, subject))
        for name, d in _declared(tables, subject).items()
    ]


@dataclass(frozen=True)
class Planned:
    field: str
    activity: str
    declared: _Declared
    value: object
    changed: bool


def plan(
    connection: Connection, tables: list[Table], subject: Subject, changes: Mapping[str, object], now: datetime
) -> list[Planned]:
    """Check every change; raises `RectificationError` naming each problem, else the cleaned values."""
    declared = _declared(tables, subject)
    problems: list[FieldProblem] = []
    planned: list[Planned] = []
    for name, value in changes.items():
        found = declared.get(name)
        if found is None:
            problems.append(
                FieldProblem(
                    name,
                    "not_rectifiable",
                    f"{name!r} is not data the subject provided; it cannot be rectified this way",
                )
            )
            continue
        if not _available(connection, found, subject):
            problems.append(FieldProblem(name, "unavailable", found.spec.unavailable))
            continue
        try:
            cleaned = found.spec.clean(value, now)
        except ValueError as exc:
            problems.append(FieldProblem(name, "invalid", str(exc)))
            continue
        planned.append(Planned(name, found.activity, found, cleaned, cleaned != _current(connection, found, subject)))
    if problems:
        raise RectificationError(problems)
    return planned


def apply(
    connection: Connection,
    tables: list[Table],
    subject: Subject,
    changes: Mapping[str, object],
    now: datetime,
    request_id: str | None,
) -> dict[str, Planned]:
    """Check all, then write what differs from what is stored; the fields written, by name."""
    written = {p.field: p for p in plan(connection, tables, subject, changes, now) if p.changed}
    for item in written.values():
        item.declared.spec.write(connection, subject.key, item.value, now)
    detail: dict[str, Any] = {"request": request_id, "fields": sorted(written)}
    AuditLog(connection).append(now, "rights.rectified", subject.pseudonym, detail)
    return written
