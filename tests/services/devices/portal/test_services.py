"""DEV-10: the owner switches VoIP, information services and messaging off and on in the portal."""

from __future__ import annotations

import re

import pytest

from privateline.services.devices.nicknames import voip_nickname
from privateline.services.devices.profiles import info_profile
from tests.services.devices.portal.conftest import PortalServer, add_device, audit_kinds, reload, rows_of, signed_in


def state_of(page: str, service: str) -> str:
    found = re.search(rf'<tr id="service-{service}">.*?<td class="state">(\w+)</td>', page, re.S)
    assert found is not None, page
    return found.group(1)


@pytest.mark.promise("DEV-10")
def test_switching_services_off_in_the_portal_deletes_their_data_and_on_again_starts_afresh(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    assert browser.submit("/device/nickname", action="set", nickname="Oma Ilse").status_code == 303
    assert browser.submit("/device/profile", action="save", city="Utrecht", birth_date="1950-06-01").status_code == 303
    assert [r["nickname"] for r in rows_of(system, voip_nickname, record.id)] == ["Oma Ilse"]
    assert [r["city"] for r in rows_of(system, info_profile, record.id)] == ["Utrecht"]

    answer = browser.submit("/device/services", service="voip", on="off")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device?lang=en&done=voip_off#services"
    page = browser.get(answer.headers["location"]).text
    assert "Calls (VoIP) are switched off; the nickname of your number has been deleted." in page
    assert state_of(page, "voip") == "Off" and state_of(page, "info") == "On"
    assert not reload(system, record.number).voip_on
    assert rows_of(system, voip_nickname, record.id) == []  # deleted with the service
    assert len(rows_of(system, info_profile, record.id)) == 1  # another service's data stays
    # The nickname belongs to VoIP: while it is off, none can be set.
    refused = browser.submit("/device/nickname", action="set", nickname="Oma Ilse")
    assert refused.status_code == 409
    assert "Switch calls (VoIP) on first" in refused.text
    assert rows_of(system, voip_nickname, record.id) == []

    assert browser.submit("/device/services", service="info", on="off").status_code == 303
    assert not reload(system, record.number).info_on
    assert rows_of(system, info_profile, record.id) == []
    refused = browser.submit("/device/profile", action="save", city="Utrecht", birth_date="")
    assert refused.status_code == 409
    assert rows_of(system, info_profile, record.id) == []

    assert browser.submit("/device/services", service="messaging", on="off").status_code == 303
    off = reload(system, record.number)
    assert (off.voip_on, off.info_on, off.messaging_on) == (False, False, False)

    for service in ("voip", "info", "messaging"):
        assert browser.submit("/device/services", service=service, on="on").status_code == 303
    on = reload(system, record.number)
    assert (on.voip_on, on.info_on, on.messaging_on) == (True, True, True)
    page = browser.get("/device").text
    assert {state_of(page, s) for s in ("voip", "info", "messaging")} == {"On"}
    # Switching on again starts from nothing, and the services work again.
    assert rows_of(system, voip_nickname, record.id) == []
    assert rows_of(system, info_profile, record.id) == []
    assert browser.submit("/device/nickname", action="set", nickname="Opa").status_code == 303
    assert [r["nickname"] for r in rows_of(system, voip_nickname, record.id)] == ["Opa"]
    switched = [k for k in audit_kinds(system, record) if k == "device.service_switched"]
    assert len(switched) == 6


def test_an_unknown_service_or_state_is_refused(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    for fields in ({"service": "fax", "on": "off"}, {"service": "voip", "on": "maybe"}, {"service": "voip"}):
        answer = browser.submit("/device/services", **fields)
        assert answer.status_code == 422
        assert 'id="error"' in answer.text
    assert reload(system, record.number).voip_on
