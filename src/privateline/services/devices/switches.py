"""Switching a device's services off and on (DEV-10).

Switching a service off stops it at once (every service asks `Device.service_on`
before it does anything) and deletes, in the same transaction, the data that only
that service needed, as the register says: the nickname and the SIP registration
bindings (DEV-4) for VoIP, the profile for the information services.  Switching it
on again starts from nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, delete, update

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.nicknames import voip_nickname
from privateline.services.devices.profiles import info_profile
from privateline.services.devices.records import SUBJECT, Device, Service, device
from privateline.services.voip.bindings import sip_binding
from privateline.storage.audit_log import AuditLog

# The stores that exist only for one service, each keyed by `device_id`.  A service's
# own module adds its stores here when it is built (messaging).
SERVICE_DATA: dict[Service, list[Table]] = {
    Service.VOIP: [voip_nickname, sip_binding],
    Service.INFO: [info_profile],
    Service.MESSAGING: [],
}


def switch_service(
    connection: Connection,
    pseudonymizer: Pseudonymizer,
    subject: Device,
    service: Service,
    on: bool,
    now: datetime,
) -> dict[str, int]:
    """Set the switch; when switching off, delete the service's data.

    Returns the rows removed per store, naming only stores that held some (as an erasure report does).
    """
    connection.execute(update(device).where(device.c.id == subject.id).values({service.column: on}))
    removed: dict[str, int] = {}
    if not on:
        for table in SERVICE_DATA[service]:
            rows = int(connection.execute(delete(table).where(table.c.device_id == subject.id)).rowcount)
            if rows:
                removed[table.name] = rows
    AuditLog(connection).append(
        now,
        "device.service_switched",
        pseudonymizer.pseudonym(SUBJECT, subject.number),
        {"service": service.value, "on": on, "removed": removed},
    )
    return removed
