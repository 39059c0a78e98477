"""What subjects have asked for that outlives one request: erasures, restrictions, objections.

* The **erasure journal** (R-4) lists, by pseudonym, every subject whose data was
  erased, so that `privateline rights replay` can erase them again after a database is
  restored from a backup taken before the erasure.  Backups must not be kept longer
  than the journal (three years), or a restore could bring back what it no longer lists.
* A **restriction** (Art. 18, R-7) marks a subject's data for an activity (or all) as
  stored only; the purpose gate refuses every other use while it stands.
* An **objection** (Art. 21, R-8) is recorded per activity; one to direct marketing
  takes effect at once, one to legitimate-interest processing is decided by the DPO,
  with the reason.

All three name subjects only by keyed pseudonym and belong to the rights-request
activity (kept three years after the request is closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    select,
    update,
)

from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "rights_requests"
_PSEUDONYM = "user.unique_id.pseudonymous"
_REQUEST = "user.rights.request"
ALL_ACTIVITIES = "*"


def _declaration(anchor: str) -> StoreDeclaration:
    return StoreDeclaration(
        activity=ACTIVITY, subject_kind="*", subject_column="subject", anchor_column=anchor, erasure=Erasure.LEGAL_HOLD
    )


erasure_journal = declare_store(
    Table(
        "erasure_journal",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal(_PSEUDONYM)),
        Column("request_id", String(32), nullable=True, info=technical()),
        Column("at", UTCDateTime, nullable=False, index=True, info=personal(_REQUEST)),
        Column("stores", JSON, nullable=False, info=personal(_REQUEST)),
    ),
    _declaration("at"),
)

restriction = declare_store(
    Table(
        "restriction",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal(_PSEUDONYM)),
        Column("activity", String(64), nullable=False, info=personal(_REQUEST)),
        Column("since", UTCDateTime, nullable=False, info=personal(_REQUEST)),
        Column("lifted_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
        Column("request_id", String(32), nullable=True, info=technical()),
    ),
    _declaration("lifted_at"),
)

objection = declare_store(
    Table(
        "objection",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal(_PSEUDONYM)),
        Column("activity", String(64), nullable=False, info=personal(_REQUEST)),
        Column("state", String(16), nullable=False, info=personal(_REQUEST)),
        Column("source", String(16), nullable=False, info=personal(_REQUEST)),
        Column("at", UTCDateTime, nullable=False, info=personal(_REQUEST)),
        Column("decided_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
        Column("reason", Text, nullable=True, info=personal(_REQUEST)),
        # An objection stands until the subject withdraws it; only then does its period run,
        # so a suppressed use never resumes because a record aged.
        Column("withdrawn_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
        Column("request_id", String(32), nullable=True, info=technical()),
    ),
    _declaration("withdrawn_at"),
)


def _standing(subject: str, activity: str) -> ColumnElement[bool]:
    """The subject's objection to the activity that has not been withdrawn."""
    return and_(objection.c.subject == subject, objection.c.activity == activity, objection.c.withdrawn_at.is_(None))


class ObjectionState(StrEnum):
    UPHELD = "upheld"  # processing stops (marketing at once; interests when no compelling grounds)
    PENDING = "pending"  # an objection to legitimate-interest processing awaiting the DPO (Art. 21(1))
    OVERRIDDEN = "overridden"  # the DPO recorded compelling legitimate grounds, with the reason


@dataclass(frozen=True)
class Restriction:
    """A restriction that stands (not lifted)."""

    activity: str  # a register activity, or ALL_ACTIVITIES
    since: datetime
    request_id: str | None  # the request that asked for it; an erasure's for what a legal hold keeps


@dataclass(frozen=True)
class StandingObjection:
    """An objection that stands (not withdrawn), with the DPO's decision once there is one."""

    activity: str
    state: ObjectionState
    source: str  # "request" (filed by the subject), "gpc" (the browser's Global Privacy Control signal)
    at: datetime
    decided_at: datetime | None
    reason: str | None
    request_id: str | None


@dataclass(frozen=True)
class Journalled:
    subject_kind: str
    subject: str
    at: datetime
    stores: dict[str, Any]


