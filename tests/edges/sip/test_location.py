"""The registrar's location store in the database, written by group commit (DEV-4, RFC 3261 §10.3)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.edges.sip.core import DigestServer, Registrar, RegistrarSettings, Request, Response, parse_message
from privateline.edges.sip.core.auth import Credentials
from privateline.edges.sip.core.registrar import Binding
from privateline.edges.sip.core.uri import SipUri, parse_uri
from privateline.edges.sip.directory import DeviceDirectory
from privateline.edges.sip.location import DatabaseBindings
from privateline.kernel.clock import FakeClock
from privateline.services.devices.records import Service
from privateline.services.devices.switches import switch_service
from privateline.services.voip.bindings import GRACE, sip_binding
from privateline.services.voip.reads import DriverConnection
from privateline.storage.database import Database
from tests.services.devices.conftest import MakePhone, Phone, stored

SOURCE = ("203.0.113.7", 40512)
USER_AGENT = "Gigaset C430 IP/42.1"


def binding(phone: Phone, now: datetime, *, seconds: int = 3600, port: int = 5060, cseq: int = 1) -> Binding:
    at = now.timestamp()
    return Binding(
        user=phone.number,
        contact=parse_uri(f"sip:{phone.number}@192.168.178.23:{port};transport=udp"),
        expires_at=at + seconds,
        q=0.7,
        call_id="reg-1@192.168.178.23",
        cseq=cseq,
        source=SOURCE,
        user_agent=USER_AGENT,
        registered_at=at,
        transport="tcp",
    )


def sip_rows(database: Database) -> list[sa.Row[tuple[object, ...]]]:
    with database.reading() as connection:
        return list(connection.execute(sa.select(sip_binding).order_by(sip_binding.c.device_id, sip_binding.c.slot)))


# Group commit and the shared location --------------------------------------------------------


@pytest.mark.promise("DEV-4")
def test_a_binding_is_pending_until_flushed_then_stored_and_read_back_equal_by_another_process(
    system: System, make_phone: MakePhone
) -> None:
    phone = make_phone()
    now = system.clock.now()
    here, there = DatabaseBindings(system.database), DatabaseBindings(system.database)
    wanted = binding(phone, now)
    here.replace(phone.number, [wanted])
    assert here.pending == 1
    assert here.current(phone.number, now.timestamp()) == (wanted,)  # this process sees its pending write
    assert there.current(phone.number, now.timestamp()) == ()  # nothing is stored before the flush
    assert sip_rows(system.database) == []

    assert here.flush() == 1
    assert here.pending == 0 and here.flush() == 0
    (read,) = there.current(phone.number, now.timestamp())  # another process finds the phone
    assert read == wanted
    assert isinstance(read.contact, SipUri) and read.contact.equivalent(wanted.contact)
    assert here.current(phone.number, now.timestamp()) == (wanted,)


@pytest.mark.promise("DEV-4")
def test_one_flush_writes_every_pending_replacement_and_the_last_replacement_of_a_number_wins(
    system: System, make_phone: MakePhone
) -> None:
    phones = [make_phone() for _ in range(5)]
    now = system.clock.now()
    location = DatabaseBindings(system.database)
    for phone in phones:
        location.replace(phone.number, [binding(phone, now)])
    location.replace(phones[0].number, [binding(phones[0], now, port=7000, cseq=2)])
    location.replace(phones[1].number, [])
    location.replace("99999999", [binding(phones[2], now)])  # no such device: nothing written
    assert location.flush() == 5
    stored_rows = sip_rows(system.database)
    assert len(stored_rows) == 4
    other = DatabaseBindings(system.database)
    assert [b.cseq for b in other.current(phones[0].number, now.timestamp())] == [2]
    assert other.current(phones[1].number, now.timestamp()) == ()


@pytest.mark.promise("DEV-4")
def test_expired_bindings_are_not_returned_and_are_deleted_after_the_grace_period(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    location = DatabaseBindings(system.database)
    short, long = binding(phone, clock.now(), seconds=120, port=1), binding(phone, clock.now(), port=2)
    location.replace(phone.number, [short, long])
    assert location.current(phone.number, clock.now().timestamp() + 120) == (long,)  # pending, already filtered
    location.flush()
    clock.advance(timedelta(seconds=120))
    assert location.current(phone.number, clock.now().timestamp()) == (long,)
    clock.advance(GRACE)
    assert location.expired(clock.now().timestamp()) == ()  # kept until the grace period is over
    assert len(sip_rows(system.database)) == 2
    clock.advance(timedelta(seconds=1))
    assert location.expired(clock.now().timestamp()) == (short,)
    assert len(sip_rows(system.database)) == 1
    assert location.expired(clock.now().timestamp()) == ()


@pytest.mark.promise("DEV-4")
def test_the_sweep_flushes_first_so_it_works_on_what_is_stored(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    location = DatabaseBindings(system.database)
    location.replace(phone.number, [binding(phone, clock.now(), seconds=60)])
    gone = location.expired((clock.now() + timedelta(seconds=60) + GRACE + timedelta(seconds=1)).timestamp())
    assert [b.user for b in gone] == [phone.number]
    assert location.pending == 0 and sip_rows(system.database) == []


@pytest.mark.promise("DEV-4")
def test_what_this_process_wrote_and_keeps_is_what_the_database_holds_until_another_writes(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    # The location shares one connection with the directory, as app/sip.py builds them.
    phone = make_phone()
    connection = DriverConnection(system.database)
    here, there = DatabaseBindings(system.database, connection=connection), DatabaseBindings(system.database)
    devices = DeviceDirectory(system.database, connection)
    at = clock.now() + timedelta(microseconds=123_456.789)  # a moment the database keeps to the microsecond
    here.replace(phone.number, [binding(phone, at)])
    here.flush()
    assert devices(phone.number) is not None  # the directory reads on the shared connection too
    kept = here.current(phone.number, at.timestamp())
    assert kept == there.current(phone.number, at.timestamp())  # as a fresh reader reads it back
    # Another process's registration is another connection's write: read again at once.
    there.replace(phone.number, [binding(phone, at, port=5070, cseq=2)])
    there.flush()
    (moved,) = here.current(phone.number, at.timestamp())
    assert moved.contact == parse_uri(f"sip:{phone.number}@192.168.178.23:5070;transport=udp")
    # The sweep forgets what it deleted, in memory as in the database (DEV-4).
    later = at + timedelta(seconds=3600) + GRACE + timedelta(seconds=1)
    assert [b.user for b in here.expired(later.timestamp())] == [phone.number]
    assert here.current(phone.number, at.timestamp()) == ()


@pytest.mark.promise("DEV-4", "DEV-10")
def test_switching_voip_off_deletes_the_bindings_and_a_pending_write_after_it_stores_nothing(
    system: System, make_phone: MakePhone
) -> None:
    phone = make_phone()
    now = system.clock.now()
    location = DatabaseBindings(system.database)
    location.replace(phone.number, [binding(phone, now)])
    location.flush()
    location.replace(phone.number, [binding(phone, now, cseq=2)])  # accepted before the switch ...
    with system.database.unit_of_work() as uow:
        removed = switch_service(uow.connection, system.pseudonymizer, stored(system, phone), Service.VOIP, False, now)
        uow.commit()
    assert removed == {"sip_binding": 1}
    assert location.flush() == 0  # ... and written after it: not stored (DEV-10)
    assert sip_rows(system.database) == []
    assert location.current(phone.number, now.timestamp()) == ()


@pytest.mark.promise("DEV-4")
def test_a_failed_flush_drops_the_batch_and_raises_so_nothing_unstored_is_answered(
    system: System, make_phone: MakePhone
) -> None:
    phone = make_phone()
    now = system.clock.now()
    location = DatabaseBindings(system.database)
    location.replace(phone.number, [dataclasses.replace(binding(phone, now), call_id=None)])  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        location.flush()
    assert location.pending == 0
    assert location.current(phone.number, now.timestamp()) == ()


@pytest.mark.promise("DEV-4")
def test_a_flush_the_database_cannot_take_now_is_kept_and_written_by_the_next(
    system: System, make_phone: MakePhone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy or unreachable database (OperationalError) loses no registration: the batch stays
    pending, is still what `current` answers, and the next flush stores it."""
    phone = make_phone()
    now = system.clock.now()
    location = DatabaseBindings(system.database)
    location.replace(phone.number, [binding(phone, now)])

    def unavailable(*args: object, **kwargs: object) -> int:
        raise sa.exc.OperationalError("INSERT INTO sip_binding", {}, Exception("database is locked"))

    monkeypatch.setattr("privateline.services.voip.group_commit.GroupCommit.replace", unavailable)
    with pytest.raises(sa.exc.OperationalError):
        location.flush()
    assert location.pending == 1
    assert location.current(phone.number, now.timestamp()) == (binding(phone, now),)
    assert sip_rows(system.database) == []
    monkeypatch.undo()  # the database is back
    assert location.flush() == 1
    assert location.pending == 0
    assert len(sip_rows(system.database)) == 1


