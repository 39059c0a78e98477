"""The latest check-in report of each device (DEV-1, DEV-2, DEV-8).

One row per device, keyed by the device: a new report **replaces** the previous one, so
no history of reports exists anywhere.  The public address of the connection is kept
only as a keyed fingerprint (HMAC with the instance key): the configuration helper
needs to know whether a visitor comes from the same connection, never the address
itself, and the full address is never written to disk.  A device that stops reporting
loses its report after the register's period (30 days from the last report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, ForeignKey, Integer, String, Table, select

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "device_checkin"
_PRIVATE = "user.device.private_address"

device_report = declare_store(
    Table(
        "device_report",
        metadata,
        Column(
            "device_id",
            Integer,
            ForeignKey("device.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            info=technical(),
        ),
        Column("reported_at", UTCDateTime, nullable=False, index=True, info=technical()),
        Column("private_ip", String(45), nullable=False, info=personal(_PRIVATE)),
        Column("private_port", Integer, nullable=False, info=personal(_PRIVATE)),
        Column(
            "public_network",
            String(64),
            nullable=False,
            index=True,
            info=personal("user.device.public_ip_address"),
        ),
        Column("device_name", String(64), nullable=False, info=personal("user.device.name")),
        Column("software_version", String(64), nullable=False, info=personal("user.device.software_version")),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="device_owner",
        subject_column="device_id",
        anchor_column="reported_at",
        erasure=Erasure.DELETE,
    ),
)


@dataclass(frozen=True)
class Report:
    device_id: int
    reported_at: datetime
    private_ip: str
    private_port: int
    public_network: str
    device_name: str
    software_version: str


def report_of(connection: Connection, device_id: int) -> Report | None:
    row = connection.execute(select(device_report).where(device_report.c.device_id == device_id)).first()
    return None if row is None else Report(**row._mapping)


def public_network_fingerprint(pseudonymizer: Pseudonymizer, address: str) -> str:
    """The keyed fingerprint of a public address: stored by the check-in, compared by the helper."""
    return pseudonymizer.pseudonym("public_network", address)
