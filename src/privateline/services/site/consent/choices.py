"""What a website visitor is asked, and how each answer is recorded (WEB-8, WEB-11, R-8, R-9).

The questions come from the register, not from this code: every activity of which
website visitors are subjects and which they can refuse is offered, so an operator who
switches off a part (say, social buttons) stops asking about it.

* An activity **on consent** (Art. 6(1)(a): web analytics, social buttons) is off until
  the visitor says yes.  Each yes is a `given` event with the register's expiry (one
  year, WEB-8); each no is a `refused` event, or `withdrawn` when a consent stood
  (Art. 7(3), R-9: what happened before stays lawful, nothing after).
* An activity on **legitimate interests that the visitor can object to** (event
  analytics, WEB-11) is on unless the visitor objects in the same settings; the
  objection is recorded as an Art. 21 objection and stops it at once (R-8).
* **Global Privacy Control** (`Sec-GPC: 1`) is an objection by automated means
  (Art. 21(5)): while a browser sends it, no consent is offered for these activities,
  and whatever the stored choice says, they are treated as refused.

Every save is one receipt: a random record id shared by the events it wrote, shown to
the visitor, and one entry in the audit chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from privateline.kernel.consent import ConsentEvent, ConsentEventKind, choice_pending, current_consent
from privateline.kernel.ids import public_id
from privateline.register.loader import LoadedRegister
from privateline.register.model import Activity, Objection
from privateline.register.periods import RetentionPeriod
from privateline.services.privacy.held import Subject
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.subject_rights import ObjectionState, SubjectRights

VISITOR = "website_visitor"
ONE_YEAR = RetentionPeriod.parse("1 year")


@dataclass(frozen=True)
class Question:
    """One thing the visitor decides: allow an activity or not."""

    activity: str
    on_consent: bool  # True: off until allowed; False: on until objected to
    name: str
    purpose: str


@dataclass(frozen=True)
class Answer:
    question: Question
    allowed: bool
    since: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Receipt:
    record_id: str
    at: datetime
    allowed: tuple[str, ...]
    refused: tuple[str, ...]


def _asked_about(activity: Activity) -> bool | None:
    """True when the activity needs consent, False when it can be objected to, None when neither."""
    if VISITOR not in activity.subjects:
        return None
    if activity.consent.required:
        return True
    if activity.objection in (Objection.WEIGHED, Objection.UNCONDITIONAL):
        return False
    return None


def questions(loaded: LoadedRegister, lang: str) -> list[Question]:
    found = []
    for activity_id, activity in loaded.register.activities.items():
        if activity_id in loaded.dormant_activities:
            continue
        on_consent = _asked_about(activity)
        if on_consent is not None:
            found.append(Question(activity_id, on_consent, activity.name.get(lang), activity.purpose.get(lang)))
    # Consent questions first, in the register's order, then the ones that are on by default.
    return sorted(found, key=lambda q: not q.on_consent)


def _lasts(loaded: LoadedRegister, activity: str) -> RetentionPeriod:
    lasts = loaded.register.activities[activity].consent.lasts
    return lasts if lasts is not None else ONE_YEAR


class VisitorChoices:
    """The consent choices of one visitor, read and recorded in the caller's unit of work."""

    def __init__(self, connection: Connection, loaded: LoadedRegister) -> None:
        self._c = connection
        self._loaded = loaded

    def answers(self, subject: Subject, lang: str, now: datetime, *, gpc: bool = False) -> list[Answer]:
        events = ConsentLedger(self._c).events_of(subject.pseudonym)
        objections = SubjectRights(self._c).objections(subject.pseudonym)
        shown = []
        for q in questions(self._loaded, lang):
            if q.on_consent:
                state = current_consent(events, q.activity, now)
                allowed = state.given and not gpc
                shown.append(Answer(q, allowed, state.since, state.expires_at if state.given else None))
            else:
                objected = objections.get(q.activity) is ObjectionState.UPHELD
                shown.append(Answer(q, not objected and not gpc, None, None))
        return shown

    def must_ask(self, subject: Subject | None, now: datetime, *, gpc: bool = False) -> bool:
        """Show the banner? When a consent question was never answered or its answer lapsed (WEB-8)."""
        asked = [q for q in questions(self._loaded, "en") if q.on_consent]
        if not asked or gpc:
            # With GPC the browser has already said no to everything the banner would ask.
            return False
        if subject is None:
            return True
        events = ConsentLedger(self._c).events_of(subject.pseudonym)
        return any(choice_pending(events, q.activity, now) for q in asked)

    def record(
        self,
        subject: Subject,
        wanted: Mapping[str, bool],
        now: datetime,
        method: str,
        *,
        gpc: bool = False,
    ) -> Receipt:
        """Record one save of the settings or the banner: every question gets an answer (missing ones: no)."""
        record_id = public_id(12)
        ledger = ConsentLedger(self._c)
        rights = SubjectRights(self._c)
        events = ledger.events_of(subject.pseudonym)
        objections = rights.objections(subject.pseudonym)
        written: list[ConsentEvent] = []
        allowed: list[str] = []
        refused: list[str] = []
        for q in questions(self._loaded, "en"):
            # Art. 21(5): a browser sending GPC objects; a tick box cannot outvote it.
            yes = bool(wanted.get(q.activity, False)) and not gpc
            (allowed if yes else refused).append(q.activity)
            if q.on_consent:
                standing = current_consent(events, q.activity, now).given
                if yes:
                    kind, expires = ConsentEventKind.GIVEN, _lasts(self._loaded, q.activity).after(now)
                elif standing:
                    kind, expires = ConsentEventKind.WITHDRAWN, None
                else:
                    kind, expires = ConsentEventKind.REFUSED, _lasts(self._loaded, q.activity).after(now)
                written.append(
                    ConsentEvent(
                        record_id, subject.pseudonym, q.activity, kind, self._loaded.version, method, now, expires
                    )
                )
            elif yes and q.activity in objections:
                rights.withdraw_objection(subject.pseudonym, q.activity, now)
            elif not yes and objections.get(q.activity) is not ObjectionState.UPHELD:
                rights.object(
                    subject.kind, subject.pseudonym, q.activity, ObjectionState.UPHELD, "gpc" if gpc else method, now
                )
        ledger.append(written)
        AuditLog(self._c).append(
            now,
            "consent.recorded",
            subject.pseudonym,
            {"record": record_id, "method": method, "allowed": allowed, "refused": refused, "gpc": gpc},
        )
        return Receipt(record_id, now, tuple(allowed), tuple(refused))

    def receipts(self, subject: Subject) -> list[ConsentEvent]:
        """Every event of the visitor's ledger, oldest first: the proof of each choice."""
        return ConsentLedger(self._c).events_of(subject.pseudonym)
