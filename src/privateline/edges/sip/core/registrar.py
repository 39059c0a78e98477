"""A sans-IO registrar for one domain (RFC 3261 §10.3).

`Registrar.process` takes a REGISTER, the time `now` (an aware datetime), the packet's source
address (kept with each binding for NAT traversal, RFC 3581) and returns the response.  The
device records and the location store come from the caller: `DeviceLookup` (number → `Device`
with its HA1s and whether VoIP is on) and `Bindings` (a protocol; `MemoryBindings` for tests).

The steps of §10.3, as they apply here:

1. the Request-URI must name one of the configured domains, else 404 (this registrar does not
   proxy to other domains);
2. Require: unknown option tags get 420 with Unsupported (§8.2.2.3);
3. authentication (§22): no credentials for our realm → 401 with one challenge per algorithm;
   a stale nonce → 401 with stale=true; a nonce not ours, a replayed nonce-count or other
   broken credentials → a fresh 401; a wrong response to a valid nonce (a wrong password) →
   403.  A phone that already answered a challenge and is told 401 again usually loops with
   the same wrong password; 403 stops it and tells its user.  An unknown username → 404
   (§10.3 step 5: no such address-of-record), a device with VoIP off → 403;
4. authorization: the To user (the address-of-record) must be the authenticated user → 403;
5. the To URI must be in our domain → 404;
6. Contact: `*` only with `Expires: 0` (else 400) removes every binding; each contact's
   expiry is its `expires` parameter, else the Expires field, else the default; a non-zero
   expiry below the minimum gets 423 with Min-Expires (§10.3 step 6, §20.23); one above the
   maximum is shortened to it (§10.3 step 7: "MAY shorten ... MUST NOT lengthen");
7. each contact is matched to the binding with an equivalent URI (§19.1.4).  Same Call-ID and
   a CSeq not higher than the stored one: the RFC says "the update MUST be aborted and the
   request fails", so no binding changes and the answer is 400 ("Out-of-order CSeq"); the
   client has already had the answer to the newer REGISTER.  Expiry 0 removes a binding; of
   two equivalent Contacts in one request the last wins.
   All updates are committed together or not at all (`Bindings.replace`);
   a number keeps at most `max_contacts` bindings: a REGISTER that asks for more gets 403, and
   when new contacts would take a number beyond it, the bindings registered longest ago give way.
   §10.3 sets no bound; this one keeps a phone whose router gives it a new port (and so a new
   Contact) from piling up one binding per port until each expires, all of them stored, listed
   in every 200 and rung by every call (DEV-4: nothing is kept that is not needed);
8. 200 OK lists every current binding with its remaining `expires` (and `q`), and a Date.

Expired bindings disappear: `current` never returns them, and `Bindings.expired(now)` removes
(and returns) them for a periodic sweep.  A malformed field the registrar needs gets 400.

Authentication is `Authenticator`'s, which the proxy shares (407 and Proxy-Authorization
instead of 401 and Authorization, §22.3).  With `AuthLimits` it counts failed attempts (a
wrong response, an unknown device) per source address and per number; a blocked key gets 403
"Forbidden (too many failed attempts)" before its credentials are looked at, so a password
cannot be guessed faster than the limits allow (RFC 3261 §26.1.1 names the guessing threat).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from privateline.edges.sip.core.address import Address, Wildcard
from privateline.edges.sip.core.auth import Credentials
from privateline.edges.sip.core.digest import DigestServer, Refusal, Refused
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import format_date
from privateline.edges.sip.core.grammar import Params
from privateline.edges.sip.core.message import Request, Response
from privateline.edges.sip.core.respond import response_to
from privateline.edges.sip.core.uri import SipUri, Uri
from privateline.kernel.network import source_key
from privateline.kernel.ratelimit import FailureLimit

DEFAULT_EXPIRES = 3600  # §10.3 step 7: "a locally-configured default value"
DEFAULT_MIN_EXPIRES = 60  # §10.3 step 6, §20.23
DEFAULT_MAX_EXPIRES = 7200
DEFAULT_MAX_CONTACTS = 10  # bindings per number: a phone has one, a few for several lines or apps


@dataclass(frozen=True)
class Device:
    """What the registrar needs of a device record: its HA1s (RFC 2617 §3.2.2.2, RFC 8760 §2)."""

    ha1_md5: str | None
    ha1_sha256: str | None
    voip_enabled: bool
    display_name: str | None = None  # the owner's nickname, shown to the called phone (DEV-3)

    def ha1(self, algorithm: str) -> str | None:
        return {"MD5": self.ha1_md5, "SHA-256": self.ha1_sha256}.get(algorithm)


# number (the digest username and the To user) → the device, or None when there is none.
DeviceLookup = Callable[[str], Device | None]


@dataclass(frozen=True)
class Binding:
    """One address-of-record → contact binding (§10.3 step 7) and what the proxy needs of it."""

    user: str
    contact: Uri
    expires_at: float  # seconds, on the clock of `now.timestamp()`
    q: float | None
    call_id: str
    cseq: int
    source: tuple[str, int]  # the packet's source address and port (RFC 3581)
    user_agent: str | None
    registered_at: float  # last registration (seconds)
    transport: str = "udp"  # how the REGISTER came, so requests reach the phone the same way (§18.1.1)

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now))

    def same_contact(self, uri: Uri) -> bool:
        """URI comparison of §19.1.4 for SIP URIs; exact text for others (§10.3 step 7)."""
        if isinstance(self.contact, SipUri):
            return self.contact.equivalent(uri)
        return str(self.contact) == str(uri)


class Bindings(Protocol):
    """The location store."""

    def current(self, user: str, now: float) -> Sequence[Binding]:
        """The bindings of `user` that have not expired at `now`."""
        ...

    def replace(self, user: str, bindings: Sequence[Binding]) -> None:
        """Make `bindings` the bindings of `user`, atomically (§10.3 step 7)."""
        ...

    def expired(self, now: float) -> Sequence[Binding]:
        """Remove the bindings that have expired at `now` and return them."""
        ...


@dataclass
class MemoryBindings:
    """An in-memory `Bindings` (for tests and a single process)."""

    by_user: dict[str, list[Binding]] = field(default_factory=dict)

    def current(self, user: str, now: float) -> Sequence[Binding]:
        return tuple(b for b in self.by_user.get(user, ()) if b.expires_at > now)

    def replace(self, user: str, bindings: Sequence[Binding]) -> None:
        if bindings:
            self.by_user[user] = list(bindings)
        else:
            self.by_user.pop(user, None)

    def expired(self, now: float) -> Sequence[Binding]:
        gone: list[Binding] = []
        for user in list(self.by_user):
            kept = [b for b in self.by_user[user] if b.expires_at > now]
            gone.extend(b for b in self.by_user[user] if b.expires_at <= now)
            self.replace(user, kept)
        return tuple(gone)


@dataclass(frozen=True)
class RegistrarSettings:
    domains: tuple[str, ...]  # hosts the Request-URI and To may name (the domain, its addresses)
    realm: str
    default_expires: int = DEFAULT_EXPIRES
    min_expires: int = DEFAULT_MIN_EXPIRES
    max_expires: int = DEFAULT_MAX_EXPIRES
    supported: tuple[str, ...] = ()  # option tags understood in Require (§8.2.2.3)
    max_contacts: int = DEFAULT_MAX_CONTACTS  # bindings one number may hold (see the module docstring)

    def __post_init__(self) -> None:
        if not self.domains or not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("need a domain and 0 < min_expires <= default_expires <= max_expires")
        if self.max_contacts < 1:
            raise ValueError("max_contacts must be at least 1")

    def serves(self, host: str) -> bool:
        return host.lower() in {d.lower() for d in self.domains}


@dataclass
class AuthLimits:
    """Failed authentications allowed per source address and per number within `window`."""

    per_source: int = 10
    per_number: int = 5
    window: timedelta = timedelta(minutes=1)
    sources: FailureLimit = field(init=False)
    numbers: FailureLimit = field(init=False)

    def __post_init__(self) -> None:
        if self.per_source < 1 or self.per_number < 1 or self.window <= timedelta(0):
            raise ValueError("the failure limits need positive counts and window")
        self.sources = FailureLimit(self.per_source, self.window)
        self.numbers = FailureLimit(self.per_number, self.window)

    def blocked(self, source: str, number: str, now: datetime) -> bool:
        return (
            self.sources.blocked_for(source_key(source), now) is not None
            or self.numbers.blocked_for(number, now) is not None
        )

    def fail(self, source: str, number: str, now: datetime) -> None:
        self.sources.fail(source_key(source), now)
        self.numbers.fail(number, now)

    def prune(self, now: datetime) -> None:
        self.sources.prune(now)
        self.numbers.prune(now)


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was not authenticated: the response to send (401/407 with challenges, 403, 404)."""

    status: int
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


