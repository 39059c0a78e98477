"""Recipients learn of every rectification, erasure or restriction (GDPR Art. 19, promise R-5).

Two halves, joined by the durable outbox (`storage.recipient_outbox`):

* `notify_recipients` is called by the code that makes the change, with the change's
  own connection: it queues one notice per distinct recipient of the activities whose
  data changed, as the register names them.  The notice commits, or rolls back, with
  the change (outbox pattern), so no recipient is told of a change that did not
  happen and no committed change goes untold.
* `RecipientDelivery` sends due notices as signed JSON webhooks (docs/RECIPIENTS.md)
  to the endpoints the operator configured, retries with exponential backoff, and
  gives up after a bounded number of attempts, leaving the notice `failed` for the
  DPO.  A recipient without an endpoint is not forgotten: its notices wait, marked
  "to be informed by hand", on the DPO's list.

`recipients_of` answers the second half of Art. 19: the subject can learn who the
recipients are (name, role, country, transfer safeguard).

Subjects are named to recipients only by their keyed pseudonym (Art. 4(5), 25(1)):
never a name, number or address, and nothing personal is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import Connection, Table

from privateline.kernel.clock import Clock
from privateline.register.model import Localized, RecipientRole, Register, TransferSafeguard
from privateline.services.privacy.held import Subject, jsonable
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.declarations import store_of
from privateline.storage.recipient_outbox import NoticeState, RecipientOutbox, StoredNotice

log = structlog.get_logger("privateline.recipients")

API_VERSION = "1.0"  # the OpenDSR request shape this notice follows where it fits
NOTICE_FORMAT = "privateline.recipient-notice/1"
TIMESTAMP_HEADER = "X-Privateline-Timestamp"
SIGNATURE_HEADER = "X-Privateline-Signature"
NOTICE_HEADER = "X-Privateline-Notice"
SIGNATURE_SCHEME = "v1"
# How the subject is named: our keyed pseudonym, which is also the reference any
# disclosure to a recipient carries, so the recipient can find the data it received.
IDENTITY_TYPE = "controller_pseudonym"
IDENTITY_FORMAT = "hmac-sha256"
USER_AGENT = "privateline-recipient-notices/1"

# Retries: 1, 2, 4 ... minutes, never more than 6 hours apart; 12 attempts span about
# 26 hours, long enough to ride out a recipient's maintenance window, short enough
# that the DPO hears of a dead endpoint the next day.
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
TIMEOUT_SECONDS = 10.0
BATCH = 100
# A recipient should refuse a notice whose timestamp is further than this from its own clock.
REPLAY_TOLERANCE = timedelta(minutes=5)


class Change(StrEnum):
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17(1)
    RESTRICTION = "restriction"  # Art. 18


class RecipientError(Exception):
    """A recipient endpoint cannot be used as configured."""


# Who the recipients are (Art. 19, second sentence) ----------------------------------


@dataclass(frozen=True)
class RecipientInfo:
    id: str
    name: str
    description: Localized
    role: RecipientRole
    country: str
    safeguard: TransferSafeguard
    third_country: bool
    activities: tuple[str, ...]  # of the activities asked about, those it receives data from

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description.get(lang),
            "role": self.role.value,
            "country": self.country,
            "safeguard": self.safeguard.value,
            "third_country": self.third_country,
            "activities": list(self.activities),
        }


def _by_recipient(register: Register, activities: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for aid in sorted(set(activities)):
        activity = register.activities.get(aid)
        if activity is None:
            # A switched-off part: the loaded register no longer names its recipients.
            log.warning("activity not in the loaded register; its recipients cannot be named", activity=aid)
            continue
        for rid in activity.recipients:
            found.setdefault(rid, []).append(aid)
    return found


def recipients_of(register: Register, activities: Iterable[str]) -> list[RecipientInfo]:
    """The distinct recipients of the given activities, as the register describes them."""
    out: list[RecipientInfo] = []
    for rid, aids in _by_recipient(register, activities).items():
        r = register.recipients[rid]
        out.append(
            RecipientInfo(
                id=rid,
                name=r.name,
                description=r.description,
                role=r.role,
                country=r.country,
                safeguard=r.safeguard,
                third_country=r.third_country,
                activities=tuple(aids),
            )
        )
    return out


def activities_of_stores(tables: Iterable[Table], stores: Iterable[str]) -> list[str]:
    """The activities the named stores serve (e.g. the stores an erasure emptied)."""
    names = set(stores)
    found = {d.activity for t in tables if t.name in names and (d := store_of(t)) is not None}
    return sorted(found)


# Queueing, inside the change's unit of work --------------------------------------------


def notify_recipients(
    connection: Connection,
    register: Register,
    subject: Subject,
    change: Change,
    activities: Iterable[str],
    now: datetime,
    request_id: str | None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Queue one notice per distinct recipient of `activities`; the number queued.

    Call it with the connection of the change itself, before its commit: the notices
    are then part of the same transaction (Art. 19 outbox).  Each recipient is told
    only of the activities it receives data from, not of the subject's other data.
    """
    stored_detail = {str(k): jsonable(v) for k, v in (detail or {}).items()}
    outbox = RecipientOutbox(connection)
    queued: dict[str, str] = {}
    for rid, aids in _by_recipient(register, activities).items():
        queued[rid] = outbox.add(
            rid, subject.kind, subject.pseudonym, change.value, aids, now, request_id, stored_detail
        )
    if queued:
        AuditLog(connection).append(
            now,
            "rights.recipients_queued",
            subject.pseudonym,
            {"request": request_id, "change": change.value, "recipients": sorted(queued)},
        )
    return len(queued)


