"""Recipients are told of every rectification, erasure or restriction; the subject learns who they are (R-5).

The shipped register's device-cloud activities have no recipients, so these tests run
on a variant in which the daily check-in goes to the repair service and the
information profile to the repair service and the group's logistics centre.  Only the
repair service has a webhook endpoint: a real HTTPS server on a loopback port
(`webhook_receiver`); the logistics centre is to be informed by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from structlog.testing import capture_logs

from privateline.app.config import RecipientEndpoint, Settings
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.register.loader import LoadedRegister, load_register, parse_register
from privateline.register.model import RecipientRole, TransferSafeguard
from privateline.services.devices.profiles import update_profile
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.held import Subject, held_stores
from privateline.services.privacy.recipients import (
    NOTICE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Change,
    Endpoint,
    Informed,
    RecipientDelivery,
    RecipientError,
    notices_of,
    notify_recipients,
    recipients_of,
    settle_by_hand,
    signature,
    valid_signature,
)
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.recipient_outbox import NoticeState, RecipientOutbox, StoredNotice
from tests.conftest import start_live_server
from tests.services.devices.conftest import phone_maker, stored
from tests.services.privacy.webhook_receiver import (
    SLOW,
    Certificates,
    Receiver,
    make_certificates,
    start_receiver,
)

SECRET = "repair-service-signing-secret-0123456789"
REPAIRS = "repair_service"
LOGISTICS = "group_logistics"


def device_register() -> LoadedRegister:
    """The shipped register, with recipients for two device-cloud activities."""
    text = resources.files("privateline.register").joinpath("data", "register.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    data["activities"]["device_checkin"]["recipients"] = [REPAIRS]
    data["activities"]["information_services"]["recipients"] = [REPAIRS, LOGISTICS]
    return parse_register(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "test-device-recipients.yaml")


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture
def receiver(certificates: Certificates) -> Iterator[Receiver]:
    running = start_receiver(certificates)
    yield running
    running.stop()


@pytest.fixture
def recipient_system(tmp_path: Path, database_url: str, clock: FakeClock, receiver: Receiver) -> Iterator[System]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        recipient_endpoints={
            REPAIRS: RecipientEndpoint(
                url=receiver.endpoint(REPAIRS), secret=SecretStr(SECRET), ca_file=receiver.ca_file
            )
        },
    )
    built = build_system(settings, clock=clock, register=device_register())
    yield built
    built.close()


@pytest.fixture
def open_databases() -> Iterator[list[Database]]:
    opened: list[Database] = []
    yield opened
    for database in opened:
        database.dispose()


def endpoints(receiver: Receiver) -> dict[str, Endpoint]:
    return {REPAIRS: Endpoint(receiver.endpoint(REPAIRS), SECRET.encode(), receiver.ca_file)}


def a_subject(system: System, number: str = "7712345678") -> Subject:
    return Subject("device_owner", 1, system.pseudonymizer.pseudonym("device_owner", number))


def queue(system: System, subject: Subject, activities: list[str], change: Change = Change.ERASURE) -> int:
    with system.database.unit_of_work() as uow:
        queued = notify_recipients(
            uow.connection, system.loaded.register, subject, change, activities, system.clock.now(), "req-1"
        )
        uow.commit()
    return queued


def notices(system: System, subject: Subject) -> list[StoredNotice]:
    with system.database.reading() as connection:
        return RecipientOutbox(connection).of_subject(subject.pseudonym)


def only_notice(system: System, subject: Subject) -> StoredNotice:
    [notice] = notices(system, subject)
    return notice


def audit_kinds(system: System, subject: Subject) -> list[str]:
    with system.database.reading() as connection:
        return [e.kind for e in AuditLog(connection).entries(subject.pseudonym)]


def expected_signature(timestamp: str, body: bytes) -> str:
    """Computed here from the documented rule, not by the code under test."""
    return "v1=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@pytest.mark.promise("R-5")
def test_an_erasure_tells_each_recipient_of_the_erased_data_once_by_a_signed_webhook(
    recipient_system: System, receiver: Receiver, clock: FakeClock
) -> None:
    system = recipient_system
    phone = phone_maker(system)(number="7712345678")
    server = start_live_server(system)
    try:
        with server.client() as client:
            assert client.post("/device/v1/checkin", json=phone.report(), headers=phone.basic()).status_code == 200
    finally:
        server.stop()
    record = stored(system, phone)
    with system.database.unit_of_work() as uow:
        update_profile(uow.connection, record.id, clock.now(), {"city": "Utrecht"})
        uow.commit()
    subject = device_subject(record, system.pseudonymizer)

    report = system.rights.erase(subject, request_id="req-erase-1")
    assert {"device_report", "info_profile"} <= set(report.erased)

    # One notice per distinct recipient, each naming only the activities it receives data from.
    queued = notices(system, subject)
    assert {(n.recipient, n.activities) for n in queued} == {
        (REPAIRS, ("device_checkin", "information_services")),
        (LOGISTICS, ("information_services",)),
    }
    assert all(n.state is NoticeState.PENDING and n.change == "erasure" for n in queued)
    assert all(n.request_id == "req-erase-1" for n in queued)

    delivered = system.deliver_recipient_notices()
    assert (delivered.delivered, delivered.by_hand, delivered.retried, delivered.failed) == (1, 1, 0, 0)
    [hook] = receiver.received
    assert hook.path == f"/hooks/{REPAIRS}"
    timestamp = hook.headers[TIMESTAMP_HEADER.lower()]
    assert int(timestamp) == int(clock.now().timestamp())
    assert hook.headers[SIGNATURE_HEADER.lower()] == expected_signature(timestamp, hook.body)
    assert valid_signature(SECRET.encode(), timestamp, hook.headers[SIGNATURE_HEADER.lower()], hook.body, clock.now())
    assert hook.headers["content-type"] == "application/json"
    body = json.loads(hook.body)
    repairs = next(n for n in queued if n.recipient == REPAIRS)
    assert hook.headers[NOTICE_HEADER.lower()] == body["notice_id"] == repairs.id
    assert body["api_version"] == "1.0"
    assert body["subject_request_id"] == "req-erase-1"
    assert body["subject_request_type"] == "erasure"
    assert body["submitted_time"] == clock.now().isoformat().replace("+00:00", "Z")
    assert body["subject_identities"] == [
        {
            "identity_type": "controller_pseudonym",
            "identity_format": "hmac-sha256",
            "identity_value": subject.pseudonym,
        }
    ]
    assert [a["id"] for a in body["activities"]] == ["device_checkin", "information_services"]
    assert body["legal_basis"] == "Art. 19 GDPR"
    # The subject is named by pseudonym only: nothing the phone is known by travels.
    for clear in (phone.number, phone.serial, phone.mac, phone.password, "Utrecht"):
        assert clear not in hook.body.decode()

    states = {n.recipient: n.state for n in notices(system, subject)}
    assert states == {REPAIRS: NoticeState.DELIVERED, LOGISTICS: NoticeState.BY_HAND}
    # The subject can learn who was told, and who is still to be told by hand.
    with system.database.reading() as connection:
        views = {v.recipient_id: v for v in notices_of(connection, system.loaded.register, subject)}
        held = {s.table for s in held_stores(connection, system.tables, subject) if s.rows}
    assert views[REPAIRS].informed is Informed.INFORMED and views[REPAIRS].informed_at == clock.now()
    assert views[LOGISTICS].informed is Informed.BY_HAND
    told = views[REPAIRS].recipient
    assert told is not None and told.name == "Repair service provider"
    assert "recipient_notice" in held  # and the notices are part of what an access request shows
    kinds = audit_kinds(system, subject)
    assert kinds.count("rights.recipients_queued") == 1 and kinds.count("rights.recipient_informed") == 1

    # Delivered is delivered: nothing is sent twice.
    clock.advance(timedelta(days=1))
    assert system.deliver_recipient_notices().delivered == 0
    assert len(receiver.received) == 1


@pytest.mark.promise("R-5")
def test_a_failing_endpoint_is_retried_with_backoff_and_a_restart_loses_nothing(
    recipient_system: System, receiver: Receiver, clock: FakeClock, database_url: str, open_databases: list[Database]
) -> None:
    system = recipient_system
    subject = a_subject(system)
    assert queue(system, subject, ["device_checkin"]) == 1
    receiver.answers.extend([503, SLOW, 500])

    def restarted() -> RecipientDelivery:
        """A worker as a freshly started process has it: new objects, the same database."""
        database = Database.open(database_url)
        open_databases.append(database)
        return RecipientDelivery(database, device_register().register, endpoints(receiver), clock, timeout_seconds=0.3)

    start = clock.now()
    with capture_logs() as logs:
        worker = restarted()
        assert worker.run().retried == 1
        first = only_notice(system, subject)
        assert (first.state, first.attempts, first.last_error) == (NoticeState.PENDING, 1, "HTTP 503")
        assert first.next_attempt_at == start + timedelta(minutes=1)
        assert worker.run().retried == 0  # the backoff holds
        assert len(receiver.received) == 1

        clock.advance(timedelta(seconds=59))
        assert restarted().run().retried == 0
        clock.advance(timedelta(seconds=1))
        assert restarted().run().retried == 1  # the receiver outlasts the timeout
        second = only_notice(system, subject)
        assert (second.attempts, second.last_error) == (2, "timeout")
        assert second.next_attempt_at == clock.now() + timedelta(minutes=2)

        clock.advance(timedelta(minutes=2))
        assert restarted().run().retried == 1
        third = only_notice(system, subject)
        assert (third.attempts, third.last_error) == (3, "HTTP 500")
        assert third.next_attempt_at == clock.now() + timedelta(minutes=4)

        clock.advance(timedelta(minutes=4))
        assert restarted().run().delivered == 1
    done = only_notice(system, subject)
    assert (done.state, done.attempts, done.delivered_at) == (NoticeState.DELIVERED, 4, clock.now())

    assert len(receiver.received) == 4
    assert len({r.headers[NOTICE_HEADER.lower()] for r in receiver.received}) == 1  # one notice, four attempts
    assert len({r.body for r in receiver.received}) == 1
    for r in receiver.received:
        assert r.headers[SIGNATURE_HEADER.lower()] == expected_signature(r.headers[TIMESTAMP_HEADER.lower()], r.body)
    # Log lines carry neither the secret nor the subject's pseudonym.
    assert logs
    for line in logs:
        assert SECRET not in repr(line) and subject.pseudonym not in repr(line)


class _Crash(BaseException):
    pass


class _CrashingDelivery(RecipientDelivery):
    def _post(self, notice: StoredNotice, clients: dict[str, httpx.Client]) -> str | None:
        raise _Crash  # the process stops after the attempt was claimed


@pytest.mark.promise("R-5")
def test_an_attempt_cut_short_by_a_crash_is_counted_and_made_again(
    recipient_system: System, receiver: Receiver, clock: FakeClock
) -> None:
    system = recipient_system
    subject = a_subject(system)
    queue(system, subject, ["device_checkin"])
    register = system.loaded.register
    with pytest.raises(_Crash):
        _CrashingDelivery(system.database, register, endpoints(receiver), clock, timeout_seconds=0.3).run()
    claimed = only_notice(system, subject)
    assert (claimed.state, claimed.attempts) == (NoticeState.PENDING, 1)

    worker = RecipientDelivery(system.database, register, endpoints(receiver), clock, timeout_seconds=0.3)
    assert worker.run().delivered == 0  # held by the crashed worker's lease
    assert receiver.received == []
    clock.advance(timedelta(minutes=2))
    assert worker.run().delivered == 1
    assert only_notice(system, subject).attempts == 2
    assert len(receiver.received) == 1


@pytest.mark.promise("R-5")
def test_a_change_that_rolls_back_queues_nothing(recipient_system: System, receiver: Receiver) -> None:
    system = recipient_system
    subject = a_subject(system)
    now = system.clock.now()
    queued: list[int] = []

    def rectify_and_fail() -> None:
        with system.database.unit_of_work() as uow:
            register = system.loaded.register
            change, activities = Change.RECTIFICATION, ["information_services"]
            queued.append(notify_recipients(uow.connection, register, subject, change, activities, now, None))
            raise RuntimeError("the rectification failed")

    with pytest.raises(RuntimeError):
        rectify_and_fail()
    assert queued == [2]
    with system.database.unit_of_work() as uow:  # ends without commit: rolled back too
        notify_recipients(
            uow.connection, system.loaded.register, subject, Change.RESTRICTION, ["device_checkin"], now, None
        )
    assert notices(system, subject) == []
    assert audit_kinds(system, subject) == []
    assert system.deliver_recipient_notices().delivered == 0
    assert receiver.received == []


@pytest.mark.promise("R-5")
def test_giving_up_marks_the_notice_failed_for_the_dpo_who_can_settle_it_by_hand(
    recipient_system: System, receiver: Receiver, clock: FakeClock
) -> None:
    system = recipient_system
    subject = a_subject(system)
    queue(system, subject, ["device_checkin"], Change.RESTRICTION)
    receiver.answers.extend([500] * 10)
    worker = RecipientDelivery(system.database, system.loaded.register, endpoints(receiver), clock, max_attempts=3)

    assert worker.run().retried == 1
    clock.advance(timedelta(minutes=1))
    assert worker.run().retried == 1
    clock.advance(timedelta(minutes=2))
    assert worker.run().failed == 1
    failed = only_notice(system, subject)
    assert (failed.state, failed.attempts, failed.last_error) == (NoticeState.FAILED, 3, "HTTP 500")
    clock.advance(timedelta(days=2))
    assert worker.run().retried == 0
    assert len(receiver.received) == 3  # bounded: no fourth attempt

    with system.database.reading() as connection:
        assert [n.id for n in RecipientOutbox(connection).unsettled()] == [failed.id]  # the DPO's list
        [view] = notices_of(connection, system.loaded.register, subject)
    assert view.informed is Informed.BY_HAND and view.change == "restriction"
    assert "rights.recipient_notice_failed" in audit_kinds(system, subject)

    with system.database.unit_of_work() as uow:
        assert settle_by_hand(uow.connection, failed.id, clock.now(), by="dpo:erika")
        assert not settle_by_hand(uow.connection, failed.id, clock.now(), by="dpo:erika")  # once
        uow.commit()
    settled = only_notice(system, subject)
    assert (settled.state, settled.closed_at) == (NoticeState.INFORMED_BY_HAND, clock.now())
    assert "rights.recipient_informed_by_hand" in audit_kinds(system, subject)


@pytest.mark.promise("R-5")
def test_a_recipient_without_an_endpoint_waits_by_hand_until_one_is_configured(
    recipient_system: System, receiver: Receiver
) -> None:
    system = recipient_system
    subject = a_subject(system)
    queue(system, subject, ["device_checkin"])
    register, clock = system.loaded.register, system.clock
    unconfigured = RecipientDelivery(system.database, register, {}, clock).run()
    assert (unconfigured.by_hand, unconfigured.delivered) == (1, 0)
    assert only_notice(system, subject).state is NoticeState.BY_HAND
    assert receiver.received == []

    configured = RecipientDelivery(system.database, register, endpoints(receiver), clock).run()
    assert (configured.resumed, configured.delivered) == (1, 1)
    assert only_notice(system, subject).state is NoticeState.DELIVERED


@pytest.mark.promise("R-5")
def test_the_subject_can_learn_who_the_recipients_are() -> None:
    register = device_register().register
    found = recipients_of(register, ["information_services", "device_checkin", "device_checkin"])
    assert [(r.id, r.activities) for r in found] == [
        (REPAIRS, ("device_checkin", "information_services")),
        (LOGISTICS, ("information_services",)),
    ]
    repairs = found[0]
    assert (repairs.name, repairs.role, repairs.country, repairs.safeguard) == (
        "Repair service provider",
        RecipientRole.PROCESSOR,
        "NL",
        TransferSafeguard.NONE_NEEDED,
    )
    # A transfer outside the EEA is shown with its safeguard (shipped register, repairs).
    shipped = load_register().register
    by_id = {r.id: r for r in recipients_of(shipped, ["repairs"])}
    centre = by_id["group_repair_centre"]
    assert (centre.country, centre.safeguard, centre.third_country) == ("CN", TransferSafeguard.BCR, True)
    assert centre.as_json("de")["description"].startswith("Ein Unternehmen unserer Gruppe")
    # The shipped device cloud has no recipients: nobody to tell, nothing queued.
    assert recipients_of(shipped, ["device_checkin", "information_services", "voip_nickname"]) == []


@pytest.mark.promise("R-5")
def test_a_recipient_can_tell_a_genuine_notice_from_a_forged_or_replayed_one(clock: FakeClock) -> None:
    secret, body, now = SECRET.encode(), b'{"notice_id":"abc"}', clock.now()
    timestamp = int(now.timestamp())
    signed = signature(secret, timestamp, body)
    assert valid_signature(secret, str(timestamp), signed, body, now)
    assert not valid_signature(secret, str(timestamp), signed, body + b" ", now)  # altered body
    assert not valid_signature(b"another-secret-of-enough-length!!", str(timestamp), signed, body, now)
    assert not valid_signature(secret, str(timestamp), signed, body, now + timedelta(minutes=6))  # replayed later
    assert not valid_signature(secret, "yesterday", signed, body, now)


def test_an_endpoint_must_be_https_and_its_secret_is_never_shown() -> None:
    with pytest.raises(RecipientError):
        Endpoint("http://recipient.example/hooks", b"secret")
    with pytest.raises(RecipientError):
        Endpoint("https://recipient.example/hooks", b"")
    endpoint = Endpoint("https://recipient.example/hooks", SECRET.encode())
    assert SECRET not in repr(endpoint)
