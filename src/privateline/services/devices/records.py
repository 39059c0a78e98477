"""Factory records: each phone's number, passwords and the few details kept for good (DEV-2, DEV-11).

A row is created from the manufacturer's file (`privateline devices import`) or by hand
(`devices add`).  Beyond active use of a service it holds only what DEV-11 lists:
number, password forms, serial/part number, MAC, last reported internal IP, product
name and software version, plus the owner's service switches (DEV-10), which must
outlive the services they switch off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Integer, String, Table, insert, select, update

from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "device_factory_records"
SUBJECT = "device_owner"
_PASSWORD = "user.authorization.device_password"  # noqa: S105 - a category key, not a secret
_SWITCH = "user.device.service_switches"

device = declare_store(
    Table(
        "device",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("number", String(15), nullable=False, unique=True, info=personal("user.telecom.number")),
        Column("serial", String(64), nullable=False, unique=True, info=personal("user.device.serial_number")),
        Column("mac", String(12), nullable=False, unique=True, info=personal("user.device.mac_address")),
        Column("product", String(64), nullable=False, info=personal("user.device.product_name")),
        Column("sip_ha1_md5", String(32), nullable=False, info=personal(_PASSWORD)),
        Column("sip_ha1_sha256", String(64), nullable=False, info=personal(_PASSWORD)),
        Column("portal_hash", String(128), nullable=False, info=personal(_PASSWORD)),
        Column("internal_ip", String(45), nullable=True, info=personal("user.device.internal_ip_address")),
        Column("software_version", String(64), nullable=True, info=personal("user.device.software_version")),
        Column("voip_on", Boolean, nullable=False, default=True, info=personal(_SWITCH)),
        Column("info_on", Boolean, nullable=False, default=True, info=personal(_SWITCH)),
        Column("messaging_on", Boolean, nullable=False, default=True, info=personal(_SWITCH)),
        # An operator takes a device out of service (stolen, returned) without losing its record.
        Column("in_service", Boolean, nullable=False, default=True, info=technical()),
        Column("created_at", UTCDateTime, nullable=False, info=technical()),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind=SUBJECT,
        subject_column="id",
        anchor_column=None,  # kept while the device is in service (DEV-11)
        # Erasing the owner's data clears what the phone reported (internal IP, software);
        # the factory number, passwords, serial, MAC, product and the owner's switches stay,
        # or the phone could not be used (and switched-off services would come back on).
        erasure=Erasure.ANONYMISE,
    ),
)


class Service(StrEnum):
    """The services an owner can switch off at any time (DEV-10)."""

    VOIP = "voip"
    INFO = "info"
    MESSAGING = "messaging"

    @property
    def column(self) -> str:
        return f"{self.value}_on"


@dataclass(frozen=True)
class Device:
    id: int
    number: str
    serial: str
    mac: str
    product: str
    sip_ha1_md5: str
    sip_ha1_sha256: str
    portal_hash: str
    internal_ip: str | None
    software_version: str | None
    voip_on: bool
    info_on: bool
    messaging_on: bool
    in_service: bool
    created_at: datetime

    def service_on(self, service: Service) -> bool:
        return bool(getattr(self, service.column)) and self.in_service

    def services(self) -> dict[str, bool]:
        return {s.value: self.service_on(s) for s in Service}


def _device(row: Any) -> Device:
    return Device(**row._mapping)


def device_by_number(connection: Connection, number: str) -> Device | None:
    row = connection.execute(select(device).where(device.c.number == number)).first()
    return None if row is None else _device(row)


def device_by_mac(connection: Connection, mac: str) -> Device | None:
    row = connection.execute(select(device).where(device.c.mac == mac)).first()
    return None if row is None else _device(row)


def device_by_id(connection: Connection, device_id: int) -> Device | None:
    row = connection.execute(select(device).where(device.c.id == device_id)).first()
    return None if row is None else _device(row)


def insert_devices(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(device), rows)


def set_in_service(connection: Connection, device_id: int, in_service: bool) -> None:
    connection.execute(update(device).where(device.c.id == device_id).values(in_service=in_service))
