"""The rights engine's rectification, restriction, objection and withdrawal, and the purpose gate
that enforces them (R-3, R-7, R-8, R-9), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from privateline.app.config import Settings
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from privateline.kernel.consent import ConsentEvent, ConsentEventKind
from privateline.kernel.gate import Ground, Use, Verdict
from privateline.services.devices.nicknames import MAX_NICKNAME, NicknameError, clean_nickname, nickname_of
from privateline.services.devices.portal import forms
from privateline.services.devices.profiles import ProfileError, clean_city, profile_of
from privateline.services.devices.records import Device, device
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.choices import NotOpenError, decide_objection
from privateline.services.privacy.held import Subject
from privateline.services.privacy.rectification import RectificationError
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.recipient_outbox import RecipientOutbox
from privateline.storage.subject_rights import ALL_ACTIVITIES, ObjectionState
from tests.services.devices.portal.conftest import add_device, reload
from tests.services.privacy.registers import (
    INFO,
    INFO_RECIPIENT,
    MISUSE,
    QUALITY,
    TIPS,
    TIPS_RECIPIENT,
    register_with_device_choices,
)


@pytest.fixture
def choices_system(settings: Settings, clock: FakeClock) -> Iterator[System]:
    """A system whose register lets device owners object and withdraw consent."""
    built = build_system(settings, clock=clock, register=register_with_device_choices())
    yield built
    built.close()


def _subject(system: System, record: Device) -> Subject:
    return device_subject(record, system.pseudonymizer)


def _verdict(
    system: System,
    subject: Subject,
    activity: str,
    use: Use = Use.PROCESS,
    at: datetime | None = None,
    data_from: tuple[str, ...] = (),
) -> Verdict:
    with system.database.reading() as connection:
        return system.rights.gate.verdict(connection, subject, activity, use, at=at, data_from=data_from)


def _audit(system: System, subject: Subject) -> list[tuple[str, dict[str, object]]]:
    with system.database.reading() as connection:
        return [(e.kind, dict(e.detail)) for e in AuditLog(connection).entries(subject.pseudonym)]


# Rectification (R-3) --------------------------------------------------------------------


@pytest.mark.promise("R-3")
def test_only_what_the_owner_provided_is_rectifiable_and_a_correction_is_made_at_once(system: System) -> None:
    record = add_device(system)
    subject = _subject(system, record)
    fields = {f.name: f for f in system.rights.rectifiable(subject)}
    # The nickname and the profile's city and birth date; never the factory facts.
    assert set(fields) == {"nickname", "city", "birth_date"}
    assert {f.activity for f in fields.values()} == {"voip_nickname", "information_services"}
    assert all(f.current is None and f.available for f in fields.values())

    changed = system.rights.rectify(
        subject, {"nickname": " Oma Ju ", "city": "  Den   Haag ", "birth_date": "1961-08-13"}, "req-1"
    )
    assert changed == ["birth_date", "city", "nickname"]
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) == "Oma Ju"  # cleaned as the original input is
        profile = profile_of(connection, record.id)
    assert profile is not None and (profile.city, profile.birth_date) == ("Den Haag", date(1961, 8, 13))
    rectified = [d for kind, d in _audit(system, subject) if kind == "rights.rectified"]
    assert rectified == [{"request": "req-1", "fields": ["birth_date", "city", "nickname"]}]
    # The audit chain names the fields, never the values.
    assert "Den Haag" not in str(rectified) and "Oma Ju" not in str(rectified)
    # What already holds is not written again.
    assert system.rights.rectify(subject, {"city": "Den Haag"}) == []


@pytest.mark.promise("R-3")
def test_factory_facts_cannot_be_rectified_and_an_invalid_value_changes_nothing(system: System) -> None:
    record = add_device(system)
    subject = _subject(system, record)
    system.rights.rectify(subject, {"nickname": "Opa", "city": "Utrecht"})
    before = reload(system, record.number)

    with pytest.raises(RectificationError) as facts:
        system.rights.rectify(
            subject, {"number": "4999", "serial": "SN-X", "mac": "00A0DE000000", "portal_hash": "x", "city": "Delft"}
        )
    assert {p.field: p.code for p in facts.value.problems} == dict.fromkeys(
        ("number", "serial", "mac", "portal_hash"), "not_rectifiable"
    )
    # One bad value among good ones: nothing at all is changed.
    with pytest.raises(RectificationError) as bad:
        system.rights.rectify(subject, {"city": "Delft", "birth_date": "1850-01-01", "nickname": 'Opa "J"'})
    assert {p.field for p in bad.value.problems} == {"birth_date", "nickname"}
    assert reload(system, record.number) == before
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) == "Opa"
        profile = profile_of(connection, record.id)
    assert profile is not None and profile.city == "Utrecht" and profile.birth_date is None
    assert [d for kind, d in _audit(system, subject) if kind == "rights.rectified"] == [
        {"request": None, "fields": ["city", "nickname"]}
    ]


@pytest.mark.promise("R-3")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nickname", ""),
        ("nickname", "x" * (MAX_NICKNAME + 1)),
        ("nickname", "Opa <script>"),
        ("nickname", "tab\tbed"),
        ("city", "x" * 81),
        ("city", "Den\x01Haag"),
        ("birth_date", "1899-12-31"),
        ("birth_date", "2026-03-02"),  # tomorrow
        ("birth_date", "13.08.1961"),
        ("birth_date", "1961-W33-1"),
    ],
)
def test_a_correction_is_checked_exactly_like_the_original_input(system: System, field: str, value: str) -> None:
    record = add_device(system)
    subject = _subject(system, record)
    today = system.clock.now().date()
    original: dict[str, object] = {
        "nickname": lambda: clean_nickname(value),
        "city": lambda: clean_city(value),
        # The portal's form, where a birth date is typed as text.
        "birth_date": lambda: forms.birth_date({"birth_date": value}, today),
    }
    with pytest.raises((NicknameError, ProfileError, forms.FormError)):
        original[field]()  # type: ignore[operator]
    with pytest.raises(RectificationError) as refused:
        system.rights.rectify(subject, {field: value})
    [problem] = refused.value.problems
    assert (problem.field, problem.code) == (field, "invalid") and problem.reason


@pytest.mark.promise("R-3")
def test_a_field_of_a_service_switched_off_is_not_held_and_cannot_be_rectified(system: System) -> None:
    record = add_device(system, voip_on=False)
    subject = _subject(system, record)
    fields = {f.name: f.available for f in system.rights.rectifiable(subject)}
    assert fields == {"nickname": False, "city": True, "birth_date": True}
    with pytest.raises(RectificationError) as refused:
        system.rights.rectify(subject, {"nickname": "Opa"})
    assert refused.value.problems[0].code == "unavailable"
    with system.database.reading() as connection:
        assert nickname_of(connection, record.id) is None


# Restriction (R-7) ----------------------------------------------------------------------


@pytest.mark.promise("R-7")
def test_a_restriction_keeps_the_data_stored_and_the_gate_refuses_every_other_use(system: System) -> None:
    record = add_device(system)
    subject = _subject(system, record)
    other = _subject(system, add_device(system))
    assert _verdict(system, subject, "information_services")

    assert system.rights.restrict(subject, "information_services", "req-r") == ["information_services"]
    refused = _verdict(system, subject, "information_services")
    assert not refused and refused.ground is Ground.RESTRICTED
    assert _verdict(system, subject, "information_services", Use.STORE)  # storage only (Art. 18(2))
    assert _verdict(system, subject, "config_helper")  # another activity's data
    assert _verdict(system, other, "information_services")  # another phone
    # Data of a restricted activity is not used by another activity either.
    assert not _verdict(system, subject, "config_helper", data_from=("information_services",))

    assert system.rights.lift_restriction(subject, "information_services", "req-l")
    assert _verdict(system, subject, "information_services")
    assert not system.rights.lift_restriction(subject, "information_services")

    system.rights.restrict(subject, ALL_ACTIVITIES)
    for activity in ("information_services", "config_helper", "device_checkin", "voip_nickname"):
        assert not _verdict(system, subject, activity), activity
    kinds = [kind for kind, _ in _audit(system, subject)]
    assert kinds.count("rights.restricted") == 2 and kinds.count("rights.restriction_lifted") == 1
    # Nothing but the owner's own activities can be restricted by them.
    with pytest.raises(NotOpenError):
        system.rights.restrict(subject, "rights_requests")
    with pytest.raises(NotOpenError):
        system.rights.restrict(subject, "newsletter_subscribed")


def test_an_activity_the_register_does_not_describe_is_never_used(system: System) -> None:
    subject = _subject(system, add_device(system))
    verdict = _verdict(system, subject, "no_such_activity")
    assert not verdict and verdict.ground is Ground.UNDECLARED


# Objection (R-8) --------------------------------------------------------------------------


@pytest.mark.promise("R-8")
def test_an_objection_to_direct_marketing_stops_it_at_once_and_for_good(choices_system: System) -> None:
    system = choices_system
    subject = _subject(system, add_device(system))
    assert _verdict(system, subject, TIPS)
    assert system.rights.object_to(subject, TIPS, "req-o") is ObjectionState.UPHELD
    refused = _verdict(system, subject, TIPS)
    assert not refused and refused.ground is Ground.OBJECTED
    # Nobody can override it (Art. 21(3)).
    register, now = system.loaded.register, system.clock.now()
    with system.database.unit_of_work() as uow, pytest.raises(NotOpenError, match="never overridden"):
        decide_objection(uow.connection, register, subject.pseudonym, TIPS, False, "we want to", now, "dpo:x", "req-o")
    assert not _verdict(system, subject, TIPS)


@pytest.mark.promise("R-8")
def test_an_objection_to_legitimate_interests_stops_the_processing_until_the_dpo_decides(
    choices_system: System,
) -> None:
    system = choices_system
    subject = _subject(system, add_device(system))
    assert system.rights.object_to(subject, MISUSE, "req-m") is ObjectionState.PENDING
    assert not _verdict(system, subject, MISUSE)  # stopped while it is weighed
    now = system.clock.now()
    register, pseudonym = system.loaded.register, subject.pseudonym
    with system.database.unit_of_work() as uow:
        with pytest.raises(NotOpenError, match="reason"):
            decide_objection(uow.connection, register, pseudonym, MISUSE, False, " ", now, "dpo:erika", "req-m")
        why = "fraud on the line"
        state = decide_objection(uow.connection, register, pseudonym, MISUSE, False, why, now, "dpo:erika", "req-m")
        uow.commit()
    assert state is ObjectionState.OVERRIDDEN
    assert _verdict(system, subject, MISUSE)  # compelling grounds recorded: it may resume
    decided = [d for kind, d in _audit(system, subject) if kind == "rights.objection_decided"]
    assert decided == [
        {"request": "req-m", "activity": MISUSE, "decision": "overridden", "by": "dpo:erika", "reason": why}
    ]
    # Contract processing and the owner's other data are not open to objection at all.
    with pytest.raises(NotOpenError):
        system.rights.object_to(subject, "information_services")


# Consent withdrawal (R-9) ----------------------------------------------------------------


@pytest.mark.promise("R-9")
def test_a_withdrawal_is_a_new_ledger_event_and_leaves_what_was_done_before_lawful(
    choices_system: System, clock: FakeClock
) -> None:
    system = choices_system
    subject = _subject(system, add_device(system))
    given_at = clock.now()
    given = ConsentEvent(
        "receipt-1",
        subject.pseudonym,
        QUALITY,
        ConsentEventKind.GIVEN,
        system.loaded.version,
        "handset",
        given_at,
        given_at + timedelta(days=365),
    )
    with system.database.unit_of_work() as uow:
        ConsentLedger(uow.connection).append([given])
        uow.commit()
    assert not _verdict(system, _subject(system, add_device(system)), QUALITY)  # no consent, no processing
    clock.advance(timedelta(days=3))
    used_at = clock.now()
    assert _verdict(system, subject, QUALITY)
    clock.advance(timedelta(days=1))

    event = system.rights.withdraw_consent(subject, QUALITY, "req-w", method="device-portal")
    assert (event.kind, event.record_id, event.at) == (ConsentEventKind.WITHDRAWN, "receipt-1", clock.now())
    refused = _verdict(system, subject, QUALITY)
    assert not refused and refused.ground is Ground.NO_CONSENT
    # The processing of three days ago rested on a consent then in force, and the ledger still proves it.
    assert _verdict(system, subject, QUALITY, at=used_at)
    with system.database.reading() as connection:
        events = ConsentLedger(connection).events_of(subject.pseudonym)
    assert [e.kind for e in events] == [ConsentEventKind.GIVEN, ConsentEventKind.WITHDRAWN]
    assert events[0] == given
    assert ("rights.consent_withdrawn", {"request": "req-w", "purpose": QUALITY}) in _audit(system, subject)
    with pytest.raises(NotOpenError):
        system.rights.withdraw_consent(subject, "information_services")
    # The owner's own access package shows both events: the ledger is about any kind of subject.
    package = system.rights.access_package(subject, "en")
    [ledger] = [s for s in package["stores"] if s["store"] == "consent_event"]
    assert [r["kind"] for r in ledger["rows"]] == ["given", "withdrawn"]


def test_nothing_of_a_device_is_changed_by_another_phones_statements(choices_system: System) -> None:
    system = choices_system
    mine, theirs = add_device(system), add_device(system)
    system.rights.restrict(_subject(system, theirs), ALL_ACTIVITIES)
    system.rights.object_to(_subject(system, theirs), TIPS)
    assert _verdict(system, _subject(system, mine), "information_services")
    assert _verdict(system, _subject(system, mine), TIPS)
    with system.database.reading() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(device)).scalar_one() == 2


# Recipients (R-5, Art. 19) -----------------------------------------------------------------


def _notices(system: System, subject: Subject) -> list[tuple[str, str, tuple[str, ...], dict[str, object]]]:
    with system.database.reading() as connection:
        return [
            (n.recipient, n.change, n.activities, n.detail)
            for n in RecipientOutbox(connection).of_subject(subject.pseudonym)
        ]


@pytest.mark.promise("R-5")
def test_recipients_of_rectified_or_restricted_data_are_told_in_the_same_transaction(
    choices_system: System, clock: FakeClock
) -> None:
    system = choices_system
    subject = _subject(system, add_device(system))
    # The nickname has no recipient: nobody is told.
    system.rights.rectify(subject, {"nickname": "Opa"}, "req-n")
    assert _notices(system, subject) == []
    clock.advance(timedelta(seconds=1))
    system.rights.rectify(subject, {"city": "Delft", "nickname": "Oma"}, "req-c")
    # Told of the city it received, not of the nickname it never had.
    assert _notices(system, subject) == [(INFO_RECIPIENT, "rectification", (INFO,), {"fields": {"city": "Delft"}})]
    # An invalid rectification tells nobody anything: it did not happen.
    with pytest.raises(RectificationError):
        system.rights.rectify(subject, {"city": "x" * 81})
    assert len(_notices(system, subject)) == 1

    clock.advance(timedelta(seconds=1))
    system.rights.restrict(subject, TIPS, "req-t")
    assert _notices(system, subject)[-1] == (TIPS_RECIPIENT, "restriction", (TIPS,), {"restricted": TIPS})
    system.rights.lift_restriction(subject, TIPS, "req-l")
    system.rights.restrict(subject, "voip_nickname", "req-v")  # no recipient
    assert len(_notices(system, subject)) == 2
    clock.advance(timedelta(seconds=1))
    system.rights.restrict(subject, ALL_ACTIVITIES, "req-a")
    told = {(r, c, a) for r, c, a, _ in _notices(system, subject)[2:]}
    assert told == {(INFO_RECIPIENT, "restriction", (INFO,)), (TIPS_RECIPIENT, "restriction", (TIPS,))}
