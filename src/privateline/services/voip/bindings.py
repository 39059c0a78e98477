"""The phones' SIP registrations: the location service, shared through the database (DEV-4).

A registration binds the phone's number (its address-of-record) to the contact URI it
can be reached at (RFC 3261 §10.3 step 7), with the address the REGISTER came from,
kept for NAT traversal (RFC 3581 §4).  Rows live in `sip_binding`, a declared store of
the activity `voip_registration`, so every SIP process of an instance finds every
phone, whichever process registered it.

What the register promises, and how it is kept:

* a binding is gone when it expires, at the latest `GRACE_MINUTES` after its expiry
  (the register's retention of `voip_registration` states the same number in words;
  a test compares them): reads never return an expired binding, `delete_expired`
  removes those past the grace period, and a registrar calls it periodically.  The
  grace period only absorbs the sweep's interval and clock skew between processes;
* switching VoIP off deletes the bindings in the same transaction (DEV-10,
  `devices.switches.SERVICE_DATA`), and `replace_bindings` writes nothing for a device
  whose VoIP is off or that is out of service, even if its REGISTER was accepted just
  before the switch;
* a device out of service has no bindings that are read, and the sweep removes them;
  an erased device (R-4) loses them by the declared strategy `delete`, a deleted device
  row by the foreign key's ON DELETE CASCADE.

Times here are aware datetimes; the SIP layer's epoch seconds are converted at its edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    not_,
    select,
)

from privateline.services.devices.records import SUBJECT, device
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime
from privateline.storage.upsert import upsert

ACTIVITY = "voip_registration"
_REGISTRATION = "user.telecom.sip_registration"

# How long after its expiry a binding may still be in the database, at the latest: the
# register's retention text for `voip_registration` says this number in every language
# (tests/services/voip/test_bindings.py holds them to it).  The register's periods are
# whole days or longer, so the number cannot be read from a machine-readable field there.
GRACE_MINUTES = 5
GRACE = timedelta(minutes=GRACE_MINUTES)

# Numbers per IN (...) list: well below SQLite's 32766 and PostgreSQL's 65535 parameters.
_CHUNK = 500

sip_binding = declare_store(
    Table(
        "sip_binding",
        metadata,
        Column(
            "device_id",
            Integer,
            ForeignKey("device.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            info=technical(),
        ),
        # The binding's place among the number's bindings (0, 1, ...).  Keyed by device and
        # place, a replacement is an upsert of the new rows plus a DELETE of the places beyond
        # them (`storage.upsert`: one statement for the batch), and a refresh, the usual
        # REGISTER, rewrites its row instead of deleting and inserting one.  The primary key
        # also serves the lookup of one device's bindings.
        Column("slot", Integer, primary_key=True, autoincrement=False, info=technical()),
        # Free text the phone sends is Text, not String(n): on PostgreSQL one overlong value
        # would fail the whole group commit, and with it every phone of the batch.
        Column("contact", Text, nullable=False, info=personal(_REGISTRATION)),
        Column("source_host", Text, nullable=False, info=personal(_REGISTRATION)),
        Column("source_port", Integer, nullable=False, info=personal(_REGISTRATION)),
        Column("transport", String(8), nullable=False, info=personal(_REGISTRATION)),
        Column("call_id", Text, nullable=False, info=personal(_REGISTRATION)),
        # RFC 3261 §8.1.1.5: below 2**31, but a parser may accept up to 2**32 - 1.
        Column("cseq", BigInteger, nullable=False, info=technical()),
        Column("q", Float, nullable=True, info=technical()),
        Column("expires_at", UTCDateTime, nullable=False, info=personal(_REGISTRATION)),
        Column("registered_at", UTCDateTime, nullable=False, info=personal(_REGISTRATION)),
        Column("user_agent", Text, nullable=True, info=personal(_REGISTRATION)),
        # The expiry sweep is an index range scan.
        Index("ix_sip_binding_expires_at", "expires_at"),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind=SUBJECT,
        subject_column="device_id",
        # No fixed period from an anchor: a binding lives until it expires (plus GRACE),
        # which `delete_expired` enforces, and while VoIP is on (DEV-10).
        anchor_column=None,
        erasure=Erasure.DELETE,
    ),
)

_VALUES = (
    "contact",
    "expires_at",
    "q",
    "call_id",
    "cseq",
    "source_host",
    "source_port",
    "transport",
    "user_agent",
    "registered_at",
)


@dataclass(frozen=True, slots=True)
class StoredBinding:
    """One binding of a number (the address-of-record) as the store holds it."""

    number: str
    contact: str  # the contact URI as text (RFC 3261 §19.1)
    expires_at: datetime
    q: float | None
    call_id: str
    cseq: int
    source_host: str  # where the REGISTER came from (RFC 3581)
    source_port: int
    transport: str  # "udp", "tcp", "tls" ... (RFC 3261 §18.1.1)
    user_agent: str | None
    registered_at: datetime


def served() -> Any:
    """VoIP is on for the device and it is in service (DEV-10)."""
    return and_(device.c.voip_on, device.c.in_service)


_COLUMNS = tuple(sip_binding.c[name] for name in _VALUES)


# The stored bindings of one number (parameter `number`) while VoIP is on for the device and
# it is in service; columns in the order of `StoredBinding` after the number.  Built once
# with a bound parameter: only the value changes from call to call.  Whether a binding has
# expired is decided by the caller on these few rows (`unexpired`), not in SQL: so the
# plan is always the device's unique index and the primary key's range, never the expiry
# index, which a planner without fresh statistics was seen to combine (PostgreSQL: a
# BitmapAnd over every unexpired binding of every phone, ~0.7 ms instead of ~0.2 ms).
CURRENT = (
    select(*_COLUMNS)
    .select_from(sip_binding.join(device, device.c.id == sip_binding.c.device_id))
    .where(device.c.number == bindparam("number"), served())
    .order_by(sip_binding.c.slot)
)


def unexpired(bindings: Iterable[StoredBinding], now: datetime) -> list[StoredBinding]:
    """Those of `bindings` that have not expired at `now` (RFC 3261 §10.3: an expired binding is gone)."""
    return [b for b in bindings if b.expires_at > now]


def current_bindings(connection: Connection, number: str, now: datetime) -> list[StoredBinding]:
    """The bindings of `number` that have not expired at `now`; none when VoIP is off (DEV-10)."""
    rows = connection.execute(CURRENT, {"number": number})
    return unexpired((StoredBinding(number, *row) for row in rows), now)


# The statements of a replacement, built once: each IN list is one expanding parameter, so
# a flush builds no statement and SQLAlchemy finds the compiled form in its cache by the
# statement alone (building them per flush, with `in_(chunk)`, cost more than running them).
_NUMBERS: BindParameter[str] = bindparam("numbers", expanding=True)
_DEVICE_IDS: BindParameter[int] = bindparam("device_ids", expanding=True)
_SERVED_OF_NUMBERS = select(device.c.number, device.c.id).where(served(), device.c.number.in_(_NUMBERS))
_IDS_OF_NUMBERS = select(device.c.id).where(device.c.number.in_(_NUMBERS))
_LOCK_SERVED = (
    select(device.c.number, device.c.id)
    .where(served(), device.c.id.in_(_DEVICE_IDS))
    .order_by(device.c.id)
    .with_for_update(key_share=True)
)
_DELETE_SLOTS_FROM = delete(sip_binding).where(
    sip_binding.c.device_id.in_(_DEVICE_IDS), sip_binding.c.slot >= bindparam("first_unused")
)


def replace_bindings(connection: Connection, replacements: Mapping[str, Sequence[StoredBinding]]) -> frozenset[str]:
    """Make each number's bindings the given ones (RFC 3261 §10.3 step 7); returns the numbers written.

    However many phones the batch holds: a SELECT of their devices, one upsert of the new rows
    (`storage.upsert`) and one DELETE per distinct count of bindings (usually one or two) for
    the places no longer used (IN lists cut into chunks).  A number without a device, or whose
    VoIP is off or device out of service, is skipped: its data must not come back after the
    switch (DEV-10).
    """
    writable = _writable(connection, sorted(replacements))
    if not writable:
        return frozenset()
    upsert(connection, sip_binding, replacement_rows(writable, replacements), key=BINDING_KEY)
    for count, devices in places_to_clear(writable, replacements):
        for chunk in _chunks(devices):
            connection.execute(_DELETE_SLOTS_FROM, {"device_ids": chunk, "first_unused": count})
    return frozenset(writable)


BINDING_KEY = ("device_id", "slot")


def replacement_rows(
    writable: Mapping[str, int], replacements: Mapping[str, Sequence[StoredBinding]]
) -> list[dict[str, Any]]:
    """The rows of a replacement: each writable number's bindings in their places 0, 1, ..."""
    return [_row(device_id, slot, b) for n, device_id in writable.items() for slot, b in enumerate(replacements[n])]