# What the subject (and the DPO) is shown --------------------------------------------------


class Informed(StrEnum):
    """A notice as the subject is told about it."""

    INFORMED = "informed"  # delivered, or the DPO informed the recipient by hand
    UNDER_WAY = "under_way"  # queued or being retried
    BY_HAND = "to_be_informed_by_hand"  # no endpoint, or the automatic delivery gave up


_INFORMED = {
    NoticeState.DELIVERED: Informed.INFORMED,
    NoticeState.INFORMED_BY_HAND: Informed.INFORMED,
    NoticeState.PENDING: Informed.UNDER_WAY,
    NoticeState.BY_HAND: Informed.BY_HAND,
    NoticeState.FAILED: Informed.BY_HAND,
}


@dataclass(frozen=True)
class NoticeView:
    recipient: RecipientInfo | None  # None when the register no longer names the recipient
    recipient_id: str
    change: str
    activities: tuple[str, ...]
    queued_at: datetime
    informed: Informed
    informed_at: datetime | None


def notices_of(connection: Connection, register: Register, subject: Subject) -> list[NoticeView]:
    """Every notice about the subject, with who the recipient is and whether it was informed."""
    out: list[NoticeView] = []
    for n in RecipientOutbox(connection).of_subject(subject.pseudonym):
        info = next((r for r in recipients_of(register, n.activities) if r.id == n.recipient), None)
        out.append(NoticeView(info, n.recipient, n.change, n.activities, n.created_at, _INFORMED[n.state], n.closed_at))
    return out


def settle_by_hand(connection: Connection, notice_id: str, now: datetime, by: str) -> bool:
    """The DPO informed the recipient another way; True if the notice was open."""
    outbox = RecipientOutbox(connection)
    notice = outbox.get(notice_id)
    if notice is None or not outbox.settle_by_hand(notice_id, now):
        return False
    AuditLog(connection).append(
        now,
        "rights.recipient_informed_by_hand",
        notice.subject,
        {"notice": notice_id, "recipient": notice.recipient, "change": notice.change, "by": by},
    )
    return True


