"""The running application asks the purpose gate: a restriction filed by the owner stops every use (R-7)."""

from __future__ import annotations

import pytest

from privateline.services.devices.subject import device_subject
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, stored


@pytest.mark.promise("R-7")
def test_the_served_information_services_refuse_a_restricted_phone_and_serve_it_again_once_lifted(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    system = live_server.system
    phone = make_phone()
    # The served JSON API signs the phone in with its number and device password.
    with live_server.client() as client:
        client.headers.update(phone.basic())
        assert client.put("/device/v1/info/profile", json={"city": "Utrecht"}).status_code == 200
        subject = device_subject(stored(system, phone), system.pseudonymizer)
        system.rights.restrict(subject, "information_services")

        refused = client.get("/device/v1/info/weather", params={"mac": phone.mac, "lang": "en"})
        assert refused.status_code == 403 and "Utrecht" not in refused.text
        assert client.get("/device/v1/info/profile").status_code == 403

        system.rights.lift_restriction(subject, "information_services")
        answer = client.get("/device/v1/info/profile")
        assert answer.status_code == 200 and answer.json()["city"] == "Utrecht"
