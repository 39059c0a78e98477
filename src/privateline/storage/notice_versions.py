"""Every version of the register the system has published (promise WEB-14).

When `serve` starts with a register whose content hash it has not seen, the version is
recorded with the moment it took effect and the register itself, so the notice page
can list earlier versions and show each of them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, String, Table, Text, insert, select

from privateline.storage.declarations import declare_not_personal
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

notice_version = declare_not_personal(
    Table(
        "notice_version",
        metadata,
        Column("version", String(32), primary_key=True),
        Column("published_at", UTCDateTime, nullable=False),
        Column("register_json", Text, nullable=False),
    ),
    "the published registers: descriptions of processing, about no one in particular",
)


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    published_at: datetime


class NoticeVersions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def publish(self, version: str, register_json: str, now: datetime) -> bool:
        """Record `version` if it is new; True when it was."""
        known = self._c.execute(select(notice_version.c.version).where(notice_version.c.version == version)).first()
        if known is not None:
            return False
        self._c.execute(insert(notice_version).values(version=version, published_at=now, register_json=register_json))
        return True

    def history(self) -> list[PublishedVersion]:
        rows = self._c.execute(
            select(notice_version.c.version, notice_version.c.published_at).order_by(
                notice_version.c.published_at.desc(), notice_version.c.version
            )
        )
        return [PublishedVersion(r.version, r.published_at) for r in rows]

    def register_json(self, version: str) -> str | None:
        row = self._c.execute(select(notice_version.c.register_json).where(notice_version.c.version == version)).first()
        return None if row is None else str(row.register_json)
