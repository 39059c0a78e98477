"""Devices in the factory records, made the way an import makes them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from privateline.app.system import System
from privateline.services.devices.factory_import import import_factory_file, single_device
from privateline.services.devices.records import Device, device_by_number
from privateline.services.voip.bindings import StoredBinding


@dataclass(frozen=True)
class Phone:
    number: str
    password: str
    serial: str
    mac: str
    product: str

    def basic(self, password: str | None = None) -> dict[str, str]:
        token = base64.b64encode(f"{self.number}:{password or self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def report(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "serial": self.serial,
            "mac": self.mac,
            "private_ip": "192.168.178.23",
            "private_port": 5060,
            "internal_ip": "192.168.178.23",
            "device_name": "Kitchen",
            "product": self.product,
            "software_version": "42.1",
        }
        body.update(changes)
        return body


MakePhone = Callable[..., Phone]


def phone_maker(system: System) -> MakePhone:
    made = 0

    def make(number: str | None = None, product: str = "Gigaset C430 IP", **_: Any) -> Phone:
        nonlocal made
        made += 1
        phone = Phone(
            number=number or f"{1000 + made}",
            password=f"secret-{made}-pw",
            serial=f"SN-{made:06d}",
            mac=f"7C2F80{made:06X}",
            product=product,
        )
        with system.database.unit_of_work() as uow:
            import_factory_file(
                uow.connection,
                single_device(phone.serial, phone.mac, phone.product, phone.number, phone.password),
                system.settings.sip_realm,
                system.clock.now(),
            )
            uow.commit()
        return phone

    return make


def stored(system: System, phone: Phone) -> Device:
    with system.database.reading() as connection:
        record = device_by_number(connection, phone.number)
    assert record is not None
    return record


def sip_registration(number: str, now: datetime) -> StoredBinding:
    """One SIP registration of `number` as the registrar stores it (DEV-4), for tests that need
    every device store filled; its source address is not the phone's check-in address."""
    return StoredBinding(
        number=number,
        contact=f"sip:{number}@192.168.1.40:5062;transport=udp",
        expires_at=now + timedelta(hours=1),
        q=None,
        call_id="reg-1@192.168.1.40",
        cseq=1,
        source_host="198.51.100.20",
        source_port=5062,
        transport="udp",
        user_agent="Gigaset N510 IP PRO/42.1",
        registered_at=now,
    )
