"""The durable outbox of notices to recipients (GDPR Art. 19, promise R-5).

A rectification, erasure or restriction queues one row per recipient in the same
transaction as the change itself (outbox pattern): the notice exists if and only if
the change committed.  A delivery worker (`services.privacy.recipients`) sends the
rows later and records every attempt here, so a restart loses nothing:

* ``pending``: waiting for its next attempt (``next_attempt_at``);
* ``by_hand``: the recipient has no configured endpoint; the DPO informs it by hand
  and then settles the notice (it is sent after all if an endpoint is configured);
* ``failed``: the worker gave up after its bounded number of attempts; the DPO sees
  it, and either retries it or informs the recipient by hand;
* ``delivered`` / ``informed_by_hand``: settled, ``closed_at`` is set.

Subjects appear only as keyed pseudonyms.  The store belongs to the rights-request
activity: a settled notice is the record that Art. 19 was complied with, and the
register's retention of that activity (three years after the request is closed)
runs from ``closed_at``; the generic retention sweep removes it then.  Unsettled
notices (pending, by hand, failed) are never swept: they are work still to be done.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Connection, Integer, String, Table, insert, select, true, update

from privateline.kernel.ids import public_id
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "rights_requests"
_PSEUDONYM = "user.unique_id.pseudonymous"
_REQUEST = "user.rights.request"
ERROR_LENGTH = 200


class NoticeState(StrEnum):
    PENDING = "pending"
    BY_HAND = "by_hand"
    FAILED = "failed"
    DELIVERED = "delivered"
    INFORMED_BY_HAND = "informed_by_hand"


OPEN_STATES = (NoticeState.PENDING, NoticeState.BY_HAND, NoticeState.FAILED)

recipient_notice = declare_store(
    Table(
        "recipient_notice",
        metadata,
        # A random, unguessable token: it is also the idempotency key the recipient sees.
        Column("id", String(32), primary_key=True, info=technical()),
        Column("recipient", String(64), nullable=False, index=True, info=personal(_REQUEST)),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal(_PSEUDONYM)),
        Column("change", String(16), nullable=False, info=personal(_REQUEST)),
        Column("activities", JSON, nullable=False, info=personal(_REQUEST)),
        Column("detail", JSON, nullable=False, info=personal(_REQUEST)),
        Column("request_id", String(32), nullable=True, info=technical()),
        Column("created_at", UTCDateTime, nullable=False, info=personal(_REQUEST)),
        Column("state", String(16), nullable=False, index=True, info=personal(_REQUEST)),
        Column("attempts", Integer, nullable=False, info=technical()),
        Column("next_attempt_at", UTCDateTime, nullable=True, index=True, info=technical()),
        # What went wrong the last time ("HTTP 503", "timeout"): never a response body.
        Column("last_error", String(ERROR_LENGTH), nullable=True, info=technical()),
        Column("delivered_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
        Column("closed_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="*",
        subject_column="subject",
        anchor_column="closed_at",
        erasure=Erasure.DELETE,
    ),
)


@dataclass(frozen=True)
class StoredNotice:
    id: str
    recipient: str
    subject_kind: str
    subject: str
    change: str
    activities: tuple[str, ...]
    detail: dict[str, Any]
    request_id: str | None
    created_at: datetime
    state: NoticeState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    closed_at: datetime | None


def _stored(row: Any) -> StoredNotice:
    m = row._mapping
    return StoredNotice(
        id=m["id"],
        recipient=m["recipient"],
        subject_kind=m["subject_kind"],
        subject=m["subject"],
        change=m["change"],
        activities=tuple(m["activities"] or ()),
        detail=dict(m["detail"] or {}),
        request_id=m["request_id"],
        created_at=m["created_at"],
        state=NoticeState(m["state"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
        closed_at=m["closed_at"],
    )


class RecipientOutbox:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # Queueing (inside the unit of work of the change) ----------------------------

    def add(
        self,
        recipient: str,
        subject_kind: str,
        subject: str,
        change: str,
        activities: Iterable[str],
        now: datetime,
        request_id: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> str:
        notice_id = public_id(16)
        self._c.execute(
            insert(recipient_notice).values(
                id=notice_id,
                recipient=recipient,
                subject_kind=subject_kind,
                subject=subject,
                change=change,
                activities=list(activities),
                detail=dict(detail or {}),
                request_id=request_id,
                created_at=now,
                state=NoticeState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                delivered_at=None,
                closed_at=None,
            )
        )
        return notice_id

    # Reading -----------------------------------------------------------------------

    def get(self, notice_id: str) -> StoredNotice | None:
        row = self._c.execute(select(recipient_notice).where(recipient_notice.c.id == notice_id)).first()
        return None if row is None else _stored(row)

    def of_subject(self, subject: str) -> list[StoredNotice]:
        query = (
            select(recipient_notice)
            .where(recipient_notice.c.subject == subject)
            .order_by(recipient_notice.c.created_at, recipient_notice.c.recipient)
        )
        return [_stored(r) for r in self._c.execute(query)]

    def unsettled(self) -> list[StoredNotice]:
        """Notices still to be done (pending, to be informed by hand, given up): the DPO's list."""
        query = (
            select(recipient_notice)
            .where(recipient_notice.c.state.in_([s.value for s in OPEN_STATES]))
            .order_by(recipient_notice.c.created_at, recipient_notice.c.recipient)
        )
        return [_stored(r) for r in self._c.execute(query)]

    def due(self, now: datetime, recipients: Collection[str], limit: int) -> list[StoredNotice]:
        """Pending notices to the given recipients whose next attempt has come, oldest first."""
        query = (
            select(recipient_notice)
            .where(
                recipient_notice.c.state == NoticeState.PENDING.value,
                recipient_notice.c.recipient.in_(list(recipients)),
                recipient_notice.c.next_attempt_at <= now,
            )
            .order_by(recipient_notice.c.next_attempt_at, recipient_notice.c.created_at)
            .limit(limit)
        )
        return [_stored(r) for r in self._c.execute(query)]

    # The worker's transitions --------------------------------------------------------

    def sort_by_endpoint(self, configured: Collection[str]) -> tuple[int, int]:
        """Pending notices to recipients without an endpoint go to the DPO (by hand), and
        notices waiting by hand for a recipient that now has one go back to the queue.
        Returns (to be informed by hand, resumed)."""
        names = list(configured)
        to_hand = self._c.execute(
            update(recipient_notice)
            .where(
                recipient_notice.c.state == NoticeState.PENDING.value,
                recipient_notice.c.recipient.notin_(names) if names else true(),
            )
            .values(state=NoticeState.BY_HAND.value)
        ).rowcount
        resumed = 0
        if names:
            resumed = self._c.execute(
                update(recipient_notice)
                .where(recipient_notice.c.state == NoticeState.BY_HAND.value, recipient_notice.c.recipient.in_(names))
                .values(state=NoticeState.PENDING.value)
            ).rowcount
        return int(to_hand), int(resumed)

    def claim(self, notice_id: str, attempts: int, lease_until: datetime) -> bool:
        """Count an attempt before it is made, and hold the notice until `lease_until`.

        Only the worker that saw `attempts` wins; if it dies while sending, the notice
        comes due again when the lease ends, with the attempt counted.
        """
        claimed = self._c.execute(
            update(recipient_notice)
            .where(
                recipient_notice.c.id == notice_id,
                recipient_notice.c.state == NoticeState.PENDING.value,
                recipient_notice.c.attempts == attempts,
            )
            .values(attempts=attempts + 1, next_attempt_at=lease_until)
        ).rowcount
        return bool(claimed == 1)

    def delivered(self, notice_id: str, now: datetime) -> None:
        self._c.execute(
            update(recipient_notice)
            .where(recipient_notice.c.id == notice_id)
            .values(
                state=NoticeState.DELIVERED.value,
                delivered_at=now,
                closed_at=now,
                next_attempt_at=None,
                last_error=None,
            )
        )

    def retry_at(self, notice_id: str, at: datetime, error: str) -> None:
        self._c.execute(
            update(recipient_notice)
            .where(recipient_notice.c.id == notice_id)
            .values(next_attempt_at=at, last_error=error[:ERROR_LENGTH])
        )

    def give_up(self, notice_id: str, error: str) -> None:
        self._c.execute(
            update(recipient_notice)
            .where(recipient_notice.c.id == notice_id)
            .values(state=NoticeState.FAILED.value, next_attempt_at=None, last_error=error[:ERROR_LENGTH])
        )

    # The DPO's transitions -------------------------------------------------------------

    def settle_by_hand(self, notice_id: str, now: datetime) -> bool:
        """The DPO informed the recipient another way (letter, e-mail, phone)."""
        settled = self._c.execute(
            update(recipient_notice)
            .where(
                recipient_notice.c.id == notice_id,
                recipient_notice.c.state.in_([s.value for s in OPEN_STATES]),
            )
            .values(state=NoticeState.INFORMED_BY_HAND.value, closed_at=now, next_attempt_at=None)
        ).rowcount
        return bool(settled == 1)

    def retry(self, notice_id: str, now: datetime) -> bool:
        """Put a notice the worker gave up on (or one waiting by hand) back into the queue, with fresh attempts."""
        again = self._c.execute(
            update(recipient_notice)
            .where(
                recipient_notice.c.id == notice_id,
                recipient_notice.c.state.in_([NoticeState.FAILED.value, NoticeState.BY_HAND.value]),
            )
            .values(state=NoticeState.PENDING.value, attempts=0, next_attempt_at=now)
        ).rowcount
        return bool(again == 1)
