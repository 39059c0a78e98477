from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table

from privateline.app.system import System
from privateline.register.loader import load_register
from privateline.storage.conformance import check_declarations
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical


def test_check_passes_on_the_shipped_register(system: System) -> None:
    report = system.check()
    assert report.problems == []


def test_an_undeclared_personal_data_column_in_the_database_fails_check_by_name(system: System) -> None:
    with system.database.engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE access_log ADD COLUMN visitor_email VARCHAR(200)")
    report = system.check()
    assert not report.passed
    assert any("access_log.visitor_email" in p and "not declared" in p for p in report.problems)


def test_an_undeclared_table_in_the_database_fails_check(system: System) -> None:
    with system.database.engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE shadow_contacts (email VARCHAR(200))")
    assert any("table shadow_contacts" in p for p in system.check().problems)


def _store(categories: tuple[str, ...], activity: str = "website_access_log") -> Table:
    table = Table(
        "probe",
        MetaData(),
        Column("id", Integer, primary_key=True, info=technical()),
        Column("at", String, info=personal("user.behavior.browsing_history")),
        Column("data", String, info=personal(*categories)),
    )
    return declare_store(table, StoreDeclaration(activity, "website_visitor", None, "at", Erasure.DELETE))


def test_a_column_holding_a_category_its_activity_does_not_declare_fails_check() -> None:
    register = load_register().register
    report = check_declarations(
        register, [_store(("user.contact.email",))], without_store=_others("website_access_log")
    )
    assert report.problems == [
        "column probe.data: holds 'user.contact.email', which activity website_access_log "
        "does not declare in the register"
    ]


def test_a_column_without_any_declaration_fails_check() -> None:
    register = load_register().register
    table = _store(("user.device.ip_address",))
    table.append_column(Column("note", String))
    report = check_declarations(register, [table], without_store=_others("website_access_log"))
    assert any("probe.note: declares no data categories" in p for p in report.problems)


def test_an_activity_with_a_retention_period_and_no_store_fails_check() -> None:
    register = load_register().register
    report = check_declarations(register, [], without_store=_others("website_access_log"))
    assert report.problems == [
        "activity website_access_log: keeps data for 7 days, but no declared store holds it, so nothing would sweep it"
    ]


def test_a_store_for_an_activity_the_register_lacks_fails_check() -> None:
    register = load_register().register
    report = check_declarations(register, [_store((), activity="mystery")], without_store=_others())
    assert any("serves activity 'mystery'" in p for p in report.problems)


def _others(*keep: str) -> dict[str, str]:
    """Every shipped activity but `keep` counts as 'without store', to isolate one rule."""
    return {aid: "test" for aid in load_register().register.activities if aid not in keep}


def test_the_migrated_schema_matches_the_declared_tables(system: System) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from privateline.app.stores import declared_metadata

    with system.database.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), declared_metadata())
    assert diff == []
    assert sa.inspect(system.database.engine).get_table_names()
