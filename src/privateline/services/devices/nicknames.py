"""The nickname an owner may give the device's number (DEV-3, DEV-4).

Shown to the people the phone calls, so it is the owner's choice and need not be a
name.  It is deleted with the VoIP service (DEV-10) or by the owner at any time.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import Column, Connection, ForeignKey, Integer, String, Table, delete, insert, select

from privateline.services.devices.records import Service, device_by_id
from privateline.services.privacy.rectification import FieldRefusedError, Rectifiable, declare_rectifiable
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "voip_nickname"
MAX_NICKNAME = 40

voip_nickname = declare_store(
    Table(
        "voip_nickname",
        metadata,
        Column(
            "device_id",
            Integer,
            ForeignKey("device.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            info=technical(),
        ),
        Column("nickname", String(MAX_NICKNAME), nullable=False, info=personal("user.telecom.nickname")),
        Column("set_at", UTCDateTime, nullable=False, info=technical()),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="device_owner",
        subject_column="device_id",
        anchor_column=None,
        erasure=Erasure.DELETE,
    ),
)


class NicknameError(ValueError):
    pass


def clean_nickname(text: str) -> str:
    """A nickname fits a SIP display-name (RFC 3261 §25.1 quoted-string) and a handset screen."""
    value = unicodedata.normalize("NFC", text.strip())
    if not 1 <= len(value) <= MAX_NICKNAME:
        raise NicknameError(f"a nickname has 1 to {MAX_NICKNAME} characters")
    if any(unicodedata.category(ch).startswith("C") or ch in '"\\<>' for ch in value):
        raise NicknameError('a nickname has no control characters and none of " \\ < >')
    return value


def nickname_of(connection: Connection, device_id: int) -> str | None:
    return connection.execute(
        select(voip_nickname.c.nickname).where(voip_nickname.c.device_id == device_id)
    ).scalar_one_or_none()


def set_nickname(connection: Connection, device_id: int, nickname: str, now: datetime) -> None:
    value = clean_nickname(nickname)
    connection.execute(delete(voip_nickname).where(voip_nickname.c.device_id == device_id))
    connection.execute(insert(voip_nickname).values(device_id=device_id, nickname=value, set_at=now))


def clear_nickname(connection: Connection, device_id: int) -> bool:
    return bool(connection.execute(delete(voip_nickname).where(voip_nickname.c.device_id == device_id)).rowcount)


# Rectification (Art. 16, R-3): the nickname is the owner's own input, so the owner may
# correct it, checked exactly as when it was set.  The number beside it is a factory fact.


def _rectified_nickname(value: object, _now: datetime) -> str:
    if not isinstance(value, str):
        raise FieldRefusedError("a nickname is text")
    return clean_nickname(value)


def _write_nickname(connection: Connection, device_id: object, value: object, now: datetime) -> None:
    assert isinstance(device_id, int) and isinstance(value, str)
    set_nickname(connection, device_id, value, now)


def _voip_on(connection: Connection, device_id: object) -> bool:
    assert isinstance(device_id, int)
    record = device_by_id(connection, device_id)
    return record is not None and record.service_on(Service.VOIP)


declare_rectifiable(
    voip_nickname,
    Rectifiable(
        field="nickname",
        column="nickname",
        clean=_rectified_nickname,
        write=_write_nickname,
        available=_voip_on,
        unavailable="the nickname belongs to the call service (VoIP), which is switched off",
    ),
)
