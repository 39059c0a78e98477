"""The rights of a person who proved, by a link sent to it, that they hold an address (R-2, R-4, R-8, R-9, R-13).

Opening the link is how they proved who they are, so every request filed in the
session it starts is marked identity verified at once, by the subject's own channel,
and every step is written to the audit chain by the request store:

* access (Art. 15, with a copy as JSON, Art. 20) is answered at once: the request is
  completed, and its package (everything held, with what Art. 15(1) asks to be told) is
  made by the rights engine when it is downloaded, only in a session of the same address;
* erasure (Art. 17) is carried out at once by the engine, then completed; what is kept,
  and why, stays in the erasure journal and is shown from there;
* "stop all marketing" files an objection (Art. 21(2)-(3)) for the marketing activities
  the register opens to objection, and a consent withdrawal (Art. 7(3)) for those that
  rest on consent (the newsletter and its measurement), each carried out at once.

When the engine fails after a request was filed, the request stays verified and open,
in the DPO's queue.  A request is found only by its random id together with the
session's own pseudonym: another address's id is treated like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select

from privateline.kernel.clock import Clock
from privateline.kernel.requests import RequestKind, RightsRequest
from privateline.register.model import Activity, Register
from privateline.services.privacy import choices
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.held import HeldStore, Subject
from privateline.services.privacy.signals import optional_marketing_or_analytics
from privateline.storage.database import Database
from privateline.storage.rights_requests import RightsRequests, StoredRequest
from privateline.storage.subject_rights import erasure_journal

log = structlog.get_logger("privateline.email_link")

VIA = "email-link"
BY_SUBJECT = "subject"  # the person, who proved with the link that they read the address's mail
BY_SYSTEM = "system"  # this channel answering at once
DOWNLOADABLE = frozenset({RequestKind.ACCESS})
# Parts of the register whose data about a person exists only because of their rights
# requests (the requests, their audit trail): shown apart from the services' data.
RECORD_PARTS = frozenset({"privacy"})


def is_marketing(activity: Activity) -> bool:
    """Direct marketing, or the measuring of it (the newsletter's tracking)."""
    return (
        activity.direct_marketing
        or optional_marketing_or_analytics(activity)
        or any(c.startswith("user.newsletter.") for c in activity.categories)
    )


def marketing_of(register: Register, subject_kind: str) -> tuple[list[str], list[str]]:
    """The marketing activities about `subject_kind`: those open to objection, and those resting on consent."""
    marketing = [aid for aid, a in register.activities.items() if subject_kind in a.subjects and is_marketing(a)]
    objectable = set(choices.objectable(register, subject_kind))
    withdrawable = set(choices.withdrawable(register, subject_kind))
    consented = [a for a in marketing if a in withdrawable and a not in objectable]
    return [a for a in marketing if a in objectable], consented


@dataclass(frozen=True)
class Overview:
    services: list[HeldStore]  # what the operator's services hold about the address
    records: list[HeldStore]  # the records of the person's requests, kept by law
    requests: list[StoredRequest]  # newest first
    erasures: dict[str, dict[str, Any]]  # request id -> what its erasure did
    marketing: list[str]  # the activities "stop all marketing" covers


@dataclass(frozen=True)
class Filed:
    id: str
    kind: RequestKind
    carried_out: bool  # False when the engine failed and the request waits, verified, for the DPO


class RecipientRights:
    def __init__(self, database: Database, clock: Clock, engine: RightsEngine) -> None:
        self.database = database
        self.clock = clock
        self.engine = engine

    @property
    def register(self) -> Register:
        return self.engine.loaded.register

    def overview(self, subject: Subject) -> Overview:
        # Only stores with rows: a store that holds nothing about the address is not "held".
        held = [s for s in self.engine.held(subject) if s.rows]
        activities = self.register.activities

        def is_record(store: HeldStore) -> bool:
            return store.activity in activities and activities[store.activity].part in RECORD_PARTS

        records = [s for s in held if is_record(s)]
        services = [s for s in held if not is_record(s)]
        with self.database.reading() as c:
            stored = [r for r in RightsRequests(c).of_subject(subject.pseudonym) if r.subject_kind == subject.kind]
            erasures: dict[str, dict[str, Any]] = {}
            ids = [r.id for r in stored if r.request.kind is RequestKind.ERASURE]
            if ids:
                query = select(erasure_journal.c.request_id, erasure_journal.c.stores).where(
                    erasure_journal.c.subject == subject.pseudonym, erasure_journal.c.request_id.in_(ids)
                )
                erasures = {row.request_id: dict(row.stores) for row in c.execute(query)}
        stored.sort(key=lambda r: r.request.received_at, reverse=True)
        objected, withdrawn = marketing_of(self.register, subject.kind)
        return Overview(services, records, stored, erasures, [*objected, *withdrawn])

    # Filing --------------------------------------------------------------------

    def _file(self, subject: Subject, kind: RequestKind, detail: dict[str, Any], *, complete: bool) -> str:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            requests = RightsRequests(uow.connection)
            filed = requests.file(kind, subject.kind, subject.pseudonym, now, {"via": VIA, **detail})
            requests.transition(filed.id, _verify(now), now, by=BY_SUBJECT)
            if complete:
                requests.transition(filed.id, _complete(now), now, by=BY_SYSTEM)
            uow.commit()
        return filed.id

    def _completed(self, request_id: str) -> None:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            RightsRequests(uow.connection).transition(request_id, _complete(now), now, by=BY_SYSTEM)
            uow.commit()

    def access(self, subject: Subject) -> Filed:
        """An access request, answered at once: its package is made whenever it is downloaded (R-2)."""
        return Filed(self._file(subject, RequestKind.ACCESS, {}, complete=True), RequestKind.ACCESS, True)

    def erase(self, subject: Subject) -> Filed:
        """Erase what is held about the address, at once (R-4)."""
        request_id = self._file(subject, RequestKind.ERASURE, {}, complete=False)
        # The engine opens its own transactions: nothing of ours is held while it runs.
        try:
            self.engine.erase(subject, request_id)
        except Exception as exc:  # the request stays verified and open, in the DPO's queue
            log.error("an erasure from the e-mail channel failed", error=type(exc).__name__)
            return Filed(request_id, RequestKind.ERASURE, False)
        self._completed(request_id)
        return Filed(request_id, RequestKind.ERASURE, True)

    def stop_marketing(self, subject: Subject) -> list[Filed]:
        """Object to, or withdraw consent from, every marketing use of the address (R-8, R-9)."""
        objected, withdrawn = marketing_of(self.register, subject.kind)
        filed: list[Filed] = []
        for kind, activities in ((RequestKind.OBJECTION, objected), (RequestKind.CONSENT_WITHDRAWAL, withdrawn)):
            if not activities:
                continue
            request_id = self._file(subject, kind, {"activities": activities}, complete=False)
            try:
                for activity in activities:
                    if kind is RequestKind.OBJECTION:
                        # Direct marketing: upheld at once and unconditionally (Art. 21(3)).
                        self.engine.object_to(subject, activity, request_id)
                    else:
                        self.engine.withdraw_consent(subject, activity, request_id, method=VIA)
            except Exception as exc:
                log.error("a marketing stop from the e-mail channel failed", kind=kind.value, error=type(exc).__name__)
                filed.append(Filed(request_id, kind, False))
                continue
            self._completed(request_id)
            filed.append(Filed(request_id, kind, True))
        return filed

    # The package of an access request ----------------------------------------------

    def package(self, subject: Subject, request_id: str, lang: str) -> dict[str, Any] | None:
        """The package of a completed access request of this address; None for anything else."""
        return self.engine.request_package(subject, request_id, lang, DOWNLOADABLE)


def _verify(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.verify_identity(now)


def _complete(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.complete(now)