def places_to_clear(
    writable: Mapping[str, int], replacements: Mapping[str, Sequence[StoredBinding]]
) -> list[tuple[int, list[int]]]:
    """(first unused place, device ids) for each distinct count of new bindings, ids ascending:
    the places from there on held bindings the replacement no longer has."""
    by_count: dict[int, list[int]] = {}
    for number, device_id in writable.items():
        by_count.setdefault(len(replacements[number]), []).append(device_id)
    return [(count, sorted(devices)) for count, devices in sorted(by_count.items())]


def _writable(connection: Connection, numbers: list[str]) -> dict[str, int]:
    """Number → device id, for the numbers whose device may hold bindings now.

    On PostgreSQL the device rows are locked (FOR NO KEY UPDATE) in ascending id order, the
    order the check-in writer updates them in (`storage.upsert` sorts by key), so no two
    writers deadlock; the lock orders this write after a concurrent switch-off (whose new
    `voip_on` the locked read then sees) and after another process's replacement of the same
    phone.  SQLite's BEGIN IMMEDIATE already serialises the writers.
    """
    if connection.dialect.name != "postgresql":
        return {
            n: i for chunk in _chunks(numbers) for n, i in connection.execute(_SERVED_OF_NUMBERS, {"numbers": chunk})
        }
    known = sorted(i for chunk in _chunks(numbers) for (i,) in connection.execute(_IDS_OF_NUMBERS, {"numbers": chunk}))
    return {n: i for chunk in _chunks(known) for n, i in connection.execute(_LOCK_SERVED, {"device_ids": chunk})}


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


