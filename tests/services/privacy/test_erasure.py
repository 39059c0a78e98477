"""Erasure of a device owner across every store, and its replay after a restore (R-4, R-11)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.services.devices.nicknames import set_nickname
from privateline.services.devices.profiles import update_profile
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.held import held_stores
from tests.conftest import POSTGRES_ADMIN_URL, LiveServer
from tests.services.devices.conftest import MakePhone, Phone, stored


def backup_and_restore(system: System) -> tuple[Callable[[], None], Callable[[], None]]:
    """Two steps an operator would take: take a backup now, later restore it over the live database."""
    url = sa.make_url(str(system.database.engine.url))
    if url.get_backend_name() == "sqlite":
        live, copy = str(url.database), str(url.database) + ".backup"

        def sqlite_copy(source: str, target: str) -> None:
            system.database.dispose()
            with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
                a.backup(b)

        return (lambda: sqlite_copy(live, copy)), (lambda: sqlite_copy(copy, live))
    name = str(url.database)
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def pg(statements: list[str]) -> None:
        system.database.dispose()
        with admin.connect() as c:
            for statement in statements:
                c.exec_driver_sql(statement)

    return (
        lambda: pg([f'CREATE DATABASE "{name}_bk" TEMPLATE "{name}"']),
        lambda: pg(
            [
                f'DROP DATABASE "{name}" WITH (FORCE)',
                f'CREATE DATABASE "{name}" TEMPLATE "{name}_bk"',
                f'DROP DATABASE "{name}_bk"',
            ]
        ),
    )


def use_every_device_service(server: LiveServer, phone: Phone, clock: FakeClock) -> None:
    system = server.system
    with server.client() as client:
        assert client.post("/device/v1/checkin", json=phone.report(), headers=phone.basic()).status_code == 200
    record = stored(system, phone)
    with system.database.unit_of_work() as uow:
        set_nickname(uow.connection, record.id, "Opa", clock.now())
        update_profile(uow.connection, record.id, clock.now(), {"city": "Utrecht"})
        uow.commit()


def subject_rows(system: System, phone: Phone) -> dict[str, int]:
    subject = device_subject(stored(system, phone), system.pseudonymizer)
    with system.database.reading() as connection:
        return {s.table: len(s.rows) for s in held_stores(connection, system.tables, subject) if s.rows}


@pytest.mark.promise("R-4")
def test_erasure_reaches_every_store_keeps_only_what_a_law_or_the_service_needs_and_survives_a_restore(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    system = live_server.system
    phone, bystander = make_phone(), make_phone()
    use_every_device_service(live_server, phone, clock)
    use_every_device_service(live_server, bystander, clock)
    before = subject_rows(system, phone)
    assert {"device", "device_report", "voip_nickname", "info_profile"} <= set(before)

    take_backup, restore_backup = backup_and_restore(system)
    take_backup()
    record = stored(system, phone)
    report = system.rights.erase(device_subject(record, system.pseudonymizer))

    assert report.erased == {"device_report": 1, "voip_nickname": 1, "info_profile": 1}
    assert report.anonymised == {"device": 1}
    kept = {k.store: k.why for k in report.kept}
    assert "the service needs it" in kept["device"] and "number" in kept["device"] and "mac" in kept["device"]
    after = subject_rows(system, phone)
    assert set(after) == {"device", "audit_entry", "erasure_journal"}
    cleared = stored(system, phone)
    assert (cleared.internal_ip, cleared.software_version) == (None, None)
    assert "device_report" in subject_rows(system, bystander)

    # The database is restored from the backup taken before the erasure: the subject is back ...
    restore_backup()
    assert "device_report" in subject_rows(system, phone)
    # ... until the journal outside the database is replayed.
    removed = system.rights.replay()
    assert removed["device_report"] == 1 and removed["voip_nickname"] == 1 and removed["info_profile"] == 1
    assert set(subject_rows(system, phone)) == {"device", "audit_entry", "erasure_journal"}
    assert "device_report" in subject_rows(system, bystander)
    assert system.rights.replay() == {"device": 1}  # idempotent: nothing personal left to remove