TOO_MANY_FAILURES = "Forbidden (too many failed attempts)"


class Authenticator:
    """Digest authentication of a request against the device records (§22; RFC 2617 §3.2.2),
    for the registrar (401, WWW-Authenticate) and the proxy (407, Proxy-Authenticate, §22.3)."""

    def __init__(self, digest: DigestServer, devices: DeviceLookup, limits: AuthLimits | None = None) -> None:
        self.digest = digest
        self.devices = devices
        self.limits = limits

    def authenticate(
        self, request: Request, *, proxy: bool, now: datetime, source: tuple[str, int]
    ) -> tuple[str, Device] | AuthFailure:
        """The authenticated number and its device, or the failure to answer with; SipParseError
        when a credentials field is malformed."""
        stamp = now.timestamp()
        # A malformed credentials field raises SipParseError: the caller answers 400 (RFC 4475 §3.1.2).
        offered = request.proxy_authorization if proxy else request.authorization
        ours = [c for c in offered if c.is_digest and c.realm == self.digest.realm]
        if not ours or ours[0].username is None:
            return self._challenge(stamp, proxy=proxy)  # §22.1: no credentials for this realm
        credentials: Credentials = ours[0]
        username = credentials.username
        assert username is not None
        limits = self.limits
        if limits is not None and limits.blocked(source[0], username, now):
            return AuthFailure(403, TOO_MANY_FAILURES)  # before any check: guessing costs time
        device = self.devices(username)
        if device is None:
            self._fail(source, username, now)
            # §10.3 step 5: no such address-of-record; the proxy says Forbidden (DEV-3: only known devices).
            return (
                AuthFailure(403, "Forbidden (unknown device)")
                if proxy
                else AuthFailure(404, "Not Found (unknown device)")
            )
        outcome = self.digest.verify(
            credentials, method=request.method, request_uri=request.uri, ha1=device.ha1, now=stamp
        )
        if isinstance(outcome, Refused):
            if outcome.reason is Refusal.WRONG_RESPONSE:
                self._fail(source, username, now)
                return AuthFailure(403, "Forbidden (wrong credentials)")
            return self._challenge(stamp, proxy=proxy, stale=outcome.stale)
        if not device.voip_enabled:
            return AuthFailure(403, "Forbidden (VoIP is off for this device)")
        return outcome.username, device

    def _fail(self, source: tuple[str, int], number: str, now: datetime) -> None:
        if self.limits is not None:
            self.limits.fail(source[0], number, now)

    def _challenge(self, now: float, *, proxy: bool, stale: bool = False) -> AuthFailure:
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        fields = tuple((name, value) for value in self.digest.challenge_values(now, stale=stale))
        return AuthFailure(407 if proxy else 401, headers=fields)