# The webhook ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where and how a recipient receives notices (from the `recipient_endpoints` setting)."""

    url: str
    secret: bytes = field(repr=False)
    # A CA bundle to trust for this endpoint instead of the public ones (a private CA).
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        try:
            parsed = httpx.URL(self.url)
        except httpx.InvalidURL:
            raise RecipientError("a recipient endpoint must be a valid https:// URL") from None
        if parsed.scheme != "https" or not parsed.host:
            raise RecipientError("a recipient endpoint must be an https:// URL")
        if not self.secret:
            raise RecipientError("a recipient endpoint needs a signing secret")

    def verify(self) -> ssl.SSLContext | bool:
        if self.ca_file is None:
            return True
        try:
            return ssl.create_default_context(cafile=str(self.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise RecipientError(f"the CA file {self.ca_file} cannot be used: {type(exc).__name__}") from None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def notice_document(notice: StoredNotice, register: Register) -> dict[str, Any]:
    """The JSON body of a notice (docs/RECIPIENTS.md)."""
    return {
        "api_version": API_VERSION,
        "format": NOTICE_FORMAT,
        "notice_id": notice.id,
        "subject_request_id": notice.request_id or notice.id,
        "subject_request_type": notice.change,
        "submitted_time": _rfc3339(notice.created_at),
        "subject_identities": [
            {"identity_type": IDENTITY_TYPE, "identity_format": IDENTITY_FORMAT, "identity_value": notice.subject}
        ],
        "subject_kind": notice.subject_kind,
        "controller": register.controller.name,
        "recipient": notice.recipient,
        "activities": [
            {"id": aid, "name": a.name.en if (a := register.activities.get(aid)) is not None else aid}
            for aid in notice.activities
        ],
        "detail": notice.detail,
        "legal_basis": "Art. 19 GDPR",
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`v1=` HMAC-SHA256 over "<timestamp>." followed by the body, in hex."""
    mac = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={mac}"


def valid_signature(
    secret: bytes, timestamp: str, signed: str, body: bytes, now: datetime, tolerance: timedelta = REPLAY_TOLERANCE
) -> bool:
    """What a recipient checks: the signature matches and the timestamp is fresh (no replay)."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - moment) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(signature(secret, moment, body), signed)


# The delivery worker --------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    by_hand: int = 0  # newly put on the DPO's list for want of an endpoint
    resumed: int = 0  # waiting by hand, now sent because an endpoint was configured


@dataclass
class RecipientDelivery:
    """Sends due notices; a new object over the same database carries on where one stopped."""

    database: Database
    register: Register
    endpoints: Mapping[str, Endpoint]
    clock: Clock
    max_attempts: int = MAX_ATTEMPTS
    first_retry: timedelta = FIRST_RETRY
    longest_wait: timedelta = LONGEST_WAIT
    timeout_seconds: float = TIMEOUT_SECONDS
    batch: int = BATCH

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: doubling, capped."""
        wait: timedelta = self.first_retry * 2 ** max(attempts - 1, 0)
        return min(wait, self.longest_wait)

    @property
    def _lease(self) -> timedelta:
        # Long enough for one request to finish (connect, write, read), so no second
        # worker sends the notice while the first still waits for an answer.
        return timedelta(seconds=4 * self.timeout_seconds) + self.first_retry

    def run(self) -> DeliveryReport:
        report = DeliveryReport()
        with self.database.unit_of_work() as uow:
            report.by_hand, report.resumed = RecipientOutbox(uow.connection).sort_by_endpoint(set(self.endpoints))
            uow.commit()
        if report.by_hand:
            log.warning("recipient notices to be informed by hand (no endpoint configured)", count=report.by_hand)
        with self.database.reading() as connection:
            due = RecipientOutbox(connection).due(self.clock.now(), set(self.endpoints), self.batch)
        clients: dict[str, httpx.Client] = {}
        try:
            for notice in due:
                self._deliver(notice, clients, report)
        finally:
            for client in clients.values():
                client.close()
        return report

    def _client(self, recipient: str, clients: dict[str, httpx.Client]) -> httpx.Client:
        if recipient not in clients:
            clients[recipient] = httpx.Client(
                timeout=httpx.Timeout(self.timeout_seconds),
                follow_redirects=False,  # a redirect is not a delivery; the URL is configured
                verify=self.endpoints[recipient].verify(),
                headers={"User-Agent": USER_AGENT},
            )
        return clients[recipient]

    def _deliver(self, notice: StoredNotice, clients: dict[str, httpx.Client], report: DeliveryReport) -> None:
        if notice.attempts >= self.max_attempts:
            # The last attempt was claimed but never recorded (the process stopped).
            with self.database.unit_of_work() as uow:
                self._give_up(uow.connection, notice, notice.attempts, "the last attempt was interrupted")
                uow.commit()
            report.failed += 1
            return
        with self.database.unit_of_work() as uow:
            claimed = RecipientOutbox(uow.connection).claim(notice.id, notice.attempts, self.clock.now() + self._lease)
            uow.commit()
        if not claimed:
            return  # another worker has it
        attempt = notice.attempts + 1
        error = self._post(notice, clients)
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            outbox = RecipientOutbox(uow.connection)
            if error is None:
                outbox.delivered(notice.id, now)
                AuditLog(uow.connection).append(
                    now,
                    "rights.recipient_informed",
                    notice.subject,
                    {"notice": notice.id, "recipient": notice.recipient, "change": notice.change, "attempts": attempt},
                )
                report.delivered += 1
            elif attempt >= self.max_attempts:
                self._give_up(uow.connection, notice, attempt, error)
                report.failed += 1
            else:
                wait = self.backoff(attempt)
                outbox.retry_at(notice.id, now + wait, error)
                report.retried += 1
            uow.commit()
        if error is None:
            log.info("recipient notice delivered", notice=notice.id, recipient=notice.recipient, attempt=attempt)
        elif attempt < self.max_attempts:
            log.warning(
                "recipient notice not delivered, will retry",
                notice=notice.id,
                recipient=notice.recipient,
                attempt=attempt,
                error=error,
                retry_in_seconds=int(self.backoff(attempt).total_seconds()),
            )

    def _give_up(self, connection: Connection, notice: StoredNotice, attempts: int, error: str) -> None:
        RecipientOutbox(connection).give_up(notice.id, error)
        AuditLog(connection).append(
            self.clock.now(),
            "rights.recipient_notice_failed",
            notice.subject,
            {"notice": notice.id, "recipient": notice.recipient, "attempts": attempts, "error": error},
        )
        log.error(
            "recipient notice given up; the DPO must inform the recipient",
            notice=notice.id,
            recipient=notice.recipient,
            attempts=attempts,
            error=error,
        )

    def _post(self, notice: StoredNotice, clients: dict[str, httpx.Client]) -> str | None:
        """Send one notice; None when the recipient took it (2xx), else what went wrong.

        The error names only the kind of failure, never the URL (it may carry a token)
        or the answer's body.
        """
        endpoint = self.endpoints[notice.recipient]
        body = encode(notice_document(notice, self.register))
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body),
            NOTICE_HEADER: notice.id,
        }
        try:
            response = self._client(notice.recipient, clients).post(endpoint.url, content=body, headers=headers)
        except RecipientError as exc:
            return str(exc)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"transport error ({type(exc).__name__})"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
