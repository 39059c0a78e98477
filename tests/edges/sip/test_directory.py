"""The registrar's device directory over the factory records (DEV-3, DEV-10)."""

from __future__ import annotations

import pytest

from privateline.app.system import System
from privateline.edges.sip.core.registrar import Device
from privateline.edges.sip.directory import DeviceDirectory
from privateline.kernel.clock import FakeClock
from privateline.services.devices.credentials import ha1
from privateline.services.devices.nicknames import set_nickname
from privateline.services.devices.records import Service, set_in_service
from privateline.services.devices.switches import switch_service
from tests.edges.sip.test_location import Phones
from tests.services.devices.conftest import MakePhone, Phone, stored


@pytest.mark.promise("DEV-3")
def test_a_number_gives_its_digest_forms_and_the_owners_nickname(system: System, make_phone: MakePhone) -> None:
    phone = make_phone()
    realm = system.settings.sip_realm
    directory = DeviceDirectory(system.database)
    assert directory(phone.number) == Device(
        ha1_md5=ha1("md5", phone.number, realm, phone.password),
        ha1_sha256=ha1("sha256", phone.number, realm, phone.password),
        voip_enabled=True,
        display_name=None,
    )
    with system.database.unit_of_work() as uow:
        set_nickname(uow.connection, stored(system, phone).id, "Oma Ilse", system.clock.now())
        uow.commit()
    found = directory(phone.number)
    assert found is not None and found.display_name == "Oma Ilse"


@pytest.mark.promise("DEV-3")
def test_an_unknown_number_is_no_device(system: System, make_phone: MakePhone) -> None:
    make_phone()
    assert DeviceDirectory(system.database)("4930999999") is None
    assert DeviceDirectory(system.database)("") is None


@pytest.mark.promise("DEV-3", "DEV-10")
def test_switching_voip_off_or_taking_the_device_out_of_service_stops_registration_at_once(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone, retired = make_phone(), make_phone()
    directory = DeviceDirectory(system.database)
    phones = Phones.of(system)
    contact = f"<sip:{phone.number}@192.168.178.23:5060>"
    assert phones.register(phone, contact, clock.now()).status == 200
    first = directory(phone.number)
    assert first is not None and first.voip_enabled

    with system.database.unit_of_work() as uow:
        switch_service(uow.connection, system.pseudonymizer, stored(system, phone), Service.VOIP, False, clock.now())
        set_in_service(uow.connection, stored(system, retired).id, False)
        uow.commit()
    # Kept only while nobody else writes: the very next lookup sees the switch (DEV-10).
    off = directory(phone.number)
    assert off is not None and not off.voip_enabled and off.ha1_sha256 == first.ha1_sha256
    gone = directory(retired.number)
    assert gone is not None and not gone.voip_enabled
    answer = phones.register(phone, contact, clock.now(), cseq=2)
    assert (answer.status, answer.reason) == (403, "Forbidden (VoIP is off for this device)")
    assert phones.register(retired, f"<sip:{retired.number}@192.168.178.24>", clock.now()).status == 403
    assert phones.location.current(phone.number, clock.now().timestamp()) == ()


@pytest.mark.promise("DEV-3")
def test_a_register_for_an_unknown_number_is_404(system: System, make_phone: MakePhone, clock: FakeClock) -> None:
    stranger = Phone(number="4930999999", password="whatever-1", serial="-", mac="-", product="-")
    answer = Phones.of(system).register(stranger, "<sip:4930999999@192.0.2.1>", clock.now())
    assert (answer.status, answer.reason) == (404, "Not Found (unknown device)")
