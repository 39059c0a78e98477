"""The website access log (promises WEB-4, WEB-6, WEB-7).

Every HTTP request is recorded with its time, method, path, status, size, referrer and
user agent, and the client's address **shortened before it is stored** (IPv4 /24,
IPv6 /48): the full address exists only while the request is answered.  The log holds
no account, session or cookie, so it cannot be joined with anything else the operator
knows (WEB-7); the register's seven-day period is enforced by the retention sweeper.

Query strings are not logged (they can carry sign-in tokens and e-mail addresses), and
the referrer is cut to its scheme, host and path for the same reason.

Rows are buffered in memory (already shortened) and written in batches by one
background flush, so logging costs a request no database round trip.  A crash can lose
at most one flush interval of log lines, never a full address.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Column, Integer, String, Table, insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privateline.kernel.clock import Clock
from privateline.kernel.network import truncate_address
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.storage.database import Database
from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "website_access_log"
_VISIT = "user.behavior.browsing_history"
MAX_TEXT = 512

access_log = declare_store(
    Table(
        "access_log",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True, info=technical()),
        Column("at", UTCDateTime, nullable=False, index=True, info=personal(_VISIT)),
        Column("method", String(16), nullable=False, info=personal(_VISIT)),
        Column("path", String(MAX_TEXT), nullable=False, info=personal(_VISIT)),
        Column("status", Integer, nullable=False, info=personal(_VISIT)),
        Column("bytes", Integer, nullable=False, info=personal(_VISIT)),
        Column("referrer", String(MAX_TEXT), nullable=True, info=personal("user.behavior.referrer")),
        Column("user_agent", String(MAX_TEXT), nullable=True, info=personal("user.device.user_agent")),
        Column("client_network", String(64), nullable=True, info=personal("user.device.ip_address")),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="website_visitor",
        # WEB-7: nothing in a log row points to a person or an account.
        subject_column=None,
        anchor_column="at",
        erasure=Erasure.DELETE,
    ),
)


@dataclass(frozen=True)
class AccessLogLine:
    at: datetime
    method: str
    path: str
    status: int
    bytes: int
    referrer: str | None
    user_agent: str | None
    client_network: str | None


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def referrer_without_query(referrer: str | None) -> str | None:
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return None
    return _clip(urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")))


class AccessLogWriter:
    """Collects log lines and writes them in batches; thread-safe."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[AccessLogLine] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def record(self, line: AccessLogLine) -> None:
        with self._lock:
            self._pending.append(line)

    def flush(self) -> int:
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                with self._database.unit_of_work() as uow:
                    uow.connection.execute(insert(access_log), [vars(line) for line in batch])
                    uow.commit()
            except Exception:
                # Keep the lines for the next attempt instead of dropping them.
                with self._lock:
                    self._pending[:0] = batch
                raise
            return len(batch)


class AccessLogMiddleware:
    """ASGI middleware that records each website request once its response has been sent.

    Paths under `excluded` are not the website: they are the device cloud's machine
    interfaces (check-in, handset information services).  Logging them would keep a
    seven-day history of each phone's reports, which DEV-1 rules out and the website
    access log's activity does not declare.
    """

    def __init__(
        self,
        app: ASGIApp,
        writer: AccessLogWriter,
        clock: Clock,
        proxies: TrustedProxies,
        excluded: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.writer = writer
        self.clock = clock
        self.proxies = proxies
        self.excluded = excluded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.excluded):
            await self.app(scope, receive, send)
            return
        at = self.clock.now()
        status = 500
        size = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"x-forwarded-for"]
            peer = scope["client"][0] if scope.get("client") else None
            full = client_address(peer, forwarded, self.proxies)
            self.writer.record(
                AccessLogLine(
                    at=at,
                    method=str(scope.get("method", ""))[:16],
                    path=_clip(scope.get("path", "")) or "",
                    status=status,
                    bytes=size,
                    referrer=referrer_without_query(headers.get("referer")),
                    user_agent=_clip(headers.get("user-agent")),
                    client_network=None if full is None else truncate_address(full),
                )
            )
