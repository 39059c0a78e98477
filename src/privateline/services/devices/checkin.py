"""The daily check-in: `POST /device/v1/checkin` (DEV-1, DEV-2, DEV-8, DEV-9).

A phone authenticates with its number and device password (HTTP Basic, RFC 7617;
production runs behind TLS) and reports its serial, MAC, private address and port,
internal address, name, product and software version.  The report is checked against
the factory record (DEV-2) and **replaces** the previous one (DEV-1); the internal
address and software version go to the factory record (DEV-11), the public address of
the connection only as a keyed fingerprint for the configuration helper (DEV-8).  The
answer tells the phone which of its services are on and which update is offered (DEV-9).

Every phone calls this once a day, so it is built for throughput: requests are handed
to one writer thread that takes whatever has queued up and handles it in a single
transaction (group commit), and each request is answered only after that transaction
committed, so an answered report is a stored report.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, bindparam, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.ratelimit import FailureLimit
from privateline.services.devices import identifiers
from privateline.services.devices.credentials import matches_ha1
from privateline.services.devices.records import Device, device
from privateline.services.devices.reports import Report, device_report, public_network_fingerprint, report_row
from privateline.services.devices.updates import Firmware, Offer, newest_firmware, offer_for
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.storage.database import Database
from privateline.storage.upsert import upsert

log = structlog.get_logger("privateline.checkin")

MAX_BODY = 4096
BATCH = 512
NEXT_CHECKIN = timedelta(days=1)
_Text = Annotated[str, Field(min_length=1, max_length=64)]


class CheckinReport(BaseModel):
    """What a phone reports (DEV-1, DEV-8); nothing else is accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    serial: _Text
    mac: str = Field(max_length=32)
    private_ip: str = Field(max_length=45)
    private_port: int = Field(ge=1, le=65535)
    internal_ip: str = Field(max_length=45)
    device_name: _Text
    product: _Text
    software_version: _Text

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str) -> str:
        return identifiers.normalise_mac(value)

    @field_validator("private_ip", "internal_ip")
    @classmethod
    def _private(cls, value: str) -> str:
        return identifiers.private_address(value)

    @field_validator("device_name", "product", "software_version", "serial")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("control characters are not allowed")
        return value


@dataclass(frozen=True)
class Accepted:
    services: dict[str, bool]
    offer: Offer | None


@dataclass(frozen=True)
class Refused:
    status: int
    reason: str
    credentials_wrong: bool = False


Outcome = Accepted | Refused


@dataclass
class _Job:
    number: str
    password: str
    report: CheckinReport
    public_network: str
    deliver: Callable[[Outcome], None]


def _refusal_for(record: Device | None, job: _Job, realm: str) -> Refused | None:
    if record is None or not matches_ha1(record.sip_ha1_sha256, job.number, realm, job.password):
        return Refused(401, "number or device password is wrong", credentials_wrong=True)
    if not record.in_service:
        return Refused(403, "this device has been taken out of service")
    report = job.report
    if report.serial != record.serial:
        return Refused(409, "the serial number does not match this device's factory record")
    if report.mac != record.mac:
        return Refused(409, "the MAC address does not match this device's factory record")
    if report.product != record.product:
        return Refused(409, "the product does not match this device's factory record")
    return None


def process_batch(connection: Connection, jobs: list[_Job], now: datetime, realm: str) -> list[Outcome]:
    """Check and store a batch of reports in one transaction; one outcome per job, in order."""
    numbers = {job.number for job in jobs}
    records = {
        row.number: Device(**row._mapping)
        for row in connection.execute(select(device).where(device.c.number.in_(numbers)))
    }
    outcomes: list[Outcome] = []
    # The last report of a device within a batch wins, as it would one after the other.
    reports: dict[int, dict[str, Any]] = {}
    factory: dict[int, dict[str, Any]] = {}
    firmware: dict[str, Firmware | None] = {}
    accepted: list[tuple[int, Device, CheckinReport]] = []
    for index, job in enumerate(jobs):
        record = records.get(job.number)
        refusal = _refusal_for(record, job, realm)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        assert record is not None
        r = job.report
        reports[record.id] = report_row(
            Report(
                device_id=record.id,
                reported_at=now,
                private_ip=r.private_ip,
                private_port=r.private_port,
                public_network=job.public_network,
                device_name=r.device_name,
                software_version=r.software_version,
            )
        )
        factory[record.id] = {"b_id": record.id, "internal_ip": r.internal_ip, "software_version": r.software_version}
        accepted.append((index, record, r))
        outcomes.append(Refused(500, "pending"))  # replaced below
    upsert(connection, device_report, list(reports.values()), key=["device_id"])
    if factory:
        connection.execute(
            update(device)
            .where(device.c.id == bindparam("b_id"))
            .values(internal_ip=bindparam("internal_ip"), software_version=bindparam("software_version")),
            list(factory.values()),
        )
    for index, record, r in accepted:
        if record.product not in firmware:
            firmware[record.product] = newest_firmware(connection, record.product)
        offer = offer_for(connection, record.id, r.software_version, firmware[record.product])
        outcomes[index] = Accepted(record.services(), offer)
    return outcomes


