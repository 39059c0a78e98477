"""Software updates: the firmware catalogue, offers on check-in, the owner's decision (DEV-9).

The catalogue holds, per product, published versions with a download address and notes
in English, German and Dutch.  A device whose reported software is older than the
newest version of its product is offered that version; the owner accepts or declines
it, and the decision is kept only until a newer version appears (register:
software_updates), then it is deleted and the new version is offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    select,
)

from privateline.kernel.versions import is_newer, version_key
from privateline.services.devices.records import device
from privateline.storage.declarations import (
    Erasure,
    StoreDeclaration,
    declare_not_personal,
    declare_store,
    personal,
    technical,
)
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "software_updates"

firmware = declare_not_personal(
    Table(
        "firmware",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("product", String(64), nullable=False),
        Column("version", String(64), nullable=False),
        Column("url", String(512), nullable=False),
        Column("notes_en", Text, nullable=False),
        Column("notes_de", Text, nullable=False),
        Column("notes_nl", Text, nullable=False),
        Column("published_at", UTCDateTime, nullable=False),
        UniqueConstraint("product", "version"),
    ),
    "the operator's catalogue of software versions per product",
)

update_decision = declare_store(
    Table(
        "update_decision",
        metadata,
        Column(
            "device_id",
            Integer,
            ForeignKey("device.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            info=technical(),
        ),
        Column("version", String(64), nullable=False, info=personal("user.device.software_version")),
        Column("decision", String(8), nullable=False, info=personal("user.device.update_decision")),
        Column("decided_at", UTCDateTime, nullable=False, info=technical()),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="device_owner",
        subject_column="device_id",
        anchor_column=None,  # kept until a newer version is offered
        erasure=Erasure.DELETE,
    ),
)


class Decision(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class FirmwareError(ValueError):
    pass


@dataclass(frozen=True)
class Firmware:
    product: str
    version: str
    url: str
    notes: dict[str, str]
    published_at: datetime


@dataclass(frozen=True)
class Offer:
    """What a device is told on check-in: the newest version and the owner's answer, if any."""

    version: str
    url: str
    notes: dict[str, str]
    decision: Decision | None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "url": self.url,
            "notes": self.notes,
            "decision": None if self.decision is None else self.decision.value,
        }


def _firmware(row: Any) -> Firmware:
    m = row._mapping
    return Firmware(
        product=m["product"],
        version=m["version"],
        url=m["url"],
        notes={"en": m["notes_en"], "de": m["notes_de"], "nl": m["notes_nl"]},
        published_at=m["published_at"],
    )