# The registrar over the database -------------------------------------------------------------


def _digest_hex(algorithm: str, text: str) -> str:
    return hashlib.new({"MD5": "md5", "SHA-256": "sha256"}[algorithm], text.encode()).hexdigest()


@dataclass
class Phones:
    """A registrar over the database, and phones that answer its challenges (RFC 3261 §22.4)."""

    system: System
    location: DatabaseBindings
    registrar: Registrar
    realm: str
    nc: int = 0
    sent: list[Response] = field(default_factory=list)

    @classmethod
    def of(cls, system: System, location: DatabaseBindings | None = None) -> Phones:
        realm = system.settings.sip_realm
        digest = DigestServer(realm=realm, secret=b"location-test-secret-0123456789")
        chosen = location or DatabaseBindings(system.database)
        registrar = Registrar(
            RegistrarSettings(domains=(realm,), realm=realm),
            digest,
            DeviceDirectory(system.database),
            chosen,
            new_tag=lambda: "tag1",
        )
        return cls(system, chosen, registrar, realm)

    def lines(self, phone: Phone, contact: str, *, expires: str | None, cseq: int) -> list[str]:
        lines = [
            f"REGISTER sip:{self.realm} SIP/2.0",
            f"Via: SIP/2.0/UDP 192.168.178.23:5060;branch=z9hG4bK{cseq}{phone.number};rport",
            "Max-Forwards: 70",
            f"To: <sip:{phone.number}@{self.realm}>",
            f"From: <sip:{phone.number}@{self.realm}>;tag=ph{cseq}",
            f"Call-ID: reg-{phone.number}@192.168.178.23",
            f"CSeq: {cseq} REGISTER",
            f"User-Agent: {USER_AGENT}",
            f"Contact: {contact}",
        ]
        return lines if expires is None else [*lines, f"Expires: {expires}"]

    def send(self, lines: list[str], now: datetime) -> Response:
        message = parse_message(("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode())
        assert isinstance(message, Request)
        response = self.registrar.process(message, now=now, source=SOURCE)
        # As the transport does: store the batch before any of its answers goes out.
        self.location.flush()
        return response

    def register(
        self, phone: Phone, contact: str, now: datetime, *, expires: str | None = None, cseq: int = 1
    ) -> Response:
        lines = self.lines(phone, contact, expires=expires, cseq=cseq)
        first = self.send(lines, now)
        if first.status != 401:
            return first
        challenge = first.www_authenticate[0]
        assert challenge.nonce is not None and challenge.algorithm is not None
        self.nc += 1
        nc, cnonce, uri, algorithm = f"{self.nc:08x}", "c0ffee", f"sip:{self.realm}", challenge.algorithm
        ha1 = _digest_hex(algorithm, f"{phone.number}:{self.realm}:{phone.password}")
        ha2 = _digest_hex(algorithm, f"REGISTER:{uri}")
        answer = _digest_hex(algorithm, f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:auth:{ha2}")
        credentials = Credentials.digest(
            username=phone.number,
            realm=self.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=answer,
            algorithm=algorithm,
            cnonce=cnonce,
            qop="auth",
            nc=nc,
        )
        return self.send([*lines, f"Authorization: {credentials}"], now)


@pytest.mark.promise("DEV-4")
def test_a_register_with_digest_is_answered_200_after_its_binding_is_stored_and_contact_star_removes_it(
    system: System, make_phone: MakePhone, clock: FakeClock
) -> None:
    phone = make_phone()
    phones = Phones.of(system)
    contact = f"<sip:{phone.number}@192.168.178.23:5060;transport=udp>"
    answer = phones.register(phone, contact, clock.now(), expires="1800")
    assert answer.status == 200, answer.reason
    (row,) = sip_rows(system.database)
    assert row.device_id == stored(system, phone).id
    assert row.contact == f"sip:{phone.number}@192.168.178.23:5060;transport=udp"
    assert (row.source_host, row.source_port, row.transport) == (*SOURCE, "udp")
    assert row.registered_at == clock.now()
    assert row.expires_at == clock.now() + timedelta(seconds=1800)
    assert row.user_agent == USER_AGENT
    assert (row.call_id, row.cseq) == (f"reg-{phone.number}@192.168.178.23", 1)

    # Another SIP process of the instance finds the phone (the shared location) ...
    elsewhere = DatabaseBindings(system.database)
    (found,) = elsewhere.current(phone.number, clock.now().timestamp())
    assert found.source == SOURCE and str(found.contact) == row.contact
    # ... and serves its next REGISTER from what is stored.
    later = Phones.of(system, elsewhere)
    clock.advance(timedelta(minutes=10))
    refreshed = later.register(phone, contact, clock.now(), expires="1800", cseq=2)
    assert refreshed.status == 200
    (row,) = sip_rows(system.database)
    assert (row.cseq, row.registered_at) == (2, clock.now())

    removed = later.register(phone, "*", clock.now(), expires="0", cseq=3)
    assert removed.status == 200
    assert sip_rows(system.database) == []
    assert phones.location.current(phone.number, clock.now().timestamp()) == ()
