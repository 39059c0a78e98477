"""A phone signs in to a machine interface with its number and device password (R-12).

The phone sends `Authorization: Basic base64(number ":" password)` (HTTP Basic, RFC 7617
§2; production runs behind TLS, RFC 7617 §4), exactly as for `POST /device/v1/checkin`:
the password is compared with the SHA-256 SIP digest HA1 kept for the realm
(`credentials.matches_ha1`), never stored or logged.

* No or unreadable credentials: 401 with the challenge (RFC 7617 §2, RFC 9110 §11.6.1),
  nothing read from the database and nothing counted.
* A wrong password and an unknown number get the same 401, so the answer does not tell
  which numbers exist; both cost the same work (one HA1 comparison).
* Failed attempts are counted per source address and per number with the check-in's
  limits (each `DeviceSignIn` keeps its own counts); while either is over its limit the
  answer is 429 with Retry-After (RFC 6585 §4), before the password is even looked at.
  The source is the connection's address, or the forwarded one only from a configured
  trusted proxy (`forwarding.client_address`), so a made-up X-Forwarded-For is no escape.
* A device taken out of service gets 403.

Nothing here logs: a log line would name a number (personal data) or a source address.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import HTTPConnection

from privateline.kernel.clock import Clock
from privateline.kernel.ratelimit import FailureLimit
from privateline.services.devices.checkin import CHALLENGE, basic_credentials
from privateline.services.devices.credentials import matches_ha1
from privateline.services.devices.device_api import FAILURES_PER_NUMBER, FAILURES_PER_SOURCE
from privateline.services.devices.records import Device, device_by_number
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.storage.database import Database

# Keys without a failure in the window are dropped this often, so numbers an attacker
# makes up do not pile up in memory (they are personal data when real).
_PRUNE_EVERY = 256
# Compared against when the number is unknown, so that an unknown number costs the same
# work as a wrong password; no HA1 (64 hex digits) can equal it.
_NO_HA1 = "-" * 64


class SignInRefusedError(Exception):
    """The phone is not signed in: the status, the reason and the headers to answer with."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


@dataclass
class DeviceSignIn:
    """Checks a request's device credentials; one per interface, holding its failure counts."""

    database: Database
    clock: Clock
    realm: str
    proxies: TrustedProxies

    def __post_init__(self) -> None:
        self._per_source = FailureLimit(*FAILURES_PER_SOURCE)
        self._per_number = FailureLimit(*FAILURES_PER_NUMBER)
        # Endpoints run in the worker thread pool; the counts are plain dicts and deques.
        self._lock = threading.Lock()
        self._since_prune = 0

    def device(self, request: HTTPConnection) -> Device:
        """The signed-in device, in service; raises `SignInRefusedError`.  Blocking: call it off the event loop."""
        peer = request.client.host if request.client else None
        source = client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies) or "unknown"
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            raise SignInRefusedError(401, "sign in with the device's number and password (HTTP Basic)", CHALLENGE)
        number, password = credentials
        now = self.clock.now()
        with self._lock:
            wait = self._per_source.blocked_for(source, now) or self._per_number.blocked_for(number, now)
        if wait is not None:
            seconds = max(1, int(wait.total_seconds()) + 1)
            raise SignInRefusedError(429, "too many failed sign-ins; try again later", {"Retry-After": str(seconds)})
        with self.database.reading() as connection:
            record = device_by_number(connection, number)
        stored = _NO_HA1 if record is None else record.sip_ha1_sha256
        if not matches_ha1(stored, number, self.realm, password) or record is None:
            self._failed(source, number, now)
            raise SignInRefusedError(401, "number or device password is wrong", CHALLENGE)
        if not record.in_service:
            raise SignInRefusedError(403, "this device has been taken out of service")
        return record

    def _failed(self, source: str, number: str, now: datetime) -> None:
        with self._lock:
            self._per_source.fail(source, now)
            self._per_number.fail(number, now)
            self._since_prune += 1
            if self._since_prune >= _PRUNE_EVERY:
                self._since_prune = 0
                self._per_source.prune(now)
                self._per_number.prune(now)
