"""The store of data subjects' rights requests, and their transitions in the audit chain (R-13).

The state machine itself is `privateline.kernel.requests`; this module keeps each
request's current state and writes every transition to the audit chain, so the DPO
can show when what happened.  A request's id is a random, unguessable token: knowing
one request id tells nothing about any other (no enumeration).  Subjects appear only
as keyed pseudonyms.  Closed requests are swept three years after closing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, String, Table, Text, insert, select, update

from privateline.kernel.ids import public_id
from privateline.kernel.requests import FINAL, RequestKind, RequestState, RightsRequest
from privateline.storage.audit_log import AuditLog
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "rights_requests"
_REQUEST = "user.rights.request"

rights_request = declare_store(
    Table(
        "rights_request",
        metadata,
        Column("id", String(32), primary_key=True, info=technical()),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal("user.unique_id.pseudonymous")),
        Column("kind", String(32), nullable=False, info=personal(_REQUEST)),
        Column("state", String(32), nullable=False, index=True, info=personal(_REQUEST)),
        Column("received_at", UTCDateTime, nullable=False, info=personal(_REQUEST)),
        Column("due_at", UTCDateTime, nullable=False, index=True, info=personal(_REQUEST)),
        Column("reason", Text, nullable=True, info=personal(_REQUEST)),
        Column("closed_at", UTCDateTime, nullable=True, info=personal(_REQUEST)),
        Column("detail", JSON, nullable=False, info=personal(_REQUEST)),
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
class StoredRequest:
    id: str
    subject_kind: str
    subject: str
    request: RightsRequest
    detail: dict[str, Any]


def _stored(row: Any) -> StoredRequest:
    m = row._mapping
    return StoredRequest(
        id=m["id"],
        subject_kind=m["subject_kind"],
        subject=m["subject"],
        request=RightsRequest(
            kind=RequestKind(m["kind"]),
            state=RequestState(m["state"]),
            received_at=m["received_at"],
            due_at=m["due_at"],
            reason=m["reason"],
            closed_at=m["closed_at"],
        ),
        detail=dict(m["detail"] or {}),
    )


class RightsRequests:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def file(
        self, kind: RequestKind, subject_kind: str, subject: str, now: datetime, detail: dict[str, Any] | None = None
    ) -> StoredRequest:
        request = RightsRequest.receive(kind, now)
        request_id = public_id(16)
        self._c.execute(
            insert(rights_request).values(
                id=request_id,
                subject_kind=subject_kind,
                subject=subject,
                kind=kind.value,
                state=request.state.value,
                received_at=request.received_at,
                due_at=request.due_at,
                reason=None,
                closed_at=None,
                detail=detail or {},
            )
        )
        AuditLog(self._c).append(now, "rights.received", subject, {"request": request_id, "kind": kind.value})
        return StoredRequest(request_id, subject_kind, subject, request, detail or {})

    def get(self, request_id: str) -> StoredRequest | None:
        row = self._c.execute(select(rights_request).where(rights_request.c.id == request_id)).first()
        return None if row is None else _stored(row)

    def of_subject(self, subject: str) -> list[StoredRequest]:
        query = select(rights_request).where(rights_request.c.subject == subject).order_by(rights_request.c.received_at)
        return [_stored(r) for r in self._c.execute(query)]

    def queue(self, now: datetime) -> list[StoredRequest]:
        """Open requests, overdue first, then by due date (the DPO's queue)."""
        query = select(rights_request).where(rights_request.c.state.notin_([s.value for s in FINAL]))
        found = [_stored(r) for r in self._c.execute(query)]
        return sorted(found, key=lambda s: (not s.request.overdue(now), s.request.due_at))

    def transition(
        self, request_id: str, step: Callable[[RightsRequest], RightsRequest], now: datetime, by: str
    ) -> StoredRequest:
        stored = self.get(request_id)
        if stored is None:
            raise LookupError(f"no request {request_id!r}")
        after = step(stored.request)
        self._c.execute(
            update(rights_request)
            .where(rights_request.c.id == request_id)
            .values(state=after.state.value, due_at=after.due_at, reason=after.reason, closed_at=after.closed_at)
        )
        AuditLog(self._c).append(
            now,
            f"rights.{after.state.value}",
            stored.subject,
            {"request": request_id, "from": stored.request.state.value, "by": by, "reason": after.reason},
        )
        return StoredRequest(stored.id, stored.subject_kind, stored.subject, after, stored.detail)
