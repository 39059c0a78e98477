"""The registrar's and proxy's `DeviceLookup` over the factory records (DEV-2, DEV-3, DEV-10).

A number (the digest username, RFC 3261 §22.4) maps to the core's `Device`: the two HA1
forms stored at import (RFC 2617 §3.2.2.2, RFC 8760 §2), whether VoIP may be used (on and
the device in service) and the owner's nickname as display name (DEV-3).  Unknown numbers
give None (the registrar answers 404, §10.3 step 5).

A lookup is one query by the unique index on `device.number`, joined to the nickname by its
primary key, on an autocommit connection (`services.voip.reads`).  Switching VoIP off stops
the service at once (DEV-10), so the next REGISTER or call of that phone must already see the
switch: on SQLite a device is kept only while no other connection has written since it was
read (`reads.KeptReads`; the switch is such a write), elsewhere nothing is kept.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from privateline.edges.sip.core.registrar import Device
from privateline.services.devices.nicknames import voip_nickname
from privateline.services.devices.records import device
from privateline.services.voip.reads import DriverConnection, HotReads, KeptReads
from privateline.storage.database import Database

_LOOKUP = (
    select(
        device.c.sip_ha1_md5,
        device.c.sip_ha1_sha256,
        device.c.voip_on,
        device.c.in_service,
        voip_nickname.c.nickname,
    )
    .select_from(device.outerjoin(voip_nickname, voip_nickname.c.device_id == device.c.id))
    .where(device.c.number == bindparam("number"))
)


class DeviceDirectory:
    """`DeviceLookup`: call it with a number."""

    def __init__(self, database: Database, connection: DriverConnection | None = None) -> None:
        self.database = database
        self._reads = HotReads(database, connection)
        self._kept: KeptReads[str, Device | None] = KeptReads(self._reads.connection)

    def __call__(self, number: str) -> Device | None:
        kept = self._kept.values()
        if number in kept:
            return kept[number]
        rows = self._reads.rows(_LOOKUP, {"number": number})
        found = None
        if rows:
            ((md5, sha256, voip_on, in_service, nickname),) = rows
            found = Device(
                ha1_md5=md5,
                ha1_sha256=sha256,
                voip_enabled=bool(voip_on and in_service),
                display_name=nickname,
            )
        self._kept.keep(number, found)
        return found

    def close(self) -> None:
        self._reads.close()


__all__ = ["DeviceDirectory"]
