"""The daily check-in through real HTTP (DEV-1, DEV-2, DEV-9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from privateline.kernel.clock import FakeClock
from privateline.services.devices.reports import device_report
from privateline.services.devices.updates import Firmware, add_firmware, update_decision
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, stored

CHECKIN = "/device/v1/checkin"


def reports(server: LiveServer) -> list[sa.Row[tuple[object, ...]]]:
    with server.system.database.reading() as connection:
        return list(connection.execute(sa.select(device_report)))


@pytest.mark.promise("DEV-1")
def test_a_second_report_replaces_the_first_and_no_history_remains(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        first = client.post(CHECKIN, json=phone.report(), headers=phone.basic())
        assert first.status_code == 200, first.text
        clock.advance(timedelta(days=1))
        second = client.post(
            CHECKIN,
            json=phone.report(private_ip="10.0.0.7", private_port=5062, device_name="Hall", software_version="42.2"),
            headers=phone.basic(),
        )
        assert second.status_code == 200, second.text
    rows = reports(live_server)
    assert len(rows) == 1
    row = rows[0]
    assert (row.private_ip, row.private_port, row.device_name, row.software_version) == (
        "10.0.0.7",
        5062,
        "Hall",
        "42.2",
    )
    assert row.reported_at == live_server.system.clock.now()
    # The factory record keeps the last internal address and software (DEV-11), nothing older.
    record = stored(live_server.system, phone)
    assert (record.internal_ip, record.software_version) == ("192.168.178.23", "42.2")


@pytest.mark.promise("DEV-1")
def test_the_public_address_is_kept_only_as_a_keyed_fingerprint(live_server: LiveServer, make_phone: MakePhone) -> None:
    phone = make_phone()
    with live_server.client() as client:
        assert client.post(CHECKIN, json=phone.report(), headers=phone.basic()).status_code == 200
    (row,) = reports(live_server)
    assert row.public_network != "127.0.0.1"
    assert row.public_network == live_server.system.pseudonymizer.pseudonym("public_network", "127.0.0.1")
    with live_server.system.database.reading() as connection:
        dump = " ".join(
            str(v)
            for t in ("device", "device_report")
            for r in connection.execute(sa.text(f"SELECT * FROM {t}"))
            for v in r
        )
    assert "127.0.0.1" not in dump


@pytest.mark.promise("DEV-2")
def test_a_report_is_linked_to_the_device_with_that_number_and_password(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    phone, other = make_phone(), make_phone()
    with live_server.client() as client:
        answer = client.post(CHECKIN, json=phone.report(), headers=phone.basic())
    assert answer.status_code == 200
    assert answer.json()["services"] == {"voip": True, "info": True, "messaging": True}
    (row,) = reports(live_server)
    assert row.device_id == stored(live_server.system, phone).id != stored(live_server.system, other).id


@pytest.mark.promise("DEV-2")
@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"serial": "SN-999999"}, 409, "serial number does not match"),
        ({"mac": "00:11:22:33:44:55"}, 409, "MAC address does not match"),
        ({"product": "Other phone"}, 409, "product does not match"),
        ({"private_port": 70000}, 422, "private_port"),
        ({"internal_ip": "8.8.8.8"}, 422, "not an address inside a home network"),
        ({"mac": "zz"}, 422, "twelve hexadecimal digits"),
        ({"extra": "field"}, 422, "extra"),
    ],
)
def test_a_report_that_does_not_match_the_factory_record_changes_nothing(
    live_server: LiveServer, make_phone: MakePhone, change: dict[str, object], status: int, reason: str
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        answer = client.post(CHECKIN, json=phone.report(**change), headers=phone.basic())
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert reports(live_server) == []
    assert stored(live_server.system, phone).software_version is None


@pytest.mark.promise("DEV-2")
def test_wrong_credentials_are_refused_and_then_rate_limited(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        assert client.post(CHECKIN, json=phone.report()).status_code == 401
        garbage = client.post(CHECKIN, content=b"{not json", headers=phone.basic())
        assert garbage.status_code == 422
        for _ in range(5):
            wrong = client.post(CHECKIN, json=phone.report(), headers=phone.basic("wrong-password"))
            assert wrong.status_code == 401
            assert wrong.headers["www-authenticate"].startswith("Basic")
        blocked = client.post(CHECKIN, json=phone.report(), headers=phone.basic())
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        clock.advance(timedelta(minutes=16))
        assert client.post(CHECKIN, json=phone.report(), headers=phone.basic()).status_code == 200
    assert len(reports(live_server)) == 1


def test_a_device_out_of_service_cannot_check_in(live_server: LiveServer, make_phone: MakePhone) -> None:
    from privateline.services.devices.records import set_in_service

    phone = make_phone()
    with live_server.system.database.unit_of_work() as uow:
        set_in_service(uow.connection, stored(live_server.system, phone).id, False)
        uow.commit()
    with live_server.client() as client:
        answer = client.post(CHECKIN, json=phone.report(), headers=phone.basic())
    assert answer.status_code == 403
    assert reports(live_server) == []


@pytest.mark.promise("DEV-9")
def test_older_software_is_offered_the_newest_version_and_the_answer_is_kept_until_a_newer_one(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    phone = make_phone()
    system = live_server.system

    def publish(version: str) -> None:
        with system.database.unit_of_work() as uow:
            add_firmware(
                uow.connection,
                Firmware(
                    phone.product,
                    version,
                    f"https://updates.example/{version}.bin",
                    {"en": "Fixes", "de": "Korrekturen", "nl": "Verbeteringen"},
                    system.clock.now(),
                ),
            )
            uow.commit()

    publish("42.1")
    publish("42.10")
    with live_server.client() as client:
        offer = client.post(CHECKIN, json=phone.report(software_version="42.9"), headers=phone.basic()).json()["update"]
        assert offer == {
            "version": "42.10",
            "url": "https://updates.example/42.10.bin",
            "notes": {"en": "Fixes", "de": "Korrekturen", "nl": "Verbeteringen"},
            "decision": None,
        }
        answer = client.post(
            "/device/v1/update", json={"version": "42.10", "decision": "declined"}, headers=phone.basic()
        )
        assert answer.status_code == 200, answer.text
        again = client.post(CHECKIN, json=phone.report(software_version="42.9"), headers=phone.basic()).json()
        assert again["update"]["decision"] == "declined"
        stale = client.post(
            "/device/v1/update", json={"version": "42.1", "decision": "accepted"}, headers=phone.basic()
        )
        assert stale.status_code == 409
        publish("43.0")
        newer = client.post(CHECKIN, json=phone.report(software_version="42.9"), headers=phone.basic()).json()
        assert newer["update"]["version"] == "43.0"
        assert newer["update"]["decision"] is None
        current = client.post(CHECKIN, json=phone.report(software_version="43.0"), headers=phone.basic()).json()
        assert current["update"] is None
    with system.database.reading() as connection:
        assert list(connection.execute(sa.select(update_decision))) == []


@pytest.mark.promise("DEV-1")
def test_check_ins_leave_no_trace_in_the_website_access_log(live_server: LiveServer, make_phone: MakePhone) -> None:
    from privateline.services.site.access_log import access_log

    phone = make_phone()
    with live_server.client() as client:
        for _ in range(3):
            assert client.post(CHECKIN, json=phone.report(), headers=phone.basic()).status_code == 200
        assert client.get("/config-helper").status_code == 200
    live_server.stop()  # shutting down flushes the access log
    with live_server.system.database.reading() as connection:
        paths = [row.path for row in connection.execute(sa.select(access_log))]
    assert paths == ["/config-helper"]