def add_firmware(connection: Connection, item: Firmware) -> None:
    parts = urlsplit(item.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FirmwareError(f"download URL {item.url!r} is not an http(s) address")
    if not item.version.strip() or not version_key(item.version):
        raise FirmwareError(f"version {item.version!r} has no digits or letters to compare")
    missing = [lang for lang in ("en", "de", "nl") if not item.notes.get(lang, "").strip()]
    if missing:
        raise FirmwareError(f"release notes missing in: {', '.join(missing)}")
    exists = connection.execute(
        select(firmware.c.id).where(firmware.c.product == item.product, firmware.c.version == item.version)
    ).first()
    if exists is not None:
        raise FirmwareError(f"{item.product} {item.version} is already in the catalogue")
    connection.execute(
        insert(firmware).values(
            product=item.product,
            version=item.version,
            url=item.url,
            notes_en=item.notes["en"],
            notes_de=item.notes["de"],
            notes_nl=item.notes["nl"],
            published_at=item.published_at,
        )
    )
    forget_outdated_decisions(connection, item.product)


_FIRMWARE_OF = select(firmware).where(firmware.c.product == bindparam("product"))


def newest_firmware(connection: Connection, product: str) -> Firmware | None:
    rows = [_firmware(r) for r in connection.execute(_FIRMWARE_OF, {"product": product})]
    return max(rows, key=lambda f: version_key(f.version), default=None)


def catalogue(connection: Connection) -> list[Firmware]:
    rows = [_firmware(r) for r in connection.execute(select(firmware))]
    return sorted(rows, key=lambda f: (f.product, version_key(f.version)))


def _due(software_version: str | None, newest: Firmware | None) -> bool:
    """Whether a device reporting `software_version` is offered `newest` at all."""
    return newest is not None and (software_version is None or is_newer(newest.version, software_version))


def _decision(newest: Firmware, stored: Any) -> Decision | None:
    # An answer counts only for the version it was given to (register: software_updates).
    return Decision(stored.decision) if stored is not None and stored.version == newest.version else None


def offer_for(
    connection: Connection, device_id: int, software_version: str | None, newest: Firmware | None
) -> Offer | None:
    """The update offered to a device given the newest firmware of its product (a pure read)."""
    if newest is None or not _due(software_version, newest):
        return None
    row = connection.execute(select(update_decision).where(update_decision.c.device_id == device_id)).first()
    return Offer(newest.version, newest.url, newest.notes, _decision(newest, row))


_DECISIONS_OF = select(update_decision.c.device_id, update_decision.c.version, update_decision.c.decision).where(
    update_decision.c.device_id.in_(bindparam("device_ids", expanding=True))
)


def offers_for(
    connection: Connection, devices: Sequence[tuple[int, str | None, Firmware | None]]
) -> list[Offer | None]:
    """`offer_for` of many devices at once, one `(device_id, software_version, newest)` each: one query.

    Equal offers are one shared (frozen) object, so a caller may treat them alike.
    """
    due = [_due(version, newest) for _, version, newest in devices]
    stored: dict[int, Any] = {}
    if any(due):
        ids = sorted({device_id for (device_id, _, _), offered in zip(devices, due, strict=True) if offered})
        stored = {row.device_id: row for row in connection.execute(_DECISIONS_OF, {"device_ids": ids}).all()}
    shared: dict[tuple[int, Decision | None], Offer] = {}
    offers: list[Offer | None] = []
    for (device_id, _, newest), offered in zip(devices, due, strict=True):
        if newest is None or not offered:
            offers.append(None)
            continue
        decision = _decision(newest, stored.get(device_id))
        offer = shared.get((id(newest), decision))
        if offer is None:
            offer = shared[id(newest), decision] = Offer(newest.version, newest.url, newest.notes, decision)
        offers.append(offer)
    return offers


def forget_outdated_decisions(connection: Connection, product: str) -> int:
    """Delete answers about any version but the newest of `product` (register: software_updates).

    Called when a version is published: a decision is kept only until a newer version appears.
    """
    newest = newest_firmware(connection, product)
    if newest is None:
        return 0
    devices_of_product = select(device.c.id).where(device.c.product == product)
    return int(
        connection.execute(
            delete(update_decision).where(
                update_decision.c.device_id.in_(devices_of_product), update_decision.c.version != newest.version
            )
        ).rowcount
    )


class NoSuchOfferError(LookupError):
    pass


def decide(
    connection: Connection,
    device_id: int,
    product: str,
    software_version: str | None,
    version: str,
    decision: Decision,
    now: datetime,
) -> None:
    offer = offer_for(connection, device_id, software_version, newest_firmware(connection, product))
    if offer is None or offer.version != version:
        raise NoSuchOfferError(f"version {version!r} is not the update offered to this device")
    connection.execute(delete(update_decision).where(update_decision.c.device_id == device_id))
    connection.execute(
        insert(update_decision).values(device_id=device_id, version=version, decision=decision.value, decided_at=now)
    )


def decision_of(connection: Connection, device_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(update_decision).where(update_decision.c.device_id == device_id)).first()
    if row is None:
        return None
    return {"version": row.version, "decision": row.decision, "decided_at": row.decided_at}
