"""What the console and the `rights` commands show of a rights request: its deadline and audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from privateline.kernel.audit import AuditEntry
from privateline.kernel.requests import FINAL, RequestKind, RequestState, RightsRequest
from privateline.storage.audit_log import AuditLog
from privateline.storage.rights_requests import RightsRequests, StoredRequest
from privateline.storage.subject_rights import ObjectionState, SubjectRights

STATE_LABELS = {
    RequestState.RECEIVED: "received, identity not yet verified",
    RequestState.IDENTITY_VERIFIED: "identity verified",
    RequestState.IN_PROGRESS: "in progress",
    RequestState.EXTENDED: "extended",
    RequestState.COMPLETED: "completed",
    RequestState.REFUSED: "refused",
}


@dataclass(frozen=True)
class QueueItem:
    stored: StoredRequest
    overdue: bool
    days: int  # whole days left until the due date, or whole days overdue

    @property
    def request(self) -> RightsRequest:
        return self.stored.request


@dataclass(frozen=True)
class TrailEntry:
    """One audit entry about a request, with the fields of a transition taken apart."""

    seq: int
    at: datetime
    kind: str
    by: str | None
    from_state: str | None
    reason: str | None
    other: dict[str, Any]


@dataclass(frozen=True)
class RequestDetail:
    item: QueueItem
    trail: list[TrailEntry]
    # The activity of an objection still waiting for the DPO's decision (Art. 21(1)), if this is one.
    pending_objection: str | None = None


def queue_item(stored: StoredRequest, now: datetime) -> QueueItem:
    overdue = stored.request.overdue(now)
    delta = (now - stored.request.due_at) if overdue else (stored.request.due_at - now)
    return QueueItem(stored, overdue, delta.days)


def trail_entry(entry: AuditEntry) -> TrailEntry:
    detail = dict(entry.detail)
    detail.pop("request", None)
    by = detail.pop("by", None)
    from_state = detail.pop("from", None)
    reason = detail.pop("reason", None)
    return TrailEntry(
        entry.seq,
        entry.at,
        entry.kind,
        None if by is None else str(by),
        None if from_state is None else str(from_state),
        None if reason is None else str(reason),
        detail,
    )


def open_queue(connection: Connection, now: datetime) -> list[QueueItem]:
    """The open requests, overdue first, then by due date."""
    return [queue_item(s, now) for s in RightsRequests(connection).queue(now)]


def request_detail(connection: Connection, request_id: str, now: datetime) -> RequestDetail | None:
    """A request and the audit entries that name it, oldest first; None for an unknown id."""
    stored = RightsRequests(connection).get(request_id)
    if stored is None:
        return None
    trail = [
        trail_entry(e)
        for e in AuditLog(connection).entries(subject=stored.subject)
        if e.detail.get("request") == request_id
    ]
    activity = stored.detail.get("activity")
    pending = None
    if (
        stored.request.kind is RequestKind.OBJECTION
        and stored.request.state not in FINAL
        and isinstance(activity, str)
        and SubjectRights(connection).objections(stored.subject).get(activity) is ObjectionState.PENDING
    ):
        pending = activity
    return RequestDetail(queue_item(stored, now), trail, pending)


def moment(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def item_json(item: QueueItem) -> dict[str, Any]:
    r = item.request
    return {
        "id": item.stored.id,
        "kind": r.kind.value,
        "state": r.state.value,
        "subject_kind": item.stored.subject_kind,
        "subject": item.stored.subject,
        "received_at": r.received_at.isoformat(),
        "due_at": r.due_at.isoformat(),
        "overdue": item.overdue,
        "reason": r.reason,
        "closed_at": None if r.closed_at is None else r.closed_at.isoformat(),
    }


def detail_json(detail: RequestDetail) -> dict[str, Any]:
    return item_json(detail.item) | {
        "trail": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "by": e.by,
                "from": e.from_state,
                "reason": e.reason,
                "detail": e.other,
            }
            for e in detail.trail
        ]
    }
