"""A phone's owner as a data subject: how the rights engine finds their data (DEV-5: by phone, not person)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.records import SUBJECT, Device, device
from privateline.services.privacy.erasure import Resolver
from privateline.services.privacy.held import Subject


def device_subject(record: Device, pseudonymizer: Pseudonymizer) -> Subject:
    return Subject(SUBJECT, record.id, pseudonymizer.pseudonym(SUBJECT, record.number))


def device_resolver(pseudonymizer: Pseudonymizer) -> Resolver:
    """Finds device owners by pseudonym (for replaying erasures after a restore)."""

    def resolve(connection: Connection, pseudonyms: set[str]) -> dict[str, Subject]:
        found: dict[str, Subject] = {}
        for row in connection.execute(select(device.c.id, device.c.number)):
            pseudonym = pseudonymizer.pseudonym(SUBJECT, row.number)
            if pseudonym in pseudonyms:
                found[pseudonym] = Subject(SUBJECT, row.id, pseudonym)
        return found

    return resolve
