from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.storage.audit_log import AuditLog, audit_entry


def write_entries(system: System, clock: FakeClock, n: int) -> None:
    for i in range(n):
        with system.database.unit_of_work() as uow:
            AuditLog(uow.connection).append(clock.now(), "test.event", system.pseudonymizer.pseudonym("x", str(i)))
            uow.commit()
        clock.advance(timedelta(days=1))


def verify(system: System) -> tuple[int, str]:
    env = {
        "PRIVATELINE_DATA_DIR": str(system.settings.data_dir),
        "PRIVATELINE_DATABASE_URL": str(system.settings.database_url),
    }
    result = CliRunner().invoke(app, ["audit", "verify"], env=env)
    return result.exit_code, result.output


def test_audit_verify_passes_on_an_intact_chain(system: System, clock: FakeClock) -> None:
    write_entries(system, clock, 4)
    code, output = verify(system)
    assert code == 0, output
    assert "intact: 4 entries" in output


def test_audit_verify_names_a_changed_entry(system: System, clock: FakeClock) -> None:
    write_entries(system, clock, 4)
    with system.database.engine.begin() as c:
        c.execute(sa.update(audit_entry).where(audit_entry.c.seq == 3).values(kind="something.else"))
    code, output = verify(system)
    assert code == 1
    assert "BROKEN at entry 3" in output


def test_audit_verify_names_a_removed_entry(system: System, clock: FakeClock) -> None:
    write_entries(system, clock, 4)
    with system.database.engine.begin() as c:
        c.execute(sa.delete(audit_entry).where(audit_entry.c.seq == 2))
    code, output = verify(system)
    assert code == 1
    assert "BROKEN at entry 3" in output


def test_audit_verify_notices_entries_removed_from_the_end(system: System, clock: FakeClock) -> None:
    write_entries(system, clock, 4)
    with system.database.engine.begin() as c:
        c.execute(sa.delete(audit_entry).where(audit_entry.c.seq == 4))
    code, output = verify(system)
    assert code == 1
    assert "BROKEN at entry 4" in output


def test_entries_name_subjects_only_by_pseudonym(system: System, clock: FakeClock) -> None:
    with system.database.unit_of_work() as uow:
        pseudonym = system.pseudonymizer.pseudonym("device_owner", "4711")
        AuditLog(uow.connection).append(clock.now(), "test.event", pseudonym)
        uow.commit()
    with system.database.reading() as c:
        stored = c.execute(sa.select(audit_entry.c.subject)).scalar_one()
    assert stored == pseudonym
    assert "4711" not in stored


def test_pruning_old_entries_keeps_the_rest_verifiable(system: System, clock: FakeClock) -> None:
    write_entries(system, clock, 6)
    with system.database.unit_of_work() as uow:
        removed = AuditLog(uow.connection).prune(clock.now() - timedelta(days=3, hours=12))
        uow.commit()
    assert removed == 3
    with system.database.reading() as c:
        result = AuditLog(c).verify()
    assert result.intact, result.reason
    assert result.checked == 3
