"""The life of a data subject's rights request, held in one place (GDPR Art. 12(3), R-13).

States: received → identity verified → in progress → (extended) → completed, or
refused with a reason at any point before completion.  The answer is due one month
after receipt; the controller may extend by up to two further months when requests
are complex or numerous, and must tell the subject within the first month, with the
reasons (Art. 12(3)).  Every transition is returned as an event for the audit chain;
nothing here touches a database or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from dateutil.relativedelta import relativedelta


class RequestKind(StrEnum):
    ACCESS = "access"  # Art. 15, R-2
    PORTABILITY = "portability"  # Art. 20, R-6
    RECTIFICATION = "rectification"  # Art. 16, R-3
    ERASURE = "erasure"  # Art. 17, R-4
    RESTRICTION = "restriction"  # Art. 18, R-7
    OBJECTION = "objection"  # Art. 21, R-8
    CONSENT_WITHDRAWAL = "consent_withdrawal"  # Art. 7(3), R-9


class RequestState(StrEnum):
    RECEIVED = "received"
    IDENTITY_VERIFIED = "identity_verified"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"
    COMPLETED = "completed"
    REFUSED = "refused"


FINAL = frozenset({RequestState.COMPLETED, RequestState.REFUSED})
ANSWER_WITHIN = relativedelta(months=1)
MAX_EXTENSION_MONTHS = 2

_NEXT: dict[RequestState, frozenset[RequestState]] = {
    RequestState.RECEIVED: frozenset({RequestState.IDENTITY_VERIFIED, RequestState.REFUSED}),
    RequestState.IDENTITY_VERIFIED: frozenset({RequestState.IN_PROGRESS, RequestState.COMPLETED, RequestState.REFUSED}),
    RequestState.IN_PROGRESS: frozenset({RequestState.EXTENDED, RequestState.COMPLETED, RequestState.REFUSED}),
    RequestState.EXTENDED: frozenset({RequestState.COMPLETED, RequestState.REFUSED}),
    RequestState.COMPLETED: frozenset(),
    RequestState.REFUSED: frozenset(),
}


class TransitionError(ValueError):
    """A step the state machine does not allow; the message says why."""


@dataclass(frozen=True)
class RightsRequest:
    kind: RequestKind
    state: RequestState
    received_at: datetime
    due_at: datetime
    reason: str | None = None  # of a refusal or an extension, told to the subject
    closed_at: datetime | None = None

    @classmethod
    def receive(cls, kind: RequestKind, at: datetime) -> RightsRequest:
        return cls(kind, RequestState.RECEIVED, at, at + ANSWER_WITHIN)

    def overdue(self, now: datetime) -> bool:
        return self.state not in FINAL and now > self.due_at

    def _to(self, state: RequestState, at: datetime, **changes: object) -> RightsRequest:
        if state not in _NEXT[self.state]:
            raise TransitionError(f"a request that is {self.state.value} cannot become {state.value}")
        closed = at if state in FINAL else None
        return replace(self, state=state, closed_at=closed, **changes)  # type: ignore[arg-type]

    def verify_identity(self, at: datetime) -> RightsRequest:
        return self._to(RequestState.IDENTITY_VERIFIED, at)

    def start(self, at: datetime) -> RightsRequest:
        return self._to(RequestState.IN_PROGRESS, at)

    def extend(self, months: int, reason: str, at: datetime) -> RightsRequest:
        if not 1 <= months <= MAX_EXTENSION_MONTHS:
            raise TransitionError(f"an extension is 1 to {MAX_EXTENSION_MONTHS} months (Art. 12(3))")
        if not reason.strip():
            raise TransitionError("an extension needs a reason, which the subject is told (Art. 12(3))")
        if at > self.received_at + ANSWER_WITHIN:
            raise TransitionError("an extension must be announced within one month of receipt (Art. 12(3))")
        return self._to(RequestState.EXTENDED, at, due_at=self.due_at + relativedelta(months=months), reason=reason)

    def complete(self, at: datetime, reason: str | None = None) -> RightsRequest:
        """Done; `reason` is what the subject is told about the outcome (e.g. why an objection was upheld)."""
        if self.state is RequestState.RECEIVED:
            raise TransitionError("nothing is done for a subject before their identity is verified")
        if reason is not None:
            if not reason.strip():
                raise TransitionError("a reason given with a completion is not empty")
            return self._to(RequestState.COMPLETED, at, reason=reason)
        return self._to(RequestState.COMPLETED, at)

    def refuse(self, reason: str, at: datetime) -> RightsRequest:
        if not reason.strip():
            raise TransitionError("a refusal states its reason (Art. 12(4))")
        return self._to(RequestState.REFUSED, at, reason=reason)
