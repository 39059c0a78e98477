"""DEV-9: the owner accepts or declines the offered software in the portal."""

from __future__ import annotations

import pytest

from privateline.app.system import System
from privateline.services.devices.updates import Firmware, add_firmware, decision_of
from privateline.storage.audit_log import AuditLog
from tests.services.devices.portal.conftest import PortalServer, add_device, signed_in

PRODUCT = "Gigaset C430 IP"


def publish(system: System, version: str) -> None:
    with system.database.unit_of_work() as uow:
        add_firmware(
            uow.connection,
            Firmware(
                product=PRODUCT,
                version=version,
                url=f"https://firmware.example.net/c430/{version}.bin",
                notes={
                    "en": f"Fixes echo ({version}).",
                    "de": f"Behebt Echo ({version}).",
                    "nl": f"Verhelpt echo ({version}).",
                },
                published_at=system.clock.now(),
            ),
        )
        uow.commit()


def stored_decision(system: System, device_id: int) -> tuple[str, str] | None:
    with system.database.reading() as connection:
        found = decision_of(connection, device_id)
    return None if found is None else (found["version"], found["decision"])


@pytest.mark.promise("DEV-9")
def test_the_owner_accepts_or_declines_the_offered_update_and_a_newer_version_asks_again(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = add_device(system, product=PRODUCT, software_version="42.1")
    browser = signed_in(portal, record)
    page = browser.get("/device").text
    assert 'id="no-offer"' in page  # nothing published yet

    publish(system, "42.3")
    page = browser.get("/device", params={"lang": "nl"}).text
    assert "Voor uw telefoon is versie 42.3 beschikbaar." in page
    assert "Verhelpt echo (42.3)." in page
    assert "U hebt nog niet beslist." in page

    answer = browser.submit("/device/update", version="42.3", decision="accepted")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device?lang=en&done=update_accepted#update"
    assert stored_decision(system, record.id) == ("42.3", "accepted")
    assert "You accepted this update." in browser.get("/device").text

    assert browser.submit("/device/update", version="42.3", decision="declined").status_code == 303
    assert stored_decision(system, record.id) == ("42.3", "declined")
    assert "You declined this update." in browser.get("/device").text

    # Only the offered version can be answered.
    refused = browser.submit("/device/update", version="42.2", decision="accepted")
    assert refused.status_code == 409
    assert "This update is no longer offered to your phone." in refused.text
    assert stored_decision(system, record.id) == ("42.3", "declined")

    # A newer version: the old answer has served its purpose and the owner is asked again.
    publish(system, "42.4")
    page = browser.get("/device").text
    assert "Version 42.4 is available for your phone." in page
    assert "You have not decided yet." in page
    assert stored_decision(system, record.id) is None
    assert browser.submit("/device/update", version="42.3", decision="accepted").status_code == 409
    assert browser.submit("/device/update", version="42.4", decision="accepted").status_code == 303
    assert stored_decision(system, record.id) == ("42.4", "accepted")

    with system.database.reading() as connection:
        answers = [e.detail for e in AuditLog(connection).entries() if e.kind == "device.update_answered"]
    assert answers == [
        {"version": "42.3", "decision": "accepted", "via": "portal"},
        {"version": "42.3", "decision": "declined", "via": "portal"},
        {"version": "42.4", "decision": "accepted", "via": "portal"},
    ]


def test_a_phone_on_the_newest_software_is_offered_nothing(portal: PortalServer) -> None:
    system = portal.system
    publish(system, "42.3")
    record = add_device(system, product=PRODUCT, software_version="42.3")
    browser = signed_in(portal, record)
    assert 'id="no-offer"' in browser.get("/device").text
    assert browser.submit("/device/update", version="42.3", decision="accepted").status_code == 409
    assert stored_decision(system, record.id) is None
