"""The device cloud knows phones, not people (DEV-5), and keeps little for good (DEV-11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from privateline.app.stores import WITHOUT_STORE, all_tables
from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.register.loader import RegisterError, load_register, parse_register
from privateline.services.devices.nicknames import set_nickname
from privateline.services.devices.profiles import ensure_profile
from privateline.services.devices.records import device
from privateline.services.devices.reports import device_report
from privateline.storage.conformance import check_declarations
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, stored


def _device_store(metadata: MetaData, *columns: Column[object]) -> Table:
    table = Table("probe", metadata, Column("device_id", Integer, primary_key=True, info=technical()), *columns)
    return declare_store(table, StoreDeclaration("device_checkin", "device_owner", "device_id", None, Erasure.DELETE))


@pytest.mark.promise("DEV-5")
def test_check_refuses_a_device_store_with_a_column_for_the_owners_identity() -> None:
    register = load_register().register
    probe = _device_store(MetaData(), Column("owner_email", String, info=personal("user.contact.email")))
    report = check_declarations(register, [*all_tables(), probe], without_store=WITHOUT_STORE)
    assert any(
        "probe.owner_email" in p and "device_owner data never includes user.contact" in p for p in report.problems
    ), report.problems


@pytest.mark.promise("DEV-5")
def test_check_refuses_a_key_from_a_device_store_to_someone_elses_data() -> None:
    register = load_register().register
    metadata = MetaData()
    customers = Table("customer", metadata, Column("id", Integer, primary_key=True, info=technical()))
    declare_store(customers, StoreDeclaration("customer_accounts", "customer", "id", None, Erasure.DELETE))
    probe = _device_store(metadata, Column("customer_id", Integer, ForeignKey("customer.id"), info=technical()))
    report = check_declarations(register, [*all_tables(), probe], without_store=WITHOUT_STORE)
    assert any("probe.customer_id" in p and "must not hold a key to customer" in p for p in report.problems)


@pytest.mark.promise("DEV-5")
def test_the_register_cannot_give_device_owners_an_identity_category() -> None:
    from importlib import resources

    text = resources.files("privateline.register").joinpath("data", "register.yaml").read_text("utf-8")
    tampered = text.replace(
        "      - user.device.private_address\n", "      - user.device.private_address\n      - user.name.last\n", 1
    )
    with pytest.raises(RegisterError) as caught:
        parse_register(tampered, "register.yaml")
    assert "device_owner never includes user.name" in caught.value.describe()


@pytest.mark.promise("DEV-5")
def test_the_shipped_device_stores_hold_no_identity(system: System) -> None:
    assert system.check().passed
    register = system.loaded.register
    for aid, activity in register.activities.items():
        if "device_owner" in activity.subjects:
            assert not any(register.subjects["device_owner"].forbids(c) for c in activity.categories), aid


@pytest.mark.promise("DEV-11")
def test_only_the_permanent_data_outlives_active_use(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    system = live_server.system
    phone = make_phone()
    with live_server.client() as client:
        answer = client.post("/device/v1/checkin", json=phone.report(software_version="42.3"), headers=phone.basic())
        assert answer.status_code == 200
    record = stored(system, phone)
    # The phone stops reporting; 29 days later its report is still there, after 30 it is gone.
    clock.advance(timedelta(days=29, hours=23))
    system.sweep()
    with system.database.reading() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(device_report)).scalar_one() == 1
    clock.advance(timedelta(hours=2))
    system.sweep()
    with system.database.reading() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(device_report)).scalar_one() == 0
        row = connection.execute(sa.select(device).where(device.c.id == record.id)).one()
    assert (row.internal_ip, row.software_version, row.product) == ("192.168.178.23", "42.3", phone.product)
    # Every column of the permanent record is one DEV-11 names, a service switch (DEV-10) or bookkeeping.
    categories = {key for c in device.columns for key in c.info["privateline_categories"]}
    assert categories == {
        "user.telecom.number",
        "user.authorization.device_password",
        "user.device.serial_number",
        "user.device.mac_address",
        "user.device.internal_ip_address",
        "user.device.product_name",
        "user.device.software_version",
        "user.device.service_switches",
    }


@pytest.mark.promise("DEV-10")
def test_switching_a_service_off_deletes_what_only_it_needed(system: System, make_phone: MakePhone) -> None:
    from privateline.services.devices.records import Service
    from privateline.services.devices.switches import switch_service

    phone = make_phone()
    record = stored(system, phone)
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        set_nickname(uow.connection, record.id, "Oma", now)
        ensure_profile(uow.connection, record.id, now)
        uow.commit()
    with system.database.unit_of_work() as uow:
        removed = switch_service(uow.connection, system.pseudonymizer, record, Service.VOIP, False, now)
        uow.commit()
    assert removed == {"voip_nickname": 1}
    after = stored(system, phone)
    assert not after.service_on(Service.VOIP) and after.service_on(Service.INFO)
    with system.database.unit_of_work() as uow:
        removed = switch_service(uow.connection, system.pseudonymizer, after, Service.INFO, False, now)
        uow.commit()
    assert removed == {"info_profile": 1}
    with system.database.reading() as connection:
        counts = [
            connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("voip_nickname", "info_profile")
        ]
    assert counts == [0, 0]
