"""`privateline check`: the declared stores, the register and the database must agree.

The check fails, naming the table and column, when

* a table declares neither a store nor why it holds no personal data;
* a column declares no data categories, or a category the register does not declare
  for the store's activity (the notice would understate what is held);
* a store serves an activity the register does not know;
* an activity with a retention period has no store the sweeper could sweep (the
  promise would be kept by nothing);
* the live database has a table or column that no declaration describes, or lacks
  one that is declared (the schema drifted from the migrations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, inspect

from privateline.register.model import Register
from privateline.storage.declarations import column_categories, not_personal_reason, store_of

MIGRATION_TABLES = frozenset({"alembic_version"})


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def check_declarations(
    register: Register,
    tables: list[Table],
    *,
    dormant_activities: frozenset[str] = frozenset(),
    without_store: Mapping[str, str] | None = None,
) -> CheckReport:
    """Compare the tables' declarations with the register.

    `dormant_activities` belong to parts the operator switched off; their stores may
    exist but are not used.  `without_store` names activities this version of
    privateline does not yet hold data for, with the reason; they are reported as
    notes, not hidden.
    """
    report = CheckReport()
    without_store = dict(without_store or {})
    stored_activities: set[str] = set()
    for table in tables:
        declaration = store_of(table)
        if declaration is None:
            if not_personal_reason(table) is None:
                report.problems.append(
                    f"table {table.name}: declares neither the store it is nor why it holds no personal data"
                )
            continue
        stored_activities.add(declaration.activity)
        if declaration.activity in dormant_activities:
            report.notes.append(f"table {table.name}: its activity {declaration.activity} is switched off")
            continue
        activity = register.activities.get(declaration.activity)
        if activity is None:
            report.problems.append(
                f"table {table.name}: serves activity {declaration.activity!r}, which the register does not declare"
            )
            continue
        if declaration.subject_kind != "*" and declaration.subject_kind not in activity.subjects:
            report.problems.append(
                f"table {table.name}: holds data of {declaration.subject_kind!r}, "
                f"not a subject of activity {declaration.activity}"
            )
        for name in (declaration.subject_column, declaration.anchor_column):
            if name is not None and name not in table.columns:
                report.problems.append(f"table {table.name}: declares column {name!r}, which it does not have")
        subject = register.subjects.get(declaration.subject_kind)
        for column in table.columns:
            for fk in column.foreign_keys:
                target = store_of(fk.column.table)
                if (
                    subject is not None
                    and subject.never_holds
                    and (target is None or target.subject_kind != declaration.subject_kind)
                ):
                    # DEV-5: not even a key that leads from a device to a person.
                    report.problems.append(
                        f"column {table.name}.{column.name}: a store of {declaration.subject_kind} data "
                        f"must not hold a key to {fk.column.table.name}, which is not {declaration.subject_kind} data"
                    )
            categories = column_categories(column)
            if categories is None:
                report.problems.append(
                    f"column {table.name}.{column.name}: declares no data categories (use personal(...) or technical())"
                )
                continue
            for key in categories:
                rule = subject.forbids(key) if subject is not None else None
                if rule is not None:
                    report.problems.append(
                        f"column {table.name}.{column.name}: holds {key!r}, but {declaration.subject_kind} data "
                        f"never includes {rule} (register: subjects.{declaration.subject_kind}.never_holds)"
                    )
                if key not in register.categories:
                    report.problems.append(
                        f"column {table.name}.{column.name}: category {key!r} is not in the register's taxonomy"
                    )
                elif key not in activity.categories:
                    report.problems.append(
                        f"column {table.name}.{column.name}: holds {key!r}, which activity "
                        f"{declaration.activity} does not declare in the register"
                    )
        if activity.retention.period is not None and declaration.anchor_column is None:
            report.problems.append(
                f"table {table.name}: activity {declaration.activity} keeps data for {activity.retention.period}, "
                "but the store names no anchor column to count it from"
            )
    for aid, activity in register.activities.items():
        if aid in stored_activities:
            if aid in without_store:
                report.notes.append(f"activity {aid}: has a store now; drop it from the list of activities without one")
            continue
        if aid in without_store:
            report.notes.append(f"activity {aid}: no store in this version ({without_store[aid]})")
        elif activity.retention.period is not None:
            report.problems.append(
                f"activity {aid}: keeps data for {activity.retention.period}, but no declared store holds it, "
                "so nothing would sweep it"
            )
    return report


def check_schema(engine: Engine, tables: list[Table]) -> CheckReport:
    """Compare the declared tables with the schema the database really has."""
    report = CheckReport()
    inspector = inspect(engine)
    live_tables = set(inspector.get_table_names())
    declared = {t.name: t for t in tables}
    for name in sorted(live_tables - set(declared) - MIGRATION_TABLES):
        report.problems.append(f"table {name}: exists in the database but no store declares it")
    for name, table in sorted(declared.items()):
        if name not in live_tables:
            report.problems.append(f"table {name}: is declared but missing from the database (run privateline migrate)")
            continue
        live_columns = {c["name"] for c in inspector.get_columns(name)}
        for column in sorted(live_columns - set(table.columns.keys())):
            report.problems.append(
                f"column {name}.{column}: exists in the database but is not declared, "
                "so the register cannot say what it holds"
            )
        for column in sorted(set(table.columns.keys()) - live_columns):
            report.problems.append(f"column {name}.{column}: is declared but missing from the database")
    return report


def merge(*reports: CheckReport) -> CheckReport:
    out = CheckReport()
    for r in reports:
        out.problems.extend(r.problems)
        out.notes.extend(r.notes)
    return out