class _Answer(Exception):  # noqa: N818 - not an error: an early answer
    """A response decided before the end; internal to `Registrar.process`."""

    def __init__(self, status: int, reason: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


class Registrar:
    def __init__(
        self,
        settings: RegistrarSettings,
        digest: DigestServer,
        devices: DeviceLookup,
        bindings: Bindings,
        *,
        new_tag: Callable[[], str] = lambda: secrets.token_hex(8),
        limits: AuthLimits | None = None,
    ) -> None:
        if digest.realm != settings.realm:
            raise ValueError("the digest server and the registrar must share the realm")
        self.settings = settings
        self.digest = digest
        self.devices = devices
        self.bindings = bindings
        self.authenticator = Authenticator(digest, devices, limits)
        self._new_tag = new_tag

    def process(self, request: Request, *, now: datetime, source: tuple[str, int], transport: str = "udp") -> Response:
        """The response to a REGISTER received from `source` over `transport` at `now` (§10.3)."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        tag = self._new_tag()
        try:
            return self._register(request, now, source, tag, transport.lower())
        except _Answer as fail:
            return response_to(request, fail.status, fail.reason, to_tag=tag, headers=fail.headers)
        except SipParseError as error:
            return response_to(request, 400, error.reason, to_tag=tag)

    def _register(self, request: Request, now: datetime, source: tuple[str, int], tag: str, transport: str) -> Response:
        if request.method != "REGISTER":
            raise _Answer(405, headers=[("Allow", "REGISTER")])
        missing = request.missing_mandatory()
        if missing:
            raise _Answer(400, f"Missing {missing[0]}")
        settings = self.settings
        # Step 1: the Request-URI names a domain of ours (its user part, which §10.2 forbids, is ignored).
        if not isinstance(request.uri, SipUri) or not settings.serves(request.uri.host):
            raise _Answer(404, "Not Found (domain not served here)")
        # Step 2: Require (§8.2.2.3).
        unknown = [t for t in request.require if t.lower() not in {s.lower() for s in settings.supported}]
        if unknown:
            raise _Answer(420, headers=[("Unsupported", ", ".join(unknown))])
        # Steps 3 and 4: authentication (§22) and authorization.
        outcome = self.authenticator.authenticate(request, proxy=False, now=now, source=source)
        if isinstance(outcome, AuthFailure):
            raise _Answer(outcome.status, outcome.reason, outcome.headers)
        user, _ = outcome
        to = request.to
        assert to is not None  # checked by missing_mandatory
        if not isinstance(to.uri, SipUri) or to.uri.user != user:
            raise _Answer(403, "Forbidden (To is not the authenticated user)")
        # Step 5: the address-of-record is valid for the domain.
        if not settings.serves(to.uri.host):
            raise _Answer(404, "Not Found (address-of-record not in this domain)")
        # Steps 6 and 7.
        current = self._update(request, user, now.timestamp(), source, transport)
        # Step 8.
        stamp = now.timestamp()
        headers = [("Contact", _contact_field(b, stamp)) for b in current]
        headers.append(("Date", format_date(now)))
        return response_to(request, 200, to_tag=tag, headers=headers)

    def _update(
        self, request: Request, user: str, now: float, source: tuple[str, int], transport: str
    ) -> Sequence[Binding]:
        """Steps 6 and 7: the new bindings of `user`, committed together; the current ones when only queried."""
        call_id, cseq = request.call_id, request.cseq
        assert call_id is not None and cseq is not None  # checked by missing_mandatory
        contacts = request.contact
        existing = list(self.bindings.current(user, now))
        if isinstance(contacts, Wildcard):
            # §10.3 step 6: "*" only with Expires: 0; each binding must be older than this request.
            if request.expires != 0:
                raise _Answer(400, "Bad Request (Contact * needs Expires: 0)")
            if any(b.call_id == call_id and b.cseq >= cseq.number for b in existing):
                raise _Answer(400, "Bad Request (out-of-order CSeq)")
            self.bindings.replace(user, ())
            return ()
        if not contacts:
            return existing  # §10.2.3: a query
        header_expires = _header_expires(request)
        wanted = [(c, self._expiry(c, header_expires)) for c in contacts]
        # §10.3 step 6: a non-zero expiry below the minimum fails the whole request.
        if any(0 < seconds < self.settings.min_expires for _, seconds in wanted):
            raise _Answer(423, headers=[("Min-Expires", str(self.settings.min_expires))])
        added: list[Binding] = []  # tentatively added by this request: a later equal Contact replaces one
        for address, seconds in wanted:
            added = [b for b in added if not b.same_contact(address.uri)]
            found = next((i for i, b in enumerate(existing) if b.same_contact(address.uri)), None)
            if found is not None:
                old = existing[found]
                if old.call_id == call_id and cseq.number <= old.cseq:
                    raise _Answer(400, "Bad Request (out-of-order CSeq)")  # §10.3 step 7: abort
                del existing[found]
            if seconds == 0:
                continue
            added.append(
                Binding(
                    user=user,
                    contact=address.uri,
                    expires_at=now + min(seconds, self.settings.max_expires),
                    q=address.q,
                    call_id=call_id,
                    cseq=cseq.number,
                    source=source,
                    user_agent=request.user_agent,
                    registered_at=now,
                    transport=transport,
                )
            )
        limit = self.settings.max_contacts
        if len(added) > limit:
            raise _Answer(403, f"Forbidden (more than {limit} contacts)")
        surplus = len(existing) + len(added) - limit
        if surplus > 0:
            # The longest-registered give way (a refreshed binding has moved into `added` above).
            oldest = {id(b) for b in sorted(existing, key=lambda b: b.registered_at)[:surplus]}
            existing = [b for b in existing if id(b) not in oldest]
        result = (*existing, *added)
        self.bindings.replace(user, result)
        return result

    def _expiry(self, contact: Address, header_expires: int | None) -> int:
        """The requested expiry of `contact` (§10.2.1.1, §10.3 step 6); a malformed value is ignored (§20.19)."""
        try:
            own = contact.expires
        except SipParseError:
            own = None
        if own is not None:
            return own
        return self.settings.default_expires if header_expires is None else header_expires


def _header_expires(request: Request) -> int | None:
    try:
        return request.expires
    except SipParseError:
        return None  # RFC 4475 §3.1.2.4: a malformed Expires is treated as absent


def _contact_field(binding: Binding, now: float) -> str:
    """A Contact of the 200 OK: the bound URI with its q and remaining expires (§10.3 step 8)."""
    params = Params.of(("expires", str(binding.remaining(now))))
    if binding.q is not None:
        params = Params.of(("q", _qvalue(binding.q)), ("expires", str(binding.remaining(now))))
    return str(Address(binding.contact, params=params))


def _qvalue(q: float) -> str:
    """qvalue (§20.10): 0 to 1 with at most three decimals."""
    text = f"{q:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


__all__ = [
    "DEFAULT_EXPIRES",
    "DEFAULT_MAX_CONTACTS",
    "DEFAULT_MAX_EXPIRES",
    "DEFAULT_MIN_EXPIRES",
    "TOO_MANY_FAILURES",
    "AuthFailure",
    "AuthLimits",
    "Authenticator",
    "Binding",
    "Bindings",
    "Device",
    "DeviceLookup",
    "MemoryBindings",
    "Registrar",
    "RegistrarSettings",
]
