"""The information-service profile of a device (DEV-6).

Created with default settings on first use; the city (weather) and birth date
(biorhythm) can be changed from the handset or the portal and deleted at any time.
Switching the information services off deletes it (DEV-10).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Connection, Date, ForeignKey, Integer, String, Table, delete, insert, select, update

from privateline.services.devices.records import Service, device_by_id
from privateline.services.privacy.rectification import FieldRefusedError, Rectifiable, declare_rectifiable
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "information_services"
_PROFILE = "user.preference.info_profile"
MAX_CITY = 80
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

info_profile = declare_store(
    Table(
        "info_profile",
        metadata,
        Column(
            "device_id",
            Integer,
            ForeignKey("device.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            info=technical(),
        ),
        Column("city", String(MAX_CITY), nullable=True, info=personal(_PROFILE)),
        Column("birth_date", Date, nullable=True, info=personal(_PROFILE)),
        Column("created_at", UTCDateTime, nullable=False, info=technical()),
        Column("updated_at", UTCDateTime, nullable=False, info=technical()),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="device_owner",
        subject_column="device_id",
        anchor_column=None,
        erasure=Erasure.DELETE,
    ),
)

# The default profile of DEV-6: no city and no birth date until the owner sets them;
# the weather service then asks for a city instead of guessing one.
DEFAULT_CITY: str | None = None


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class InfoProfile:
    device_id: int
    city: str | None
    birth_date: date | None
    created_at: datetime
    updated_at: datetime


def clean_city(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = " ".join(text.split())
    if len(value) > MAX_CITY or any(ord(ch) < 0x20 for ch in value):
        raise ProfileError(f"a city name has at most {MAX_CITY} printable characters")
    return value


def check_birth_date(value: date | None, today: date) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= today:
        raise ProfileError("a birth date lies between 1900-01-01 and today")
    return value


def profile_of(connection: Connection, device_id: int) -> InfoProfile | None:
    row = connection.execute(select(info_profile).where(info_profile.c.device_id == device_id)).first()
    return None if row is None else InfoProfile(**row._mapping)


def ensure_profile(connection: Connection, device_id: int, now: datetime) -> InfoProfile:
    """The device's profile, created with the defaults on first use (DEV-6)."""
    existing = profile_of(connection, device_id)
    if existing is not None:
        return existing
    connection.execute(
        insert(info_profile).values(
            device_id=device_id, city=DEFAULT_CITY, birth_date=None, created_at=now, updated_at=now
        )
    )
    created = profile_of(connection, device_id)
    assert created is not None
    return created


def update_profile(connection: Connection, device_id: int, now: datetime, changes: dict[str, object]) -> InfoProfile:
    """Change the settings named in `changes` ("city": str | None, "birth_date": date | None)."""
    unknown = set(changes) - {"city", "birth_date"}
    if unknown:
        raise ProfileError(f"unknown profile settings: {', '.join(sorted(unknown))}")
    values: dict[str, object] = {"updated_at": now}
    if "city" in changes:
        city = changes["city"]
        if city is not None and not isinstance(city, str):
            raise ProfileError("a city is text")
        values["city"] = clean_city(city)
    if "birth_date" in changes:
        born = changes["birth_date"]
        if born is not None and not isinstance(born, date):
            raise ProfileError("a birth date is a date")
        values["birth_date"] = check_birth_date(born, now.date())
    ensure_profile(connection, device_id, now)
    connection.execute(update(info_profile).where(info_profile.c.device_id == device_id).values(**values))
    updated = profile_of(connection, device_id)
    assert updated is not None
    return updated


def delete_profile(connection: Connection, device_id: int) -> bool:
    return bool(connection.execute(delete(info_profile).where(info_profile.c.device_id == device_id)).rowcount)


# Rectification (Art. 16, R-3): city and birth date are the owner's own settings, so the
# owner may correct them, checked exactly as when they were set; empty deletes a setting,
# as in the profile form.


def _rectified_city(value: object, _now: datetime) -> str | None:
    if value is not None and not isinstance(value, str):
        raise FieldRefusedError("a city is text")
    return clean_city(value)


def _rectified_birth_date(value: object, now: datetime) -> date | None:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
        except ValueError:
            value = None
        if value is None:
            raise FieldRefusedError("a birth date is written YYYY-MM-DD")
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise FieldRefusedError("a birth date is a date")
    return check_birth_date(value, now.date())


def _setting(name: str) -> Callable[[Connection, object, object, datetime], None]:
    def write(connection: Connection, device_id: object, value: object, now: datetime) -> None:
        assert isinstance(device_id, int)
        update_profile(connection, device_id, now, {name: value})

    return write


def _info_on(connection: Connection, device_id: object) -> bool:
    assert isinstance(device_id, int)
    record = device_by_id(connection, device_id)
    return record is not None and record.service_on(Service.INFO)


_OFF = "the profile belongs to the information services, which are switched off"
declare_rectifiable(
    info_profile,
    Rectifiable("city", "city", _rectified_city, _setting("city"), _info_on, _OFF),
    Rectifiable("birth_date", "birth_date", _rectified_birth_date, _setting("birth_date"), _info_on, _OFF),
)
