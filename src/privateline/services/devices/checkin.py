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
committed, so an answered report is a stored report.  A batch costs a fixed number of
statements, whatever its size: one read of the devices, one write of the reports, one of
the factory records, and the update offers of the batch.  The endpoint is a plain ASGI
app, and the writer thread hands a whole batch's answers to the event loop at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import json
import queue
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, Row, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.ratelimit import FailureLimit
from privateline.services.devices import identifiers
from privateline.services.devices.credentials import matches_ha1
from privateline.services.devices.records import Service, device
from privateline.services.devices.reports import device_report, public_network_fingerprint
from privateline.services.devices.updates import Firmware, Offer, newest_firmware, offers_for
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.storage.database import Database
from privateline.storage.upsert import update_by_key, upsert

log = structlog.get_logger("privateline.checkin")

MAX_BODY = 4096
BATCH = 512
NEXT_CHECKIN = timedelta(days=1)
_Text = Annotated[str, Field(min_length=1, max_length=64)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Phones sit in a few common home networks (the routers' default ranges), so the same
# private addresses come again and again; the check is a pure function of the text, so
# remembering recent answers is safe (a refused address raises and is not remembered).
_private_address = functools.lru_cache(maxsize=4096)(identifiers.private_address)


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
        return _private_address(value)

    @field_validator("device_name", "product", "software_version", "serial")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("control characters are not allowed")
        return value


@dataclass(frozen=True, slots=True)
class Checkin:
    """One authenticated-looking, well-formed report, waiting to be checked and stored."""

    number: str
    password: str
    report: CheckinReport
    public_network: str


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
_PENDING = Refused(500, "pending")  # a placeholder while a batch is processed

# The factory record's columns the check-in needs (not the other password forms); the
# switches come last, so `record[_FIRST_SWITCH:]` is all the services depend on.
_CHECKED = ("id", "number", "sip_ha1_sha256", "serial", "mac", "product")
_FIRST_SWITCH = len(_CHECKED)
_RECORD_COLUMNS = [device.c[name] for name in (*_CHECKED, "in_service", *(s.column for s in Service))]
# PostgreSQL gets the numbers as one array, so the statement text (and its prepared plan)
# is the same for every batch size; SQLite has no arrays and takes an IN list.
_RECORDS_PG = select(*_RECORD_COLUMNS).where(
    device.c.number == any_(bindparam("numbers", type_=postgresql.ARRAY(device.c.number.type)))
)
_RECORDS_SQLITE = select(*_RECORD_COLUMNS).where(device.c.number.in_(bindparam("numbers", expanding=True)))


def _records_by_number(connection: Connection, numbers: Collection[str]) -> dict[str, Row[Any]]:
    statement = _RECORDS_PG if connection.dialect.name == "postgresql" else _RECORDS_SQLITE
    # All rows at once: the driver then steps through them without Python in between, where
    # row by row the writer thread could lose the GIL to the event loop at every row.
    rows = connection.execute(statement, {"numbers": sorted(numbers)}).all()
    return {row.number: row for row in rows}


def _refusal_for(record: Row[Any] | None, checkin: Checkin, realm: str) -> Refused | None:
    if record is None or not matches_ha1(record.sip_ha1_sha256, checkin.number, realm, checkin.password):
        return Refused(401, "number or device password is wrong", credentials_wrong=True)
    if not record.in_service:
        return Refused(403, "this device has been taken out of service")
    report = checkin.report
    if report.serial != record.serial:
        return Refused(409, "the serial number does not match this device's factory record")
    if report.mac != record.mac:
        return Refused(409, "the MAC address does not match this device's factory record")
    if report.product != record.product:
        return Refused(409, "the product does not match this device's factory record")
    return None


def _services(record: Row[Any], seen: dict[tuple[Any, ...], dict[str, bool]]) -> dict[str, bool]:
    """Which services are on, as `Device.services` says; devices with the same switches share one dict."""
    switches = record[_FIRST_SWITCH:]
    services = seen.get(switches)
    if services is None:
        in_service = bool(record.in_service)
        services = seen[switches] = {s.value: bool(getattr(record, s.column)) and in_service for s in Service}
    return services


def process_batch(connection: Connection, checkins: Sequence[Checkin], now: datetime, realm: str) -> list[Outcome]:
    """Check and store a batch of reports in one transaction; one outcome per check-in, in order."""
    records = _records_by_number(connection, {c.number for c in checkins})
    outcomes: list[Outcome] = []
    # The last report of a device within a batch wins, as it would one after the other.
    reports: dict[int, dict[str, Any]] = {}
    factory: dict[int, dict[str, Any]] = {}
    accepted: list[tuple[int, Row[Any], CheckinReport]] = []
    for index, checkin in enumerate(checkins):
        record = records.get(checkin.number)
        refusal = _refusal_for(record, checkin, realm)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        assert record is not None
        r = checkin.report
        reports[record.id] = {  # a row of device_report (see reports.Report)
            "device_id": record.id,
            "reported_at": now,
            "private_ip": r.private_ip,
            "private_port": r.private_port,
            "public_network": checkin.public_network,
            "device_name": r.device_name,
            "software_version": r.software_version,
        }
        factory[record.id] = {"id": record.id, "internal_ip": r.internal_ip, "software_version": r.software_version}
        accepted.append((index, record, r))
        outcomes.append(_PENDING)
    upsert(connection, device_report, list(reports.values()), key=["device_id"])
    update_by_key(connection, device, list(factory.values()), key=["id"])
    newest: dict[str, Firmware | None] = {
        product: newest_firmware(connection, product) for product in {record.product for _, record, _ in accepted}
    }
    wanted = [(record.id, r.software_version, newest[record.product]) for _, record, r in accepted]
    offers = offers_for(connection, wanted)
    # Devices told the same thing share one (frozen) outcome, so it is rendered once.
    switches: dict[tuple[Any, ...], dict[str, bool]] = {}
    told: dict[tuple[int, int], Accepted] = {}
    for (index, record, _), offer in zip(accepted, offers, strict=True):
        services = _services(record, switches)
        same = (id(services), id(offer))
        outcome = told.get(same)
        if outcome is None:
            outcome = told[same] = Accepted(services, offer)
        outcomes[index] = outcome
    return outcomes


# --- answers -------------------------------------------------------------------------------


def _json(content: Any) -> bytes:
    # The same bytes as Starlette's JSONResponse.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


CHALLENGE = {"WWW-Authenticate": 'Basic realm="privateline devices", charset="UTF-8"'}
_CHALLENGE = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in CHALLENGE.items()]


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP answer, rendered where it is decided."""

    status: int
    body: bytes
    credentials_wrong: bool = False

    @classmethod
    def error(cls, status: int, reason: str, *, credentials_wrong: bool = False) -> _Answer:
        return cls(status, _json({"error": reason}), credentials_wrong)

    async def send(self, send: Send, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        start = [(b"content-length", str(len(self.body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": [*start, *headers]})
        await send({"type": "http.response.body", "body": self.body})


_BUSY = _Answer.error(503, "the service is busy; try again later")


def _answers(outcomes: Sequence[Outcome]) -> list[_Answer]:
    """Render the outcomes of a batch; devices told the same thing share one rendering."""
    rendered: dict[int, _Answer] = {}  # `process_batch` shares equal outcomes
    answers: list[_Answer] = []
    for outcome in outcomes:
        answer = rendered.get(id(outcome))
        if answer is None:
            if isinstance(outcome, Refused):
                answer = _Answer.error(outcome.status, outcome.reason, credentials_wrong=outcome.credentials_wrong)
            else:
                answer = _Answer(200, _json(_accepted_json(outcome)))
            rendered[id(outcome)] = answer
        answers.append(answer)
    return answers


def _accepted_json(outcome: Accepted) -> dict[str, Any]:
    return {
        "services": outcome.services,
        "update": None if outcome.offer is None else outcome.offer.as_json(),
        "next_checkin_seconds": int(NEXT_CHECKIN.total_seconds()),
    }


# --- the writer thread ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Waiting:
    checkin: Checkin
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[_Answer]


def _settle(answered: Sequence[tuple[asyncio.Future[_Answer], _Answer]]) -> None:
    for future, answer in answered:
        if not future.done():
            future.set_result(answer)


class CheckinDesk:
    """One writer thread that stores queued check-ins in batches (group commit)."""

    def __init__(self, database: Database, clock: Clock, realm: str) -> None:
        self._database = database
        self._clock = clock
        self._realm = realm
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connection: Connection | None = None  # used by the desk's thread only

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

    async def check_in(self, checkin: Checkin) -> _Answer:
        """Queue `checkin` and wait until its batch is committed (or failed)."""
        if self._thread is None:
            self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Answer] = loop.create_future()
        self._queue.put(_Waiting(checkin, loop, future))
        return await future

    def _run(self) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                self._handle(batch)
        finally:
            self._disconnect()

    def _store(self, checkins: list[Checkin]) -> list[Outcome]:
        """Check and store one batch in one transaction, on the desk's own connection.

        While check-ins keep coming the desk keeps its connection instead of taking one from
        the pool for every batch (which costs a round trip to test it, on PostgreSQL); it
        gives it back whenever the queue runs empty (see `_handle`).  A connection found
        broken is replaced and the batch tried once more: storing a batch twice stores the
        same rows.
        """
        now = self._clock.now()
        try:
            return self._transaction(checkins, now)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._disconnect()
            return self._transaction(checkins, now)

    def _transaction(self, checkins: list[Checkin], now: datetime) -> list[Outcome]:
        if self._connection is None:
            self._connection = self._database.engine.connect()
        with self._connection.begin():
            return process_batch(self._connection, checkins, now, self._realm)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it may be broken already
                connection.close()

    def _handle(self, batch: list[_Waiting]) -> None:
        try:
            answers = _answers(self._store([w.checkin for w in batch]))
        except Exception as exc:  # the database failed: every phone in the batch is told to retry
            log.error("check-in batch failed", error=type(exc).__name__, size=len(batch))
            self._disconnect()
            answers = [_BUSY] * len(batch)
        if self._queue.empty():
            # Nothing waits: give the connection back before answering, so that once the
            # answers are out the database has no connection the pool does not know of
            # (disposing of the pool, or copying the database, needs that).
            self._disconnect()
        # One wake-up of each event loop per batch, not one per request.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[_Answer], _Answer]]] = {}
        for waiting, answer in zip(batch, answers, strict=True):
            by_loop.setdefault(waiting.loop, []).append((waiting.future, answer))
        for loop, answered in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, answered)


# --- HTTP ----------------------------------------------------------------------------------


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


def _request_headers(scope: Scope) -> tuple[str | None, list[str]]:
    """The Authorization header (the first, as Starlette reads it) and every X-Forwarded-For value."""
    authorization = None
    forwarded = []
    for name, value in scope["headers"]:  # ASGI servers give the names in lower case
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            forwarded.append(value.decode("latin-1"))
    return authorization, forwarded


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, read only until it is longer than `limit`; None if the client went away."""
    body = b""
    while True:
        message: Mapping[str, Any] = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit or not message.get("more_body", False):
            return body


class CheckinEndpoint:
    """The ASGI app of `POST /device/v1/checkin`: no request or response objects, for speed."""

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
        self._signed_out = _Answer.error(401, "sign in with the device's number and password (HTTP Basic)")
        self._too_large = _Answer.error(413, f"a report has at most {MAX_BODY} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization, forwarded = _request_headers(scope)
        client = scope.get("client")
        peer = client[0] if client else None
        # Without trusted proxies the connection's address is the client's (client_address
        # would parse it only to find that it is not a proxy).
        source = (client_address(peer, forwarded, self.proxies) if self.proxies.networks else peer) or "unknown"
        credentials = basic_credentials(authorization)
        if credentials is None:
            await self._signed_out.send(send, _CHALLENGE)
            return
        number, password = credentials
        now = self.clock.now()
        wait = self.per_source.blocked_for(source, now) or self.per_number.blocked_for(number, now)
        if wait is not None:
            seconds = max(1, int(wait.total_seconds()) + 1)
            too_many = _Answer.error(429, "too many failed sign-ins; try again later")
            await too_many.send(send, [(b"retry-after", str(seconds).encode())])
            return
        body = await _read_body(receive, MAX_BODY)
        if body is None:
            return  # nobody to answer
        if len(body) > MAX_BODY:
            await self._too_large.send(send)
            return
        try:
            report = CheckinReport.model_validate_json(body)
        except ValidationError as exc:
            await _Answer.error(422, describe_validation(exc)).send(send)
            return
        fingerprint = public_network_fingerprint(self.pseudonymizer, source)
        answer = await self.desk.check_in(Checkin(number, password, report, fingerprint))
        if answer.credentials_wrong:
            self.per_source.fail(source, now)
            self.per_number.fail(number, now)
            await answer.send(send, _CHALLENGE)
            return
        await answer.send(send)


def describe_validation(exc: ValidationError, what: str = "invalid report") -> str:
    reasons = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {message}")
    return f"{what}: " + "; ".join(reasons)
