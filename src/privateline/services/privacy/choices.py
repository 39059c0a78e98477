"""What a subject says that limits processing: restriction, objection, consent withdrawal (R-7, R-8, R-9).

Each function works inside the caller's unit of work, checks against the register
that the subject may say this about that activity, records the statement in its
store, writes the audit chain and, where data of an activity with recipients is
restricted, queues the recipients' notices in the same transaction (Art. 19, R-5).
The purpose gate (`services.privacy.gate`) reads what is recorded here; nothing else
needs to.

* **Restriction** (Art. 18) of one activity or of all: the data stays stored, every
  other use is refused until the subject lifts it.  Activities on a legal obligation
  (Art. 6(1)(c): the audit trail, the rights requests) are not offered: their data is
  used for that obligation alone anyway.
* **Objection** (Art. 21) is open where the register says so: to direct marketing it
  is upheld at once and unconditionally (Art. 21(2)-(3)); to processing on legitimate
  interests it is recorded as pending, the processing stops, and the DPO decides, with
  a reason, whether compelling legitimate grounds override it (Art. 21(1)).  An
  automated objection (Art. 21(5): the browser's Global Privacy Control signal) covers
  optional marketing and analytics only, for which no such grounds can exist, so it is
  upheld at once.
* **Consent withdrawal** (Art. 7(3)) appends a `withdrawn` event to the consent
  ledger; nothing earlier is changed, so what was done under the consent stays lawful,
  and the gate refuses from that moment on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from privateline.kernel.consent import ConsentEvent, ConsentEventKind
from privateline.kernel.ids import public_id
from privateline.register.model import LawfulBasis, Objection, Register
from privateline.services.privacy.held import Subject
from privateline.services.privacy.recipients import Change, notify_recipients
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.subject_rights import ALL_ACTIVITIES, ObjectionState, SubjectRights

SOURCE_REQUEST = "request"  # filed by the subject
SOURCE_GPC = "gpc"  # the Global Privacy Control signal (Art. 21(5))


class NotOpenError(ValueError):
    """The register does not let the subject say this about that activity; the message says why."""


def _about(register: Register, subject_kind: str) -> list[str]:
    return [aid for aid, a in register.activities.items() if subject_kind in a.subjects]


def restrictable(register: Register, subject_kind: str) -> list[str]:
    """The activities about `subject_kind` whose processing the subject can restrict."""
    return [
        aid
        for aid in _about(register, subject_kind)
        if register.activities[aid].legal_basis.gdpr is not LawfulBasis.LEGAL_OBLIGATION
    ]


def objectable(register: Register, subject_kind: str) -> list[str]:
    """The activities about `subject_kind` that the subject can object to (Art. 21)."""
    return [
        aid
        for aid in _about(register, subject_kind)
        if register.activities[aid].objection in (Objection.UNCONDITIONAL, Objection.WEIGHED)
    ]


def withdrawable(register: Register, subject_kind: str) -> list[str]:
    """The activities about `subject_kind` that rest on consent, which can be withdrawn (Art. 7(3))."""
    return [aid for aid in _about(register, subject_kind) if register.activities[aid].consent.required]


# Restriction (Art. 18, R-7) ------------------------------------------------------------


def restrict(
    connection: Connection, register: Register, subject: Subject, activity: str, now: datetime, request_id: str | None
) -> list[str]:
    """Restrict `activity` (or `ALL_ACTIVITIES`); the activities whose processing is now restricted."""
    open_to = restrictable(register, subject.kind)
    if activity != ALL_ACTIVITIES and activity not in open_to:
        raise NotOpenError(f"the processing of {activity!r} cannot be restricted by this subject")
    SubjectRights(connection).restrict(subject.kind, subject.pseudonym, activity, now, request_id)
    affected = open_to if activity == ALL_ACTIVITIES else [activity]
    AuditLog(connection).append(
        now, "rights.restricted", subject.pseudonym, {"request": request_id, "activity": activity}
    )
    # Art. 19: whoever received data of a restricted activity is told, in this transaction.
    notify_recipients(
        connection, register, subject, Change.RESTRICTION, affected, now, request_id, {"restricted": activity}
    )
    return affected


def lift_restriction(
    connection: Connection, subject: Subject, activity: str, now: datetime, request_id: str | None
) -> bool:
    """Lift the subject's restriction of `activity`; False when none stood."""
    lifted = SubjectRights(connection).lift_restriction(subject.pseudonym, activity, now) > 0
    if lifted:
        AuditLog(connection).append(
            now, "rights.restriction_lifted", subject.pseudonym, {"request": request_id, "activity": activity}
        )
    return lifted


