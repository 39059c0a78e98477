"""The data subject's rights of the signed-in phone's owner (R-2 to R-9, R-13).

Signing in to the portal with the phone's number and device password is how a device
owner proves who they are; every request filed here is therefore marked identity
verified at once, by the subject's own channel.  Then:

* access and portability are answered at once: the request is completed and its
  package (everything held, with what Art. 15(1) asks to be told) is made when it is
  downloaded, only for this same phone; a portability request naming another
  provider's HTTPS address is also sent there once it is completed (Art. 20(2), R-6),
  and the outcome (host name, delivered or why not) joins its audit trail;
* erasure is carried out at once by the rights engine, outside any transaction held
  here (the engine writes its journal line first and opens its own), then completed;
  the engine's report stays in the erasure journal and is shown from there;
* rectification field by field (R-3) is checked before anything is filed (an invalid
  value files and changes nothing), then carried out at once by the engine and
  completed; a rectification described in words is filed and left for the DPO;
* restriction and its lifting (R-7), objection (R-8) and consent withdrawal (R-9) are
  carried out at once by the engine and completed, except an objection to processing
  on legitimate interests: its processing stops at once, and the request waits for
  the DPO's decision (Art. 21(1));
* a browser sending `Sec-GPC: 1` objects to optional marketing and analytics
  (Art. 21(5)): shown a page, the signed-in phone gets that objection recorded, as a
  completed request of its own.

When the engine fails after a request was filed, the request stays verified and open,
in the DPO's queue.  Nothing here finds a request by anything but its random id
together with the phone's own pseudonym: an id of another phone is treated exactly
like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Table, select

from privateline.kernel.clock import Clock
from privateline.kernel.consent import ConsentState
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.requests import RequestKind, RequestState, RightsRequest
from privateline.services.devices.portal.forms import Ask, FieldOffer, Message, Offered
from privateline.services.devices.portal.labels import FIELD_UNAVAILABLE, N_
from privateline.services.devices.records import SUBJECT, Device, device_by_id
from privateline.services.devices.subject import device_subject
from privateline.services.privacy import choices, rectification
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.held import Subject
from privateline.services.privacy.rectification import RectificationError
from privateline.services.privacy.signals import gpc_activities
from privateline.services.privacy.transmission import Destination, Outcome, Transmitter
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.database import Database
from privateline.storage.declarations import store_of
from privateline.storage.rights_requests import RightsRequests, StoredRequest
from privateline.storage.subject_rights import ALL_ACTIVITIES, ObjectionState, SubjectRights, erasure_journal

log = structlog.get_logger("privateline.portal")

DOWNLOADABLE = frozenset({RequestKind.ACCESS, RequestKind.PORTABILITY})
# Who took a step, as the audit chain records it.
BY_SUBJECT = "subject"  # the owner, signed in with the phone's number and device password
BY_SYSTEM = "system"  # the portal answering at once
VIA = "device-portal"
VIA_GPC = "sec-gpc"  # the browser's Global Privacy Control signal (Art. 21(5))
# The audit entry of a package sent to another controller (Art. 20(2), R-6).
TRANSMITTED = "rights.portability_transmitted"


@dataclass(frozen=True)
class ErasureLine:
    store: str
    activity: str | None
    rows: int
    why: str | None = None


@dataclass(frozen=True)
class ErasureShown:
    """What one erasure did, as the engine reported it and the erasure journal keeps it."""

    erased: tuple[ErasureLine, ...]
    anonymised: tuple[ErasureLine, ...]
    kept: tuple[ErasureLine, ...]


@dataclass(frozen=True)
class RequestShown:
    id: str
    request: RightsRequest
    text: str | None  # what the owner wrote (rectification)
    erasure: ErasureShown | None
    fields: tuple[str, ...] = ()  # the fields a rectification corrects
    activities: tuple[str, ...] = ()  # what a restriction, objection or withdrawal is about
    lift: bool = False  # a restriction lifted
    via_gpc: bool = False  # an objection made by the browser's GPC signal
    destination: str | None = None  # portability: the host of the other provider it is sent to
    transmission: Outcome | None = None  # and what became of it (Art. 20(2), R-6)

    @property
    def downloadable(self) -> bool:
        return self.request.kind in DOWNLOADABLE and self.request.state is RequestState.COMPLETED


@dataclass(frozen=True)
class Objected:
    activity: str
    state: ObjectionState | None  # None: not objected to


@dataclass(frozen=True)
class Consented:
    activity: str
    consent: ConsentState


@dataclass(frozen=True)
class RightsOverview:
    device: Device
    requests: list[RequestShown]  # newest first
    fields: list[rectification.Field] = field(default_factory=list)
    restrictable: list[str] = field(default_factory=list)
    restricted: list[str] = field(default_factory=list)  # in force, asked for by the owner
    objectable: list[Objected] = field(default_factory=list)
    consents: list[Consented] = field(default_factory=list)

    def offered(self) -> Offered:
        """What a form of the rights page may ask for: nothing else is accepted."""
        return Offered(
            fields={f.name: FieldOffer(f.current, f.available) for f in self.fields},
            restrictable=frozenset(self.restrictable),
            restricted=frozenset(self.restricted),
            objectable=frozenset(o.activity for o in self.objectable if o.state is None),
            withdrawable=frozenset(c.activity for c in self.consents if c.consent.given),
        )


@dataclass(frozen=True)
class Filed:
    id: str
    kind: RequestKind
    carried_out: bool  # False when the engine failed and the request is left, verified, for the DPO
    done: str  # which message the page shows
    transmission: Outcome | None = None  # a portable copy sent to another provider (Art. 20(2))


class RefusedAskError(Exception):
    """Checked again when filing, the request cannot be carried out; nothing was filed."""

    def __init__(self, status: int, message: Message) -> None:
        super().__init__(message.text)
        self.status = status
        self.message = message


class SessionEndedError(Exception):
    """The signed-in phone is gone or out of service: the session ends."""


class DeviceRights:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        pseudonymizer: Pseudonymizer,
        tables: list[Table],
        engine: RightsEngine,
        transmitter: Transmitter | None = None,
    ) -> None:
        self.database = database
        self.transmitter = transmitter or Transmitter()
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.engine = engine
        self.tables = list(tables)
        self.activity_of = {t.name: d.activity for t in tables if (d := store_of(t)) is not None}

    def _subject(self, record: Device | None) -> Subject:
        if record is None or not record.in_service:
            raise SessionEndedError
        return device_subject(record, self.pseudonymizer)

    # Reading -------------------------------------------------------------------

    def overview(self, device_id: int) -> RightsOverview:
        register = self.engine.loaded.register
        now = self.clock.now()
        with self.database.reading() as c:
            record = device_by_id(c, device_id)
            subject = self._subject(record)
            assert record is not None
            stored = [r for r in RightsRequests(c).of_subject(subject.pseudonym) if r.subject_kind == SUBJECT]
            reports: dict[str, dict[str, Any]] = {}
            erasures = [r.id for r in stored if r.request.kind is RequestKind.ERASURE]
            if erasures:
                query = select(erasure_journal.c.request_id, erasure_journal.c.stores).where(
                    erasure_journal.c.subject == subject.pseudonym, erasure_journal.c.request_id.in_(erasures)
                )
                for row in c.execute(query):
                    reports[row.request_id] = dict(row.stores)
            sent: dict[str, Outcome] = {}
            if any(r.request.kind is RequestKind.PORTABILITY for r in stored):
                for entry in AuditLog(c).entries(subject.pseudonym):
                    if entry.kind == TRANSMITTED and isinstance(entry.detail.get("request"), str):
                        sent[entry.detail["request"]] = _outcome(entry.detail)
            rights = SubjectRights(c)
            restrictable = choices.restrictable(register, subject.kind)
            # Only what the owner asked for can be lifted here; a legal hold after an erasure cannot.
            own = {r.id for r in stored if r.request.kind is RequestKind.RESTRICTION}
            restricted = [
                r.activity
                for r in rights.restrictions(subject.pseudonym)
                if r.request_id in own and (r.activity in restrictable or r.activity == ALL_ACTIVITIES)
            ]
            objections = rights.objections(subject.pseudonym)
            ledger = ConsentLedger(c)
            consents = [
                Consented(a, ledger.current(subject.pseudonym, a, now))
                for a in choices.withdrawable(register, subject.kind)
            ]
            fields = rectification.fields_of(c, self.tables, subject)
        shown = [_shown(r, reports.get(r.id), self._erasure, sent.get(r.id)) for r in stored]
        shown.sort(key=lambda r: r.request.received_at, reverse=True)
        return RightsOverview(
            record,
            shown,
            fields=fields,
            restrictable=restrictable,
            restricted=restricted,
            objectable=[Objected(a, objections.get(a)) for a in choices.objectable(register, subject.kind)],
            consents=consents,
        )

    def _erasure(self, report: dict[str, Any]) -> ErasureShown:
        def lines(counts: object) -> tuple[ErasureLine, ...]:
            if not isinstance(counts, dict):
                return ()
            return tuple(ErasureLine(str(s), self.activity_of.get(str(s)), int(n)) for s, n in sorted(counts.items()))

        kept = report.get("kept")
        return ErasureShown(
            erased=lines(report.get("erased")),
            anonymised=lines(report.get("anonymised")),
            kept=tuple(
                ErasureLine(str(k["store"]), str(k["activity"]), int(k["rows"]), str(k["why"]))
                for k in (kept if isinstance(kept, list) else [])
            ),
        )

    # Filing --------------------------------------------------------------------

    def file(self, device_id: int, ask: Ask, lang: str = "en") -> Filed:
        """File the request of the signed-in phone and do at once what can be done at once."""
        now = self.clock.now()
        detail: dict[str, Any] = {"via": VIA}
        if ask.destination is not None:
            detail["destination"] = ask.destination.host  # the host only: a path or query may carry a token
        if ask.text is not None:
            detail["text"] = ask.text
        if ask.changes is not None:
            detail["fields"] = sorted(ask.changes)  # the names only: the values are in the stores
        if ask.activity is not None:
            detail["activity"] = ask.activity
        if ask.kind is RequestKind.RESTRICTION:
            detail["action"] = "lift" if ask.lift else "restrict"
        with self.database.unit_of_work() as uow:
            subject = self._subject(device_by_id(uow.connection, device_id))
            if ask.changes is not None:
                # Checked as the engine will check it, before anything is filed: an invalid
                # value is refused with its reason and leaves no trace.
                try:
                    rectification.plan(uow.connection, self.tables, subject, ask.changes, now)
                except RectificationError as exc:
                    raise _refused(exc) from None
            requests = RightsRequests(uow.connection)
            filed = requests.file(ask.kind, subject.kind, subject.pseudonym, now, detail)
            requests.transition(filed.id, _verify(now), now, by=BY_SUBJECT)
            if ask.kind in DOWNLOADABLE:
                # The package is made whenever it is downloaded: nothing is copied or kept for it.
                requests.transition(filed.id, _complete(now), now, by=BY_SYSTEM)
            uow.commit()
        if ask.destination is not None:
            outcome = self._transmit(device_id, filed.id, ask.destination, lang)
            done = "portability_sent" if outcome.delivered else "portability_not_sent"
            return Filed(filed.id, ask.kind, True, done, outcome)
        if ask.kind in DOWNLOADABLE:
            return Filed(filed.id, ask.kind, True, ask.kind.value)
        if ask.kind is RequestKind.RECTIFICATION and ask.changes is None:
            return Filed(filed.id, ask.kind, True, "rectification")  # for the DPO
        # The engine opens its own transactions: nothing of ours is held while it runs.
        try:
            done, complete = self._carry_out(subject, ask, filed.id)
        except Exception as exc:  # the request stays verified and open, in the DPO's queue
            log.error("a rights request from the portal failed", kind=ask.kind.value, error=type(exc).__name__)
            pending = "erasure_pending" if ask.kind is RequestKind.ERASURE else "request_pending"
            return Filed(filed.id, ask.kind, False, pending)
        if complete:
            finished = self.clock.now()
            with self.database.unit_of_work() as uow:
                RightsRequests(uow.connection).transition(filed.id, _complete(finished), finished, by=BY_SYSTEM)
                uow.commit()
        return Filed(filed.id, ask.kind, True, done)

    def _carry_out(self, subject: Subject, ask: Ask, request_id: str) -> tuple[str, bool]:
        """Let the engine do what was asked; the message to show and whether the request is done."""
        engine = self.engine
        if ask.kind is RequestKind.ERASURE:
            engine.erase(subject, request_id)
            return "erasure", True
        if ask.kind is RequestKind.RECTIFICATION:
            assert ask.changes is not None
            engine.rectify(subject, ask.changes, request_id)
            return "rectified", True
        assert ask.activity is not None
        if ask.kind is RequestKind.RESTRICTION:
            if ask.lift:
                engine.lift_restriction(subject, ask.activity, request_id)
                return "restriction_lifted", True
            engine.restrict(subject, ask.activity, request_id)
            return "restricted", True
        if ask.kind is RequestKind.OBJECTION:
            state = engine.object_to(subject, ask.activity, request_id)
            # On legitimate interests the processing has stopped; the DPO weighs the objection (Art. 21(1)).
            return ("objection_upheld", True) if state is ObjectionState.UPHELD else ("objection_pending", False)
        if ask.kind is RequestKind.CONSENT_WITHDRAWAL:
            engine.withdraw_consent(subject, ask.activity, request_id, method=VIA)
            return "consent_withdrawn", True
        raise AssertionError(f"no way to carry out {ask.kind.value}")

    def honour_gpc(self, device_id: int) -> str | None:
        """Record the GPC signal as the phone's objection to optional marketing and analytics (Art. 21(5)).

        Only what is not objected to yet: the signal comes with every request, the
        objection is recorded once.  The id of the completed request, or None.
        """
        register = self.engine.loaded.register
        covered = gpc_activities(register, SUBJECT)
        if not covered:
            return None
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            c = uow.connection
            subject = self._subject(device_by_id(c, device_id))
            standing = SubjectRights(c).objections(subject.pseudonym)
            missing = [a for a in covered if a not in standing]
            if not missing:
                return None
            requests = RightsRequests(c)
            filed = requests.file(
                RequestKind.OBJECTION, subject.kind, subject.pseudonym, now, {"via": VIA_GPC, "activities": missing}
            )
            requests.transition(filed.id, _verify(now), now, by=BY_SUBJECT)
            for activity in missing:
                choices.object_to(c, register, subject, activity, now, filed.id, choices.SOURCE_GPC)
            requests.transition(filed.id, _complete(now), now, by=BY_SYSTEM)
            uow.commit()
        return filed.id

    def _transmit(self, device_id: int, request_id: str, target: Destination, lang: str) -> Outcome:
        """Send the completed portability request's package to another controller (Art. 20(2), R-6).

        The very document of the download; sent once, outside any transaction, and its
        outcome recorded in the request's audit trail.  The download stays available either way.
        """
        document = self.package(device_id, request_id, lang)
        assert document is not None  # filed and completed just now, for this phone
        try:
            outcome = self.transmitter.send(target, document)
        except Exception as exc:  # the request stays completed and its download available
            log.error("a portable copy could not be sent", error=type(exc).__name__)
            outcome = Outcome(target.host, False, reason="internal error")
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            subject = self._subject(device_by_id(uow.connection, device_id))
            AuditLog(uow.connection).append(
                now, TRANSMITTED, subject.pseudonym, {"request": request_id, **outcome.as_detail()}
            )
            uow.commit()
        return outcome

    # The package of an access or portability request -----------------------------

    def package(self, device_id: int, request_id: str, lang: str) -> dict[str, Any] | None:
        """The package of a completed access or portability request of this phone; None for anything else."""
        with self.database.reading() as c:
            subject = self._subject(device_by_id(c, device_id))
        return self.engine.request_package(subject, request_id, lang, DOWNLOADABLE)


def _verify(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.verify_identity(now)


def _complete(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.complete(now)


def _refused(error: RectificationError) -> RefusedAskError:
    """The first problem of a rectification, as the owner is told it."""
    problem = error.problems[0]
    if problem.code == "unavailable":
        return RefusedAskError(
            409, Message(FIELD_UNAVAILABLE.get(problem.field, N_("This value cannot be corrected now.")))
        )
    # The portal's own checks (the original input's) come first; the engine's reason, in
    # English, is the last word for what only it knows.
    return RefusedAskError(422, Message(N_("This value cannot be stored: %(reason)s."), {"reason": problem.reason}))


def _outcome(detail: Mapping[str, Any]) -> Outcome:
    status = detail.get("status")
    reason = detail.get("reason")
    return Outcome(
        host=str(detail.get("host", "")),
        delivered=detail.get("delivered") is True,
        status=status if isinstance(status, int) else None,
        reason=reason if isinstance(reason, str) else None,
    )


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _shown(
    stored: StoredRequest,
    report: dict[str, Any] | None,
    erasure: Callable[[dict[str, Any]], ErasureShown],
    transmission: Outcome | None = None,
) -> RequestShown:
    detail: Mapping[str, Any] = stored.detail
    text = detail.get("text")
    activity = detail.get("activity")
    destination = detail.get("destination")
    return RequestShown(
        id=stored.id,
        request=stored.request,
        text=text if isinstance(text, str) else None,
        erasure=erasure(report) if report is not None else None,
        fields=_strings(detail.get("fields")),
        activities=(str(activity),) if isinstance(activity, str) else _strings(detail.get("activities")),
        lift=detail.get("action") == "lift",
        via_gpc=detail.get("via") == VIA_GPC,
        destination=destination if isinstance(destination, str) else None,
        transmission=transmission,
    )
