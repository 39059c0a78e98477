"""The purpose gate as the device services ask it: for one phone's record (R-7, R-8, R-9, DEV-10).

A thin adapter over `privateline.services.privacy.gate.PurposeGate`, which decides: it
turns a phone's record into the data subject the stores know (by its keyed pseudonym)
and tells the gate whether the owner switched off the service an activity belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from privateline.kernel.gate import Use, Verdict
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.records import Device, Service
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.gate import PurposeGate

# The switchable service each activity belongs to (DEV-10); the others cannot be switched off.
SERVICE_OF: dict[str, Service] = {
    "voip_registration": Service.VOIP,
    "voip_nickname": Service.VOIP,
    "information_services": Service.INFO,
    "messaging": Service.MESSAGING,
}


@dataclass(frozen=True)
class DeviceGate:
    gate: PurposeGate
    pseudonymizer: Pseudonymizer

    def verdict(
        self,
        connection: Connection,
        record: Device,
        activity: str,
        use: Use = Use.PROCESS,
        *,
        data_from: Iterable[str] = (),
    ) -> Verdict:
        """May this phone's data be used for `activity` now?  `data_from`: the activities whose stores are read."""
        service = SERVICE_OF.get(activity)
        return self.gate.verdict(
            connection,
            device_subject(record, self.pseudonymizer),
            activity,
            use,
            data_from=data_from,
            switched_off=service is not None and not record.service_on(service),
        )
