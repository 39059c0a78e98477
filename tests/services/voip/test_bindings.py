"""The SIP registrations as a declared store (DEV-4): read, replaced, swept, switched off, erased."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.services.devices.records import Service, device, set_in_service
from privateline.services.devices.subject import device_subject
from privateline.services.devices.switches import SERVICE_DATA, switch_service
from privateline.services.voip.bindings import (
    ACTIVITY,
    GRACE,
    GRACE_MINUTES,
    StoredBinding,
    current_bindings,
    delete_device_bindings,
    delete_expired,
    replace_bindings,
    sip_binding,
)
from privateline.storage.declarations import Erasure, store_of
from tests.services.devices.conftest import MakePhone, Phone, stored


def binding(
    phone: Phone, now: datetime, *, seconds: int = 3600, port: int = 5060, call_id: str = "c1"
) -> StoredBinding:
    return StoredBinding(
        number=phone.number,
        contact=f"sip:{phone.number}@192.168.178.23:{port};transport=udp",
        expires_at=now + timedelta(seconds=seconds),
        q=0.5,
        call_id=f"{call_id}@192.168.178.23",
        cseq=7,
        source_host="203.0.113.7",
        source_port=40512,
        transport="udp",
        user_agent="Gigaset C430 IP/42.1",
        registered_at=now,
    )


def store(system: System, replacements: dict[str, list[StoredBinding]]) -> int:
    with system.database.unit_of_work() as uow:
        written = replace_bindings(uow.connection, replacements)
        uow.commit()
    return len(written)


def current(system: System, phone: Phone, now: datetime) -> list[StoredBinding]:
    with system.database.reading() as connection:
        return current_bindings(connection, phone.number, now)


def rows(system: System) -> int:
    with system.database.reading() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(sip_binding)).scalar_one())


def sweep(system: System, now: datetime) -> list[StoredBinding]:
    with system.database.unit_of_work() as uow:
        gone = delete_expired(uow.connection, now)
        uow.commit()
    return gone


@pytest.mark.promise("DEV-4")
def test_the_register_states_the_grace_period_the_sweep_uses() -> None:
    from privateline.register.loader import load_register

    rule = load_register().register.activities[ACTIVITY].retention
    assert rule.while_active is not None and rule.period is None
    units = {"en": "minutes", "de": "Minuten", "nl": "minuten"}
    for lang, unit in units.items():
        text = rule.while_active.get(lang)
        # One number of minutes in each language, and it is the one the code deletes by.
        assert re.findall(r"(\d+) " + unit, text) == [str(GRACE_MINUTES)], text
    assert timedelta(minutes=GRACE_MINUTES) == GRACE


@pytest.mark.promise("DEV-4")
def test_the_store_is_declared_for_the_registration_activity_and_erased_by_deletion() -> None:
    declaration = store_of(sip_binding)
    assert declaration is not None
    assert (declaration.activity, declaration.subject_kind, declaration.subject_column) == (
        "voip_registration",
        "device_owner",
        "device_id",
    )
    assert declaration.erasure is Erasure.DELETE
    (fk,) = sip_binding.c.device_id.foreign_keys
    assert (fk.column.table.name, fk.ondelete) == ("device", "CASCADE")
    registration = {c.name for c in sip_binding.columns if c.info["privateline_categories"]}
    assert {"contact", "source_host", "source_port", "user_agent", "registered_at", "call_id"} <= registration
    assert sip_binding in SERVICE_DATA[Service.VOIP]


@pytest.mark.promise("DEV-4")
def test_a_numbers_bindings_are_replaced_and_read_back_as_stored(system: System, make_phone: MakePhone) -> None:
    phone, other = make_phone(), make_phone()
    now = system.clock.now()
    first, second = binding(phone, now), binding(phone, now, port=5062, call_id="c2")
    assert store(system, {phone.number: [first, second], other.number: [binding(other, now)]}) == 2
    assert current(system, phone, now) == [first, second]
    # A replacement is the whole set (RFC 3261 §10.3 step 7): the old ones go.
    assert store(system, {phone.number: [second]}) == 1
    assert current(system, phone, now) == [second]
    assert store(system, {phone.number: []}) == 1
    assert current(system, phone, now) == []
    assert current(system, other, now) == [binding(other, now)]
    assert store(system, {"999999": [binding(phone, now)]}) == 0  # no such device: nothing written
    assert rows(system) == 1


@pytest.mark.promise("DEV-4")
def test_an_expired_binding_is_not_read_and_is_deleted_only_after_the_grace_period(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    start = clock.now()
    short, long = binding(phone, start, seconds=60, port=1), binding(phone, start, seconds=3600, port=2)
    store(system, {phone.number: [short, long]})
    clock.advance(timedelta(seconds=60))
    assert current(system, phone, clock.now()) == [long]  # expired at its expiry: not used any more
    clock.advance(GRACE)
    assert sweep(system, clock.now()) == []  # still within the grace period the register states
    assert rows(system) == 2
    clock.advance(timedelta(seconds=1))
    assert sweep(system, clock.now()) == [short]
    assert current(system, phone, clock.now()) == [long]
    assert rows(system) == 1


@pytest.mark.promise("DEV-4", "DEV-10")
def test_switching_voip_off_deletes_the_bindings_and_a_late_write_does_not_bring_them_back(
    system: System, make_phone: MakePhone
) -> None:
    phone, other = make_phone(), make_phone()
    now = system.clock.now()
    store(system, {phone.number: [binding(phone, now)], other.number: [binding(other, now)]})
    with system.database.unit_of_work() as uow:
        removed = switch_service(uow.connection, system.pseudonymizer, stored(system, phone), Service.VOIP, False, now)
        uow.commit()
    assert removed == {"sip_binding": 1}
    assert current(system, phone, now) == []
    # A REGISTER accepted just before the switch, written after it, is not stored (DEV-10).
    assert store(system, {phone.number: [binding(phone, now)]}) == 0
    assert rows(system) == 1
    assert current(system, other, now) == [binding(other, now)]


@pytest.mark.promise("DEV-4", "DEV-10")
def test_a_device_out_of_service_has_no_bindings_that_are_read_and_the_sweep_removes_them(
    system: System, make_phone: MakePhone
) -> None:
    phone, other = make_phone(), make_phone()
    now = system.clock.now()
    store(system, {phone.number: [binding(phone, now)], other.number: [binding(other, now)]})
    with system.database.unit_of_work() as uow:
        set_in_service(uow.connection, stored(system, phone).id, False)
        uow.commit()
    assert current(system, phone, now) == []
    assert sweep(system, now) == [binding(phone, now)]
    assert rows(system) == 1
    with system.database.unit_of_work() as uow:
        assert delete_device_bindings(uow.connection, stored(system, other).id) == 1
        uow.commit()
    assert rows(system) == 0


@pytest.mark.promise("DEV-4", "R-2", "R-4")
def test_the_access_package_lists_the_bindings_and_erasure_removes_them(system: System, make_phone: MakePhone) -> None:
    phone, bystander = make_phone(), make_phone()
    now = system.clock.now()
    store(system, {phone.number: [binding(phone, now)], bystander.number: [binding(bystander, now)]})
    subject = device_subject(stored(system, phone), system.pseudonymizer)

    package = system.rights.access_package(subject, "en")
    [held] = [s for s in package["stores"] if s["store"] == "sip_binding"]
    assert held["activity"] == "voip_registration"
    [row] = held["rows"]
    assert row["contact"] == f"sip:{phone.number}@192.168.178.23:5060;transport=udp"
    assert (row["source_host"], row["source_port"], row["user_agent"]) == ("203.0.113.7", 40512, "Gigaset C430 IP/42.1")
    assert row["registered_at"] == now.isoformat()
    assert held["columns"]["contact"] == ["user.telecom.sip_registration"]

    report = system.rights.erase(subject)
    assert report.erased["sip_binding"] == 1
    assert current(system, phone, now) == []
    assert current(system, bystander, now) == [binding(bystander, now)]


@pytest.mark.promise("DEV-4")
def test_a_deleted_device_takes_its_bindings_with_it(system: System, make_phone: MakePhone) -> None:
    phone = make_phone()
    now = system.clock.now()
    store(system, {phone.number: [binding(phone, now)]})
    with system.database.unit_of_work() as uow:
        uow.connection.execute(sa.delete(device).where(device.c.number == phone.number))
        uow.commit()
    assert rows(system) == 0  # ON DELETE CASCADE


def _plan(system: System, query: str) -> str:
    with system.database.unit_of_work() as uow:
        connection = uow.connection
        if connection.dialect.name == "sqlite":
            return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
        # With a few rows a sequential scan is cheapest; what matters is that an index can serve the query.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return "\n".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {query}"))


@pytest.mark.promise("DEV-4")
def test_the_lookup_by_device_and_the_expiry_sweep_are_index_scans(system: System, make_phone: MakePhone) -> None:
    phone = make_phone()
    now = system.clock.now()
    store(system, {phone.number: [binding(phone, now)]})
    moment = "'2026-03-01 09:00:00.000000'"
    lookup = _plan(
        system,
        "SELECT b.contact FROM sip_binding AS b JOIN device AS d ON d.id = b.device_id "
        f"WHERE d.number = '{phone.number}' AND b.expires_at > {moment}",
    )
    assert "pk_sip_binding" in lookup or "sqlite_autoindex_sip_binding" in lookup, lookup
    assert "uq_device_number" in lookup or "sqlite_autoindex_device" in lookup, lookup
    expiry = _plan(system, f"SELECT device_id FROM sip_binding WHERE expires_at < {moment}")
    assert "ix_sip_binding_expires_at" in expiry, expiry


@pytest.mark.promise("DEV-4")
def test_the_systems_retention_sweep_removes_expired_bindings_even_without_a_sip_process(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    store(system, {phone.number: [binding(phone, clock.now(), seconds=60)]})
    clock.advance(timedelta(seconds=60) + GRACE)
    system.sweep()
    assert rows(system) == 1  # within the grace period
    clock.advance(timedelta(seconds=1))
    system.sweep()
    assert rows(system) == 0