class CheckinDesk:
    """One writer thread that stores queued check-ins in batches (group commit)."""

    def __init__(self, database: Database, clock: Clock, realm: str) -> None:
        self._database = database
        self._clock = clock
        self._realm = realm
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="checkin-desk", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def submit(self, job: _Job) -> None:
        if self._thread is None:
            self.start()
        self._queue.put(job)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs = [first]
            while len(jobs) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
            self._handle(jobs)

    def _handle(self, jobs: list[_Job]) -> None:
        try:
            with self._database.unit_of_work() as uow:
                outcomes = process_batch(uow.connection, jobs, self._clock.now(), self._realm)
                uow.commit()
        except Exception as exc:  # the database failed: every phone in the batch is told to retry
            log.error("check-in batch failed", error=type(exc).__name__, size=len(jobs))
            outcomes = [Refused(503, "the service is busy; try again later")] * len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.deliver(outcome)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    number, sep, password = decoded.partition(":")
    return (number, password) if sep else None


def refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


CHALLENGE = {"WWW-Authenticate": 'Basic realm="privateline devices", charset="UTF-8"'}


class CheckinEndpoint:
    """The ASGI handler of `POST /device/v1/checkin` (a plain Starlette endpoint, for speed)."""

    def __init__(
        self,
        desk: CheckinDesk,
        clock: Clock,
        pseudonymizer: Pseudonymizer,
        proxies: TrustedProxies,
        failures_per_source: FailureLimit,
        failures_per_number: FailureLimit,
    ) -> None:
        self.desk = desk
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.proxies = proxies
        self.per_source = failures_per_source
        self.per_number = failures_per_number

    async def __call__(self, request: Request) -> Response:
        peer = request.client.host if request.client else None
        source = client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies) or "unknown"
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            return refuse(401, "sign in with the device's number and password (HTTP Basic)", CHALLENGE)
        number, password = credentials
        now = self.clock.now()
        wait = self.per_source.blocked_for(source, now) or self.per_number.blocked_for(number, now)
        if wait is not None:
            seconds = max(1, int(wait.total_seconds()) + 1)
            return refuse(429, "too many failed sign-ins; try again later", {"Retry-After": str(seconds)})
        body = await request.body()
        if len(body) > MAX_BODY:
            return refuse(413, f"a report has at most {MAX_BODY} bytes")
        try:
            report = CheckinReport.model_validate_json(body)
        except ValidationError as exc:
            return refuse(422, describe_validation(exc))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()

        def deliver(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(_settle, future, outcome)

        self.desk.submit(
            _Job(number, password, report, public_network_fingerprint(self.pseudonymizer, source), deliver)
        )
        outcome = await future
        if isinstance(outcome, Refused):
            if outcome.credentials_wrong:
                self.per_source.fail(source, now)
                self.per_number.fail(number, now)
                return refuse(outcome.status, outcome.reason, CHALLENGE)
            return refuse(outcome.status, outcome.reason)
        return JSONResponse(
            {
                "services": outcome.services,
                "update": None if outcome.offer is None else outcome.offer.as_json(),
                "next_checkin_seconds": int(NEXT_CHECKIN.total_seconds()),
            }
        )


def _settle(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


def describe_validation(exc: ValidationError, what: str = "invalid report") -> str:
    reasons = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {message}")
    return f"{what}: " + "; ".join(reasons)