class SubjectRights:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # Erasure journal ----------------------------------------------------------

    def journal_erasure(
        self, subject_kind: str, subject: str, at: datetime, stores: dict[str, Any], request_id: str | None
    ) -> None:
        self._c.execute(
            insert(erasure_journal).values(
                subject_kind=subject_kind, subject=subject, at=at, stores=stores, request_id=request_id
            )
        )

    def journal(self) -> list[Journalled]:
        query = select(erasure_journal).order_by(erasure_journal.c.id)
        return [Journalled(r.subject_kind, r.subject, r.at, dict(r.stores)) for r in self._c.execute(query)]

    # Restrictions -------------------------------------------------------------

    def restrict(self, subject_kind: str, subject: str, activity: str, at: datetime, request_id: str | None) -> None:
        if activity in self.restricted_activities(subject):
            return
        self._c.execute(
            insert(restriction).values(
                subject_kind=subject_kind, subject=subject, activity=activity, since=at, request_id=request_id
            )
        )

    def lift_restriction(self, subject: str, activity: str, at: datetime) -> int:
        return int(
            self._c.execute(
                update(restriction)
                .where(
                    restriction.c.subject == subject,
                    restriction.c.activity == activity,
                    restriction.c.lifted_at.is_(None),
                )
                .values(lifted_at=at)
            ).rowcount
        )

    def restricted_activities(self, subject: str) -> set[str]:
        query = select(restriction.c.activity).where(
            restriction.c.subject == subject, restriction.c.lifted_at.is_(None)
        )
        return set(self._c.execute(query).scalars())

    def restrictions(self, subject: str) -> list[Restriction]:
        query = (
            select(restriction.c.activity, restriction.c.since, restriction.c.request_id)
            .where(restriction.c.subject == subject, restriction.c.lifted_at.is_(None))
            .order_by(restriction.c.id)
        )
        return [Restriction(r.activity, r.since, r.request_id) for r in self._c.execute(query)]

    def is_restricted(self, subject: str, activity: str) -> bool:
        found = self.restricted_activities(subject)
        return activity in found or ALL_ACTIVITIES in found

    # Objections ---------------------------------------------------------------

    def object(
        self,
        subject_kind: str,
        subject: str,
        activity: str,
        state: ObjectionState,
        source: str,
        at: datetime,
        request_id: str | None = None,
    ) -> None:
        self._c.execute(delete(objection).where(_standing(subject, activity)))
        self._c.execute(
            insert(objection).values(
                subject_kind=subject_kind,
                subject=subject,
                activity=activity,
                state=state.value,
                source=source,
                at=at,
                decided_at=at if state is ObjectionState.UPHELD else None,
                reason=None,
                request_id=request_id,
            )
        )

    def decide_objection(self, subject: str, activity: str, state: ObjectionState, reason: str, at: datetime) -> int:
        if not reason.strip():
            raise ValueError("a decision on an objection states its reason (Art. 21(1))")
        return int(
            self._c.execute(
                update(objection)
                .where(
                    objection.c.subject == subject, objection.c.activity == activity, objection.c.withdrawn_at.is_(None)
                )
                .values(state=state.value, reason=reason, decided_at=at)
            ).rowcount
        )

    def withdraw_objection(self, subject: str, activity: str, at: datetime) -> int:
        return int(
            self._c.execute(
                update(objection)
                .where(
                    objection.c.subject == subject, objection.c.activity == activity, objection.c.withdrawn_at.is_(None)
                )
                .values(withdrawn_at=at)
            ).rowcount
        )

    def objections(self, subject: str) -> dict[str, ObjectionState]:
        query = select(objection.c.activity, objection.c.state).where(
            objection.c.subject == subject, objection.c.withdrawn_at.is_(None)
        )
        return {row.activity: ObjectionState(row.state) for row in self._c.execute(query)}

    def standing_objections(self, subject: str) -> list[StandingObjection]:
        query = (
            select(objection)
            .where(objection.c.subject == subject, objection.c.withdrawn_at.is_(None))
            .order_by(objection.c.id)
        )
        return [
            StandingObjection(r.activity, ObjectionState(r.state), r.source, r.at, r.decided_at, r.reason, r.request_id)
            for r in self._c.execute(query)
        ]
