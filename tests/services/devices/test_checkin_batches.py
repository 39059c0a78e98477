"""The check-in's batches: what one transaction stores and answers for many phones (DEV-1, DEV-2, DEV-9).

The desk stores whatever has queued up in one transaction, with one statement per kind of
write (`storage.upsert`) and one lookup of update offers for the whole batch; these tests
hold the batched paths to what one phone at a time would give.
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.services.devices.checkin import (
    MAX_BODY,
    Accepted,
    Checkin,
    CheckinDesk,
    CheckinReport,
    Refused,
    process_batch,
)
from privateline.services.devices.records import device, set_in_service
from privateline.services.devices.reports import device_report
from privateline.services.devices.updates import (
    Decision,
    Firmware,
    add_firmware,
    decide,
    newest_firmware,
    offer_for,
    offers_for,
)
from privateline.storage.upsert import update_by_key, upsert
from tests.conftest import BACKENDS, LiveServer
from tests.services.devices.conftest import MakePhone, Phone, stored

CHECKIN = "/device/v1/checkin"


def reports(system: System) -> dict[int, sa.Row[tuple[object, ...]]]:
    with system.database.reading() as connection:
        return {row.device_id: row for row in connection.execute(sa.select(device_report))}


def report_row(device_id: int, moment: datetime, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "device_id": device_id,
        "reported_at": moment,
        "private_ip": "192.168.178.23",
        "private_port": 5060,
        "public_network": "f" * 64,
        "device_name": "Kitchen",
        "software_version": "42.1",
    }
    row.update(changes)
    return row


def test_upsert_replaces_by_key_and_the_last_row_of_a_batch_wins(system: System, make_phone: MakePhone) -> None:
    first, second, third = (stored(system, make_phone()).id for _ in range(3))
    moment = system.clock.now()
    with system.database.unit_of_work() as uow:
        upsert(uow.connection, device_report, [report_row(second, moment), report_row(first, moment)], ["device_id"])
        uow.commit()
    later = moment + timedelta(days=1)
    with system.database.unit_of_work() as uow:
        upsert(
            uow.connection,
            device_report,
            [
                report_row(third, later, device_name="Hall"),
                report_row(first, later, private_port=5062, device_name="Büro 'oben' \"links\""),
                report_row(third, later, device_name="Attic", software_version="43.0"),
            ],
            ["device_id"],
        )
        uow.commit()
    rows = reports(system)
    assert set(rows) == {first, second, third}
    assert (rows[first].reported_at, rows[first].private_port, rows[first].device_name) == (
        later,
        5062,
        "Büro 'oben' \"links\"",
    )
    assert (rows[second].reported_at, rows[second].device_name) == (moment, "Kitchen")
    assert (rows[third].device_name, rows[third].software_version) == ("Attic", "43.0")


def test_moments_are_stored_in_utc_and_naive_ones_are_refused(system: System, make_phone: MakePhone) -> None:
    record = stored(system, make_phone())
    elsewhere = datetime(2026, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    with system.database.unit_of_work() as uow:
        upsert(uow.connection, device_report, [report_row(record.id, elsewhere)], ["device_id"])
        uow.commit()
    assert reports(system)[record.id].reported_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive datetime"), system.database.unit_of_work() as uow:
        upsert(uow.connection, device_report, [report_row(record.id, datetime(2026, 3, 2))], ["device_id"])  # noqa: DTZ001


def test_update_by_key_sets_the_given_columns_and_inserts_nothing(system: System, make_phone: MakePhone) -> None:
    kitchen, hall, untouched = make_phone(), make_phone(), make_phone()
    rows = [
        {"id": stored(system, hall).id, "internal_ip": "10.0.0.2", "software_version": "42.2"},
        {"id": stored(system, kitchen).id, "internal_ip": "10.0.0.1", "software_version": "42.1"},
        {"id": stored(system, kitchen).id, "internal_ip": "10.0.0.9", "software_version": "42.9"},  # the last wins
        {"id": 999_999, "internal_ip": "10.0.0.3", "software_version": "1"},  # no such device
    ]
    with system.database.unit_of_work() as uow:
        update_by_key(uow.connection, device, rows, ["id"])
        uow.commit()
    changed = stored(system, kitchen)
    assert (changed.internal_ip, changed.software_version) == ("10.0.0.9", "42.9")
    assert stored(system, hall).software_version == "42.2"
    after = stored(system, untouched)
    assert (after.internal_ip, after.software_version, after.serial) == (None, None, untouched.serial)
    with system.database.reading() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(device)).scalar_one() == 3


def test_update_by_key_leaves_a_row_that_already_holds_the_values_alone(system: System, make_phone: MakePhone) -> None:
    record = stored(system, make_phone())
    row = {"id": record.id, "internal_ip": "10.0.0.1", "software_version": "42.1"}
    assert _rows_written(system, row) == 1
    assert _rows_written(system, row) == 0
    assert _rows_written(system, {**row, "software_version": "42.2"}) == 1


def _rows_written(system: System, row: dict[str, object]) -> int:
    """How many rows of `device` the update wrote: a new row version on PostgreSQL, a change on SQLite."""
    postgresql = system.database.dialect == "postgresql"
    version = sa.text("SELECT xmin::text FROM device WHERE id = :id")
    with system.database.unit_of_work() as uow:
        before = uow.connection.execute(version, {"id": row["id"]}).scalar_one() if postgresql else None
        update_by_key(uow.connection, device, [row], ["id"])
        if postgresql:
            written = int(uow.connection.execute(version, {"id": row["id"]}).scalar_one() != before)
        else:
            written = int(uow.connection.exec_driver_sql("SELECT changes()").scalar_one())
        uow.commit()
    return written


def _publish(system: System, product: str, version: str) -> Firmware:
    item = Firmware(
        product,
        version,
        f"https://updates.example/{product.replace(' ', '-')}/{version}.bin",
        {"en": "Fixes", "de": "Korrekturen", "nl": "Verbeteringen"},
        system.clock.now(),
    )
    with system.database.unit_of_work() as uow:
        add_firmware(uow.connection, item)
        uow.commit()
    return item


@pytest.mark.promise("DEV-9")
def test_batched_update_offers_are_the_offers_one_device_at_a_time(system: System, make_phone: MakePhone) -> None:
    c430 = [stored(system, make_phone(product="Gigaset C430 IP")) for _ in range(5)]
    n510 = [stored(system, make_phone(product="Gigaset N510 IP PRO")) for _ in range(2)]
    nothing_published = stored(system, make_phone(product="Gigaset A690 IP"))
    _publish(system, "Gigaset C430 IP", "42.9")
    _publish(system, "Gigaset C430 IP", "42.10")
    _publish(system, "Gigaset N510 IP PRO", "7.1")
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        decide(uow.connection, c430[0].id, c430[0].product, "42.1", "42.10", Decision.DECLINED, now)
        decide(uow.connection, c430[1].id, c430[1].product, None, "42.10", Decision.ACCEPTED, now)
        decide(uow.connection, n510[0].id, n510[0].product, "7.0", "7.1", Decision.ACCEPTED, now)
        uow.commit()
    reported = [
        (c430[0], "42.1"),  # older, declined
        (c430[1], None),  # never reported, accepted
        (c430[2], "42.10"),  # current: no offer
        (c430[3], "43"),  # newer than the catalogue: no offer
        (c430[4], "42.9"),  # older, no answer yet
        (n510[0], "7.0"),
        (n510[1], "7.0"),
        (nothing_published, "1.0"),
        (c430[0], "42.1"),  # the same device twice in a batch
    ]
    with system.database.reading() as connection:
        newest = {record.product: newest_firmware(connection, record.product) for record, _ in reported}
        one_by_one = [offer_for(connection, r.id, version, newest[r.product]) for r, version in reported]
        batched = offers_for(connection, [(r.id, version, newest[r.product]) for r, version in reported])
    assert batched == one_by_one
    assert [None if o is None else (o.version, o.decision) for o in batched] == [
        ("42.10", Decision.DECLINED),
        ("42.10", Decision.ACCEPTED),
        None,
        None,
        ("42.10", None),
        ("7.1", Decision.ACCEPTED),
        ("7.1", None),
        None,
        ("42.10", Decision.DECLINED),
    ]


def _checkin(phone: Phone, password: str | None = None, **changes: object) -> Checkin:
    return Checkin(
        phone.number, password or phone.password, CheckinReport.model_validate(phone.report(**changes)), "f" * 64
    )


@pytest.mark.promise("DEV-1", "DEV-2")
def test_a_batch_answers_every_check_in_in_order_and_stores_only_the_accepted_ones(
    system: System, make_phone: MakePhone
) -> None:
    good, twice, wrong_password, retired, other_serial = (make_phone() for _ in range(5))
    with system.database.unit_of_work() as uow:
        set_in_service(uow.connection, stored(system, retired).id, False)
        uow.commit()
    batch = [
        _checkin(twice, device_name="First"),
        _checkin(good),
        _checkin(wrong_password, password="not-the-password"),
        Checkin("99999", "whatever", CheckinReport.model_validate(good.report()), "f" * 64),
        _checkin(retired),
        _checkin(other_serial, serial="SN-999999"),
        _checkin(twice, device_name="Second", software_version="42.2"),
    ]
    with system.database.unit_of_work() as uow:
        outcomes = process_batch(uow.connection, batch, system.clock.now(), system.settings.sip_realm)
        uow.commit()
    assert [o.status if isinstance(o, Refused) else 200 for o in outcomes] == [200, 200, 401, 401, 403, 409, 200]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert [o.credentials_wrong for o in refused] == [True, True, False, False]
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    assert all(o.services == {"voip": True, "info": True, "messaging": True} and o.offer is None for o in accepted)
    rows = reports(system)
    assert set(rows) == {stored(system, good).id, stored(system, twice).id}
    assert (rows[stored(system, twice).id].device_name, rows[stored(system, twice).id].software_version) == (
        "Second",
        "42.2",
    )
    assert stored(system, twice).software_version == "42.2"
    for phone in (wrong_password, retired, other_serial):
        assert stored(system, phone).software_version is None


def test_a_check_in_is_answered_with_the_switches_of_its_own_device(system: System, make_phone: MakePhone) -> None:
    on, off = make_phone(), make_phone()
    with system.database.unit_of_work() as uow:
        uow.connection.execute(sa.update(device).where(device.c.id == stored(system, off).id).values(voip_on=False))
        uow.commit()
    with system.database.unit_of_work() as uow:
        outcomes = process_batch(
            uow.connection, [_checkin(off), _checkin(on), _checkin(off)], system.clock.now(), system.settings.sip_realm
        )
        uow.commit()
    assert [o.services for o in outcomes if isinstance(o, Accepted)] == [
        {"voip": False, "info": True, "messaging": True},
        {"voip": True, "info": True, "messaging": True},
        {"voip": False, "info": True, "messaging": True},
    ]


@pytest.mark.promise("DEV-1")
def test_phones_checking_in_at_once_are_each_answered_and_stored(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    phones = [make_phone() for _ in range(24)]
    answers: dict[str, httpx.Response] = {}

    def check_in(phone: Phone) -> None:
        with live_server.client() as client:
            answers[phone.number] = client.post(CHECKIN, json=phone.report(), headers=phone.basic())

    threads = [threading.Thread(target=check_in, args=(phone,)) for phone in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers.values()) == [200] * len(phones)
    assert set(reports(live_server.system)) == {stored(live_server.system, p).id for p in phones}


def test_the_answer_is_json_with_the_security_headers(live_server: LiveServer, make_phone: MakePhone) -> None:
    phone = make_phone()
    with live_server.client() as client:
        answer = client.post(CHECKIN, json=phone.report(), headers=phone.basic())
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.json() == {
        "services": {"voip": True, "info": True, "messaging": True},
        "update": None,
        "next_checkin_seconds": 86400,
    }


@pytest.mark.promise("DEV-2")
def test_requests_that_cannot_be_a_check_in_are_refused_with_a_reason(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        unsigned = client.post(CHECKIN, json=phone.report())
        garbled = client.post(CHECKIN, json=phone.report(), headers={"Authorization": "Basic !!!"})
        too_large = client.post(CHECKIN, content=b'{"serial": "' + b"x" * MAX_BODY + b'"}', headers=phone.basic())
        not_a_post = client.get(CHECKIN, headers=phone.basic())
    for answer in (unsigned, garbled):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Basic")
        assert "sign in" in answer.json()["error"]
    assert too_large.status_code == 413
    assert str(MAX_BODY) in too_large.json()["error"]
    assert not_a_post.status_code == 405
    assert reports(live_server.system) == {}


def _drop_connections(system: System) -> None:
    """What a restart of the PostgreSQL server does to its clients."""
    with system.database.engine.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


# Only a PostgreSQL server drops its clients' connections: these run on it alone.
on_postgresql = pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)


@on_postgresql
def test_check_ins_go_on_after_the_database_dropped_its_connections(
    live_server: LiveServer, make_phone: MakePhone
) -> None:
    system = live_server.system
    first, second = make_phone(), make_phone()
    with live_server.client() as client:
        assert client.post(CHECKIN, json=first.report(), headers=first.basic()).status_code == 200
        _drop_connections(system)
        answer = client.post(CHECKIN, json=second.report(), headers=second.basic())
    assert answer.status_code == 200, answer.text
    assert set(reports(system)) == {stored(system, first).id, stored(system, second).id}


@on_postgresql
def test_a_busy_desk_replaces_its_connection_when_the_database_dropped_it(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    first, second = make_phone(), make_phone()
    desk = CheckinDesk(system.database, clock, system.settings.sip_realm)
    try:
        # Between batches a busy desk keeps its connection (it gives it back when idle).
        assert isinstance(desk._store([_checkin(first)])[0], Accepted)
        _drop_connections(system)
        assert isinstance(desk._store([_checkin(second)])[0], Accepted)
    finally:
        desk._disconnect()
    assert set(reports(system)) == {stored(system, first).id, stored(system, second).id}


def test_basic_credentials_are_read_as_the_phones_send_them() -> None:
    from privateline.services.devices.checkin import basic_credentials

    token = base64.b64encode("1234:pä:ss".encode()).decode()
    assert basic_credentials(f"Basic {token}") == ("1234", "pä:ss")
    assert basic_credentials(f"basic  {token} ") == ("1234", "pä:ss")
    assert basic_credentials("Bearer abc") is None
    assert basic_credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None
