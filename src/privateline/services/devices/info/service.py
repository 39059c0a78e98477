"""Who may use the information services, and the transactions on their profile (DEV-6, DEV-10).

Both interfaces, the handset pages and the JSON API, go through these functions, so the
rules hold for both:

* A device is found by its MAC; an unknown MAC is refused.
* A device whose information services are off, or which is out of service, is refused
  *before* its profile is read or created (`Device.service_on`), so switching the
  service off (which deletes the profile, DEV-10) cannot be undone by a handset that
  keeps asking.
* The profile is created with the defaults on first use (`ensure_profile`).  The writing
  transaction locks the device row first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
  takes the write lock at BEGIN), so a profile is never created or changed in the
  moment a concurrent switch-off commits, and two first uses at once cannot both insert
  the row; should the database still report the duplicate, the insert is retried once.
* Given the purpose gate (`DeviceGate`), every use of the profile asks it first: a phone
  whose owner restricted the processing (Art. 18, R-7) of the information services, or
  of everything, is refused before its profile is read, created or changed, with its own
  reason.  The data stays stored; lifting the restriction makes it usable again.  Only
  deleting the profile stays possible: erasure is the owner's right under restriction too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from privateline.kernel.clock import Clock
from privateline.kernel.gate import Ground
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.profiles import (
    ACTIVITY,
    InfoProfile,
    delete_profile,
    ensure_profile,
    profile_of,
    update_profile,
)
from privateline.services.devices.records import Device, Service, device, device_by_mac
from privateline.storage.database import Database

# A change made inside `_write`'s transaction: (connection, device id, now) -> the profile.
_Work = Callable[[Connection, int, datetime], InfoProfile]


class RefusedError(Exception):
    """The device cannot use the information services; `kind` says why."""

    UNKNOWN = "unknown_device"
    SWITCHED_OFF = "switched_off"
    RESTRICTED = "restricted"  # the owner restricted the processing (Art. 18, R-7)
    NOT_ALLOWED = "not_allowed"  # the purpose gate refused for another reason

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_REFUSED_FOR = {Ground.RESTRICTED: RefusedError.RESTRICTED, Ground.SWITCHED_OFF: RefusedError.SWITCHED_OFF}


def usable_device(connection: Connection, mac: str, *, lock: bool = False, gate: DeviceGate | None = None) -> Device:
    """The device with this MAC, if its information services are on and, given the gate, the gate allows
    the use of its profile; raises `RefusedError`."""
    if lock:
        connection.execute(select(device.c.id).where(device.c.mac == mac).with_for_update())
    found = device_by_mac(connection, mac)
    if found is None:
        raise RefusedError(RefusedError.UNKNOWN)
    if not found.service_on(Service.INFO):
        raise RefusedError(RefusedError.SWITCHED_OFF)
    if gate is not None:
        verdict = gate.verdict(connection, found, ACTIVITY)
        if not verdict:
            raise RefusedError(_REFUSED_FOR.get(verdict.ground, RefusedError.NOT_ALLOWED))
    return found


def check_device(database: Database, mac: str, gate: DeviceGate | None = None) -> Device:
    """Read-only: the device may use the services (nothing about its profile is read)."""
    with database.reading() as connection:
        return usable_device(connection, mac, gate=gate)


def profile_for_use(database: Database, clock: Clock, mac: str, gate: DeviceGate | None = None) -> InfoProfile:
    """The profile of the device, created with the defaults on first use (DEV-6)."""
    with database.reading() as connection:
        found = usable_device(connection, mac, gate=gate)
        existing = profile_of(connection, found.id)
    if existing is not None:
        return existing
    return _write(database, clock, mac, ensure_profile, gate)


def change_profile(
    database: Database, clock: Clock, mac: str, changes: dict[str, object], gate: DeviceGate | None = None
) -> InfoProfile:
    """Save the changed settings (creating the profile if needed); raises `ProfileError` for bad values."""
    return _write(
        database,
        clock,
        mac,
        lambda connection, device_id, now: update_profile(connection, device_id, now, changes),
        gate,
    )


def remove_profile(database: Database, mac: str) -> bool:
    """Delete the profile; True if there was one.  Not gated: erasure stays open under a restriction (Art. 17)."""
    with database.unit_of_work() as uow:
        found = usable_device(uow.connection, mac, lock=True)
        removed = delete_profile(uow.connection, found.id)
        uow.commit()
    return removed


def _write(database: Database, clock: Clock, mac: str, work: _Work, gate: DeviceGate | None) -> InfoProfile:
    for attempt in (1, 2):
        try:
            with database.unit_of_work() as uow:
                # Asked again under the lock: a restriction committed meanwhile is seen here.
                found = usable_device(uow.connection, mac, lock=True, gate=gate)
                result = work(uow.connection, found.id, clock.now())
                uow.commit()
            return result
        except IntegrityError:
            # Another request created the profile between our read and our insert; the
            # second attempt finds it.  A second failure is a real problem and is raised.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