def delete_expired(connection: Connection, now: datetime, grace: timedelta = GRACE) -> list[StoredBinding]:
    """Delete the bindings expired more than `grace` before `now`, and those no device may use; return them.

    The first is an index range scan on `expires_at`.  The second removes the bindings of
    devices whose VoIP is off or that are out of service: switching off deletes them at
    once (DEV-10), an operator taking a device out of service leaves them to this sweep.
    It goes from the bindings to their devices (one primary-key lookup each), not from every
    device of the factory records to its bindings: the sweep runs every 30 s in the SIP
    process, and there are far fewer registered phones than devices.
    """
    expired = _deleted(connection, sip_binding.c.expires_at < now - grace)
    unserved = select(device.c.id).where(device.c.id == sip_binding.c.device_id, not_(served())).exists()
    return expired + _deleted(connection, unserved)


def delete_device_bindings(connection: Connection, device_id: int) -> int:
    """Delete every binding of one device (for a device taken out of service, in its transaction)."""
    return int(connection.execute(delete(sip_binding).where(sip_binding.c.device_id == device_id)).rowcount)


def _deleted(connection: Connection, condition: Any) -> list[StoredBinding]:
    statement = delete(sip_binding).where(condition).returning(sip_binding.c.device_id, sip_binding.c.slot, *_COLUMNS)
    rows = sorted(connection.execute(statement).all(), key=lambda row: (row[0], row[1]))
    if not rows:
        return []
    numbers = _numbers(connection, {row[0] for row in rows})
    return [StoredBinding(numbers[row[0]], *row[2:]) for row in rows if row[0] in numbers]


def _numbers(connection: Connection, device_ids: Iterable[int]) -> dict[int, str]:
    query = select(device.c.id, device.c.number)
    return {
        i: n
        for chunk in _chunks(sorted(device_ids))
        for i, n in connection.execute(query.where(device.c.id.in_(chunk)))
    }


def _row(device_id: int, slot: int, binding: StoredBinding) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "slot": slot,
        "contact": binding.contact,
        "expires_at": binding.expires_at,
        "q": binding.q,
        "call_id": binding.call_id,
        "cseq": binding.cseq,
        "source_host": binding.source_host,
        "source_port": binding.source_port,
        "transport": binding.transport,
        "user_agent": binding.user_agent,
        "registered_at": binding.registered_at,
    }
