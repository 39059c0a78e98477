"""The data subject's rights of the signed-in phone's owner (R-2, R-4, R-6, R-13).

Signing in to the portal with the phone's number and device password is how a device
owner proves who they are; every request filed here is therefore marked identity
verified at once, by the subject's own channel.  Then:

* access and portability are answered at once: the request is completed and its
  package (everything held, with what Art. 15(1) asks to be told) is made when it is
  downloaded, only for this same phone;
* erasure is carried out at once by the rights engine, outside any transaction held
  here (the engine writes its journal line first and opens its own), then completed;
  the engine's report stays in the erasure journal and is shown from there;
* rectification is filed with the owner's text and left for the DPO.

Nothing here finds a request by anything but its random id together with the phone's
own pseudonym: an id of another phone is treated exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Table, select

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.requests import RequestKind, RequestState, RightsRequest
from privateline.services.devices.records import SUBJECT, Device, device_by_id
from privateline.services.devices.subject import device_subject
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.held import Subject
from privateline.storage.database import Database
from privateline.storage.declarations import store_of
from privateline.storage.rights_requests import RightsRequests, StoredRequest
from privateline.storage.subject_rights import erasure_journal

log = structlog.get_logger("privateline.portal")

DOWNLOADABLE = frozenset({RequestKind.ACCESS, RequestKind.PORTABILITY})
# Who took a step, as the audit chain records it.
BY_SUBJECT = "subject"  # the owner, signed in with the phone's number and device password
BY_SYSTEM = "system"  # the portal answering at once
VIA = "device-portal"


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

    @property
    def downloadable(self) -> bool:
        return self.request.kind in DOWNLOADABLE and self.request.state is RequestState.COMPLETED


@dataclass(frozen=True)
class RightsOverview:
    device: Device
    requests: list[RequestShown]  # newest first


@dataclass(frozen=True)
class Filed:
    id: str
    kind: RequestKind
    carried_out: bool  # False when an erasure failed and is left, verified, for the DPO


class SessionEndedError(Exception):
    """The signed-in phone is gone or out of service: the session ends."""


class DeviceRights:
    def __init__(
        self, database: Database, clock: Clock, pseudonymizer: Pseudonymizer, tables: list[Table], engine: RightsEngine
    ) -> None:
        self.database = database
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.engine = engine
        self.activity_of = {t.name: d.activity for t in tables if (d := store_of(t)) is not None}

    def _subject(self, record: Device | None) -> Subject:
        if record is None or not record.in_service:
            raise SessionEndedError
        return device_subject(record, self.pseudonymizer)

    # Reading -------------------------------------------------------------------

    def overview(self, device_id: int) -> RightsOverview:
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
        shown = [
            RequestShown(
                id=r.id,
                request=r.request,
                text=r.detail.get("text") if isinstance(r.detail.get("text"), str) else None,
                erasure=self._erasure(reports[r.id]) if r.id in reports else None,
            )
            for r in stored
        ]
        shown.sort(key=lambda r: r.request.received_at, reverse=True)
        return RightsOverview(record, shown)

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

    def file(self, device_id: int, kind: RequestKind, text: str | None) -> Filed:
        """File the request of the signed-in phone and do at once what can be done at once."""
        now = self.clock.now()
        detail: dict[str, Any] = {"via": VIA}
        if text is not None:
            detail["text"] = text
        with self.database.unit_of_work() as uow:
            subject = self._subject(device_by_id(uow.connection, device_id))
            requests = RightsRequests(uow.connection)
            filed = requests.file(kind, subject.kind, subject.pseudonym, now, detail)
            requests.transition(filed.id, _verify(now), now, by=BY_SUBJECT)
            if kind in DOWNLOADABLE:
                # The package is made whenever it is downloaded: nothing is copied or kept for it.
                requests.transition(filed.id, _complete(now), now, by=BY_SYSTEM)
            uow.commit()
        if kind is RequestKind.ERASURE:
            # The engine opens its own transactions: nothing of ours is held while it runs.
            try:
                self.engine.erase(subject, filed.id)
            except Exception as exc:  # the request stays verified and open, in the DPO's queue
                log.error("erasure from the portal failed", error=type(exc).__name__)
                return Filed(filed.id, kind, carried_out=False)
            done = self.clock.now()
            with self.database.unit_of_work() as uow:
                RightsRequests(uow.connection).transition(filed.id, _complete(done), done, by=BY_SYSTEM)
                uow.commit()
        return Filed(filed.id, kind, carried_out=True)

    # The package of an access or portability request -----------------------------

    def package(self, device_id: int, request_id: str, lang: str) -> dict[str, Any] | None:
        """The package of a completed access or portability request of this phone; None for anything else."""
        with self.database.reading() as c:
            subject = self._subject(device_by_id(c, device_id))
            stored = RightsRequests(c).get(request_id)
        if not _answerable(stored, subject):
            return None
        assert stored is not None
        document = self.engine.access_package(subject, lang, request_id)
        return {
            "request": {
                "id": stored.id,
                "kind": stored.request.kind.value,
                "received_at": stored.request.received_at.isoformat(),
                "completed_at": None if stored.request.closed_at is None else stored.request.closed_at.isoformat(),
            },
            **document,
        }


def _answerable(stored: StoredRequest | None, subject: Subject) -> bool:
    return (
        stored is not None
        and stored.subject_kind == subject.kind
        and stored.subject == subject.pseudonym
        and stored.request.kind in DOWNLOADABLE
        and stored.request.state is RequestState.COMPLETED
    )


def _verify(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.verify_identity(now)


def _complete(now: datetime) -> Callable[[RightsRequest], RightsRequest]:
    return lambda r: r.complete(now)