# Objection (Art. 21, R-8) --------------------------------------------------------------


def object_to(
    connection: Connection,
    register: Register,
    subject: Subject,
    activity: str,
    now: datetime,
    request_id: str | None,
    source: str = SOURCE_REQUEST,
) -> ObjectionState:
    """Record the subject's objection; upheld at once, or pending for the DPO (legitimate interests)."""
    described = register.activities.get(activity)
    if described is None or activity not in objectable(register, subject.kind):
        raise NotOpenError(f"the processing of {activity!r} is not open to objection (Art. 21)")
    weighed = described.objection is Objection.WEIGHED and not described.direct_marketing
    state = ObjectionState.PENDING if weighed and source != SOURCE_GPC else ObjectionState.UPHELD
    SubjectRights(connection).object(subject.kind, subject.pseudonym, activity, state, source, now, request_id)
    AuditLog(connection).append(
        now,
        "rights.objected",
        subject.pseudonym,
        {"request": request_id, "activity": activity, "state": state.value, "source": source},
    )
    return state


def decide_objection(
    connection: Connection,
    register: Register,
    subject_pseudonym: str,
    activity: str,
    uphold: bool,
    reason: str,
    now: datetime,
    by: str,
    request_id: str | None,
) -> ObjectionState:
    """The DPO's decision on a pending objection, with the reason the subject is told (Art. 21(1), 12(4))."""
    if not reason.strip():
        raise NotOpenError("a decision on an objection states its reason (Art. 21(1))")
    described = register.activities.get(activity)
    if not uphold and (described is None or described.direct_marketing):
        raise NotOpenError("an objection to direct marketing is never overridden (Art. 21(3))")
    rights = SubjectRights(connection)
    if rights.objections(subject_pseudonym).get(activity) is not ObjectionState.PENDING:
        raise NotOpenError("there is no pending objection to this processing")
    state = ObjectionState.UPHELD if uphold else ObjectionState.OVERRIDDEN
    rights.decide_objection(subject_pseudonym, activity, state, reason, now)
    AuditLog(connection).append(
        now,
        "rights.objection_decided",
        subject_pseudonym,
        {"request": request_id, "activity": activity, "decision": state.value, "by": by, "reason": reason},
    )
    return state


# Consent withdrawal (Art. 7(3), R-9) -------------------------------------------------------


def withdraw_consent(
    connection: Connection,
    register: Register,
    register_version: str,
    subject: Subject,
    purpose: str,
    now: datetime,
    request_id: str | None,
    method: str,
) -> ConsentEvent:
    """Append a `withdrawn` event for `purpose`; earlier events stay as they are (Art. 7(3))."""
    if purpose not in withdrawable(register, subject.kind):
        raise NotOpenError(f"{purpose!r} does not rest on consent; there is no consent to withdraw")
    ledger = ConsentLedger(connection)
    earlier = [e for e in ledger.events_of(subject.pseudonym) if e.purpose == purpose]
    # The withdrawal goes on the same receipt as the consent it ends, so the receipt shows both.
    record_id = max(earlier, key=lambda e: e.at).record_id if earlier else public_id(16)
    event = ConsentEvent(
        record_id, subject.pseudonym, purpose, ConsentEventKind.WITHDRAWN, register_version, method, now
    )
    ledger.append([event])
    AuditLog(connection).append(
        now, "rights.consent_withdrawn", subject.pseudonym, {"request": request_id, "purpose": purpose}
    )
    return event
