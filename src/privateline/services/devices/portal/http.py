"""The routes of the device owner's portal.

`GET  /device`              sign-in form, or the overview of everything held about the phone
`POST /device/sign-in`      number and device password (rate limited; one message for any failure)
`POST /device/sign-out`
`POST /device/services`     switch VoIP, information services or messaging on or off (DEV-10)
`POST /device/nickname`     set or clear the nickname (VoIP on only)
`POST /device/profile`      save or delete the information profile (DEV-6; information services on only)
`POST /device/update`       accept or decline the offered software (DEV-9)
`GET  /device/export.json`  everything held about the phone, machine-readable (R-2, R-6)
`GET  /device/rights`       the owner's rights requests: file one, follow its state (R-13)
`POST /device/rights`       access, portability (answered at once; sent on to another provider's
                            HTTPS address when one is named, Art. 20(2)), erasure (carried out at once,
                            R-4), rectification field by field (at once, R-3) or in words (left
                            for the DPO), restriction and its lifting (R-7), objection (R-8),
                            consent withdrawal (R-9)
`GET  /device/rights/{id}/package.json`  the package of a completed access or portability
                            request of this phone (R-2, R-6); any other id: the same 404

The rights routes exist only when the portal is given the rights engine.  Given it, a
signed-in page view whose request carries `Sec-GPC: 1` records the phone's objection to
optional marketing and analytics (Art. 21(5)).

Every form carries the session's CSRF token; a change is answered with a redirect to
the overview (303) or, for bad input, with the overview and the reason (4xx).  All
database work and the argon2 verification run in worker threads.  No log line names a
number, an address or anything an owner typed; the audit trail names the phone only by
its pseudonym.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

import sqlalchemy
import structlog
from fastapi import APIRouter
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.ratelimit import FailureLimit
from privateline.kernel.requests import RequestKind
from privateline.register.loader import LoadedRegister
from privateline.register.notice import disclosure
from privateline.services.devices.credentials import matches_portal_hash, password_forms
from privateline.services.devices.nicknames import MAX_NICKNAME, clear_nickname, nickname_of, set_nickname
from privateline.services.devices.portal import forms
from privateline.services.devices.portal.data import (
    HeldStore,
    by_activity,
    export_document,
    held_stores,
)
from privateline.services.devices.portal.forms import Form, FormError, Message
from privateline.services.devices.portal.labels import (
    ALL_PROCESSING,
    FIELD_UNAVAILABLE,
    N_,
    SERVICE_DESCRIPTIONS,
    SERVICE_LABELS,
    TECHNICAL,
    activity_label,
    category_label,
    field_label,
    kept_reason,
    objection_state_label,
    request_kind_label,
    request_state_label,
    transmission_outcome,
)
from privateline.services.devices.portal.rights import DeviceRights, RefusedAskError, RightsOverview, SessionEndedError
from privateline.services.devices.profiles import MAX_CITY, InfoProfile, delete_profile, profile_of, update_profile
from privateline.services.devices.records import SUBJECT, Device, Service, device_by_id, device_by_number
from privateline.services.devices.switches import switch_service
from privateline.services.devices.updates import Decision, NoSuchOfferError, Offer, decide, newest_firmware, offer_for
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.services.pages import Pages, request_language
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.signals import gpc_objects
from privateline.services.privacy.transmission import MAX_URL, Transmitter
from privateline.services.sessions import CSRF_FIELD, CsrfProblem, Session, SessionCookies
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database

log = structlog.get_logger("privateline.portal")

PATH = "/device"
RIGHTS_PATH = f"{PATH}/rights"
COOKIE = "privateline_device"
SESSION_KIND = "device"
# Five wrong sign-ins per quarter hour from one network and against one number.
FAILURES_PER_SOURCE = (5, timedelta(minutes=15))
FAILURES_PER_NUMBER = (5, timedelta(minutes=15))
# IPv6 clients get a /64 each; counting per address would let one client rotate freely.
IPV6_SOURCE_PREFIX = 64

_pages = Pages("privateline.services.devices.portal")

DONE: dict[str, str] = {
    "signed_in": N_("You are signed in."),
    "signed_out": N_("You are signed out."),
    "voip_on": N_("Calls (VoIP) are switched on."),
    "voip_off": N_("Calls (VoIP) are switched off; the nickname of your number has been deleted."),
    "info_on": N_("The information services are switched on."),
    "info_off": N_("The information services are switched off; their profile has been deleted."),
    "messaging_on": N_("Instant messaging is switched on."),
    "messaging_off": N_("Instant messaging is switched off; the data it needed has been deleted."),
    "nickname_set": N_("The nickname has been saved."),
    "nickname_cleared": N_("The nickname has been deleted."),
    "profile_saved": N_("The profile has been saved."),
    "profile_deleted": N_("The profile has been deleted."),
    "update_accepted": N_("You accepted the update; your phone learns of your answer at its next daily check-in."),
    "update_declined": N_("You declined the update."),
}

CSRF_REASONS: dict[CsrfProblem, str] = {
    CsrfProblem.NO_SESSION: N_(
        "Your browser did not send the portal's session cookie. Allow cookies for this site, "
        "reload the page and try again."
    ),
    CsrfProblem.NO_TOKEN: N_("The form did not carry its security token. Reload the page and try again."),
    CsrfProblem.WRONG_TOKEN: N_(
        "The form's security token does not belong to your session; it may come from another site "
        "or from an older page. Reload the page and try again."
    ),
}

RIGHTS_DONE: dict[str, str] = {
    "signed_in": DONE["signed_in"],
    "access": N_("Your request for access has been answered: download the file in the list below."),
    "portability": N_("Your request for a portable copy has been answered: download the file in the list below."),
    "portability_sent": N_(
        "Your request for a portable copy has been answered and the copy has been sent to the provider you named. "
        "You can also download it in the list below."
    ),
    "portability_not_sent": N_(
        "Your request for a portable copy has been answered, but the copy could not be sent to the provider you "
        "named; the list below says why. You can download it there and pass it on yourself."
    ),
    "rectification": N_(
        "Your request for rectification has been passed to our data protection officer, who answers within one "
        "month. You can follow it in the list below."
    ),
    "erasure": N_("The data of your phone has been erased. Below you see what was erased, what was kept, and why."),
    "erasure_pending": N_(
        "Your request for erasure has been recorded, but it could not be carried out at once. Our data protection "
        "officer will complete it; you can follow it in the list below."
    ),
    "request_pending": N_(
        "Your request has been recorded, but it could not be carried out at once. Our data protection officer "
        "will complete it; you can follow it in the list below."
    ),
    "rectified": N_("Your data has been corrected. The correction is listed below."),
    "restricted": N_(
        "The processing is restricted: your data stays stored but is not used until you lift the restriction."
    ),
    "restriction_lifted": N_("The restriction has been lifted: your data is used again for its purpose."),
    "objection_upheld": N_("Your objection has been recorded: this processing has stopped."),
    "objection_pending": N_(
        "Your objection has been recorded and this processing has stopped. Our data protection officer decides "
        "within one month whether compelling legitimate grounds override it, and tells you why."
    ),
    "consent_withdrawn": N_(
        "Your consent has been withdrawn: from now on your data is no longer used for this purpose. "
        "What was done before stays lawful."
    ),
}

WRONG_CREDENTIALS = Message(N_("The number or the device password is wrong."))
# What `secrets.token_urlsafe` makes; anything else cannot be a request id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A sign-in form shown on these pages comes back to them.
_RETURN_TO = {"rights": RIGHTS_PATH}


@cache
def _decoy_hash() -> str:
    """An argon2 hash to verify against when the number is unknown, so both failures take as long."""
    return password_forms("0", "privateline", "decoy-password").portal_hash


def _source_key(address: str | None) -> str:
    if address is None:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_SOURCE_PREFIX}", strict=False))
    return str(ip)


def _overview_url(lang: str, done: str | None = None, path: str = PATH) -> str:
    query = {"lang": lang}
    if done is not None:
        query["done"] = done
    return f"{path}?{urlencode(query)}"


def _not_found() -> Response:
    """Exactly what any unknown address of the app answers."""
    return _private(JSONResponse({"detail": "Not Found"}, status_code=404))


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class OneAtATime:
    """Per-key locks for the event loop, forgotten when nobody holds or awaits them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True)
class Overview:
    device: Device
    nickname: str | None
    profile: InfoProfile | None
    offer: Offer | None
    stores: list[HeldStore]


@dataclass(frozen=True)
class Outcome:
    """The result of a change: `done` on success, else `error` and its status; `ended` when the phone is gone."""

    done: str | None = None
    error: Message | None = None
    status: int = 200
    ended: bool = False
    section: str | None = None


@dataclass
class _Change:
    """One change, applied to the signed-in phone inside a unit of work."""

    name: str
    work: Callable[[Connection, Device, Form, datetime], Outcome]
    section: str


class Portal:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        pseudonymizer: Pseudonymizer,
        session_key: bytes,
        proxies: TrustedProxies,
        tables: list[sqlalchemy.Table],
        secure_cookies: bool,
        register: LoadedRegister | None = None,
        *,
        rights: RightsEngine | None = None,
        transmitter: Transmitter | None = None,
    ) -> None:
        self.register = register
        self.rights = (
            None if rights is None else DeviceRights(database, clock, pseudonymizer, list(tables), rights, transmitter)
        )
        self.database = database
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.proxies = proxies
        self.tables = list(tables)
        self.sessions = SessionCookies(session_key, clock, name=COOKIE, path=PATH, secure=secure_cookies)
        self.per_source = FailureLimit(*FAILURES_PER_SOURCE)
        self.per_number = FailureLimit(*FAILURES_PER_NUMBER)
        self.attempts = OneAtATime()

    # Helpers -----------------------------------------------------------------

    def _pseudonym(self, device: Device) -> str:
        return self.pseudonymizer.pseudonym(SUBJECT, device.number)

    def _audit(self, connection: Connection, device: Device, kind: str, detail: dict[str, Any] | None = None) -> None:
        AuditLog(connection).append(self.clock.now(), kind, self._pseudonym(device), detail or {})

    def _show(self, lang: str) -> Callable[[object], str]:
        gettext = _pages.gettext(lang)

        def show(value: object) -> str:
            if value is None:
                return str(gettext("(empty)"))
            if isinstance(value, bool):
                return str(gettext("yes") if value else gettext("no"))
            if isinstance(value, datetime):
                return value.isoformat(sep=" ", timespec="seconds")
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict | list):
                return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
            return str(value)

        return show

    def _page(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        lang = request_language(request)
        context.setdefault("here", PATH)
        response = _pages.response(
            request,
            template,
            status_code=status_code,
            lang=lang,
            csrf=session.csrf_token if session is not None else "",
            csrf_field=CSRF_FIELD,
            rights_offered=self.rights is not None,
            **context,
        )
        if headers:
            response.headers.update(headers)
        if session is not None:
            self.sessions.write(response, session)
        return _private(response)

    def _sign_in_page(
        self,
        request: Request,
        session: Session | None = None,
        status_code: int = 200,
        error: Message | None = None,
        notice: Message | None = None,
        headers: dict[str, str] | None = None,
        then: str | None = None,
    ) -> Response:
        if session is None or session.signed_in:
            session = self.sessions.begin()
        return self._page(
            request,
            "sign_in.html.j2",
            self.sessions.touch(session),
            status_code=status_code,
            headers=headers,
            error=error,
            notice=notice,
            then=then,
            here=_RETURN_TO.get(then or "", PATH),
        )

    def _message_page(
        self, request: Request, status_code: int, heading: str, message: Message, session: Session | None = None
    ) -> Response:
        return self._page(
            request, "message.html.j2", session, status_code=status_code, heading=heading, message=message
        )

    def _read_overview(self, device_id: int) -> Overview | None:
        with self.database.unit_of_work() as uow:
            c = uow.connection
            device = device_by_id(c, device_id)
            if device is None or not device.in_service:
                return None
            # Computing the offer forgets a decision about a version that is no longer the newest.
            offer = offer_for(c, device.id, device.software_version, newest_firmware(c, device.product))
            overview = Overview(
                device=device,
                nickname=nickname_of(c, device.id),
                profile=profile_of(c, device.id),
                offer=offer,
                stores=held_stores(c, self.tables, device, self.pseudonymizer),
            )
            uow.commit()
        return overview

    def _overview_page(
        self,
        request: Request,
        session: Session,
        overview: Overview,
        status_code: int = 200,
        error: Message | None = None,
        section: str | None = None,
    ) -> Response:
        lang = request_language(request)
        done_code = request.query_params.get("done") if status_code == 200 else None
        device = overview.device
        services = [
            {
                "key": s.value,
                "label": SERVICE_LABELS[s.value],
                "description": SERVICE_DESCRIPTIONS[s.value],
                "on": bool(getattr(device, s.column)),
            }
            for s in Service
        ]
        offer_notes = None
        if overview.offer is not None:
            offer_notes = overview.offer.notes.get(lang) or overview.offer.notes.get("en", "")
        return self._page(
            request,
            "overview.html.j2",
            self.sessions.touch(session),
            status_code=status_code,
            device=device,
            services=services,
            nickname=overview.nickname,
            profile=overview.profile,
            offer=overview.offer,
            offer_notes=offer_notes,
            activities=by_activity(overview.stores),
            done=DONE.get(done_code) if done_code else None,
            error=error,
            error_section=section,
            show=self._show(lang),
            category_label=category_label,
            activity_label=activity_label,
            technical=TECHNICAL,
            max_nickname=MAX_NICKNAME,
            max_city=MAX_CITY,
            earliest_birth=forms.EARLIEST_BIRTH.isoformat(),
            today=self.clock.now().date().isoformat(),
        )

    def _ended(self, request: Request, session: Session | None, then: str | None = None) -> Response:
        if session is not None:
            self.sessions.revoke(session)
        return self._sign_in_page(
            request,
            None,
            status_code=401,
            notice=Message(N_("Your session has ended. Please sign in again.")),
            then=then,
        )

    # GET /device --------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        if session is None or device_id is None:
            done = request.query_params.get("done")
            notice = Message(DONE["signed_out"]) if done == "signed_out" else None
            return self._sign_in_page(request, session, notice=notice)
        await self._honour_gpc(request, device_id)
        overview = await run_in_threadpool(self._read_overview, device_id)
        if overview is None:
            self.sessions.revoke(session)
            return self._sign_in_page(
                request, None, notice=Message(N_("Your session has ended. Please sign in again."))
            )
        return self._overview_page(request, session, overview)

    async def _honour_gpc(self, request: Request, device_id: int) -> None:
        """A signed-in page view carrying `Sec-GPC: 1` objects to optional marketing and analytics (Art. 21(5))."""
        if self.rights is None or not gpc_objects(request.headers):
            return
        try:
            filed = await run_in_threadpool(self.rights.honour_gpc, device_id)
        except SessionEndedError:
            return  # the page itself ends the session
        if filed is not None:
            log.info("GPC signal recorded as an objection in the portal")

    # POST /device/sign-in -----------------------------------------------------

    def _authenticate(self, number: str | None, password: str | None) -> Device | str:
        """The device on success, else "wrong" or "out_of_service"."""
        record: Device | None = None
        if number is not None:
            with self.database.reading() as connection:
                record = device_by_number(connection, number)
        if record is None or password is None:
            matches_portal_hash(_decoy_hash(), password or "")
            return "wrong"
        if not matches_portal_hash(record.portal_hash, password):
            # Not recorded in the audit trail: the extra write would make a known number
            # answer more slowly than an unknown one.
            return "wrong"
        if not record.in_service:
            return "out_of_service"
        with self.database.unit_of_work() as uow:
            self._audit(uow.connection, record, "device.portal.signed_in")
            uow.commit()
        return record

    def _too_many(self, request: Request, session: Session | None, wait: timedelta, then: str | None) -> Response:
        seconds = max(1, math.ceil(wait.total_seconds()))
        log.info("portal sign-in refused by the failure limit")
        return self._sign_in_page(
            request,
            session,
            then=then,
            status_code=429,
            error=Message(
                N_("Too many failed sign-ins. Please try again in %(minutes)s minutes."),
                {"minutes": max(1, math.ceil(seconds / 60))},
            ),
            headers={"Retry-After": str(seconds)},
        )

    async def sign_in(self, request: Request) -> Response:
        session = self.sessions.read(request)
        try:
            form = await forms.read_form(request)
        except FormError as exc:
            return self._message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        then = form.get("then") if form.get("then") in _RETURN_TO and self.rights is not None else None
        problem = self.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is CsrfProblem.NO_SESSION and request.cookies.get(COOKIE):
            # The cookie came but its session had expired: a fresh form, not a dead end.
            return self._sign_in_page(
                request,
                None,
                status_code=403,
                error=Message(N_("The sign-in page had expired. Please sign in again.")),
                then=then,
            )
        if problem is not None:
            return self._csrf_refused(request, session, problem)
        number = forms.sign_in_number(form)
        password = forms.sign_in_password(form)
        peer = request.client.host if request.client else None
        source = _source_key(client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies))
        # One attempt at a time per source and per number, so that parallel guesses cannot
        # all pass the check before the first failure is counted.
        async with self.attempts.hold(f"source:{source}"), self.attempts.hold(f"number:{number or '-'}"):
            now = self.clock.now()
            waits = [self.per_source.blocked_for(source, now)]
            if number is not None:
                waits.append(self.per_number.blocked_for(number, now))
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                return self._too_many(request, session, wait, then)
            result = await run_in_threadpool(self._authenticate, number, password)
            if result == "wrong":
                self.per_source.fail(source, now)
                if number is not None:
                    self.per_number.fail(number, now)
        if result == "wrong":
            return self._sign_in_page(request, session, status_code=401, error=WRONG_CREDENTIALS, then=then)
        if result == "out_of_service":
            return self._sign_in_page(
                request,
                session,
                then=then,
                status_code=403,
                error=Message(N_("This phone has been taken out of service; it cannot be signed in to.")),
            )
        assert isinstance(result, Device)
        if session is not None:
            self.sessions.revoke(session)  # a new session with a new token: no fixation
        signed_in = self.sessions.begin(SESSION_KIND, result.id)
        response = RedirectResponse(
            _overview_url(request_language(request), "signed_in", _RETURN_TO.get(then or "", PATH)), status_code=303
        )
        self.sessions.write(response, signed_in)
        return _private(response)

    # POST /device/sign-out ----------------------------------------------------

    def _record_sign_out(self, device_id: int) -> None:
        with self.database.unit_of_work() as uow:
            record = device_by_id(uow.connection, device_id)
            if record is not None:
                self._audit(uow.connection, record, "device.portal.signed_out")
                uow.commit()

    async def sign_out(self, request: Request) -> Response:
        session = self.sessions.read(request)
        try:
            form = await forms.read_form(request)
        except FormError as exc:
            return self._message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        lang = request_language(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        if session is None or device_id is None:
            # Nothing to end: a sign-out without a session changes nothing, so it needs no token.
            response = RedirectResponse(_overview_url(lang, "signed_out"), status_code=303)
            self.sessions.clear(response)
            return _private(response)
        problem = self.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is not None:
            return self._csrf_refused(request, session, problem)
        await run_in_threadpool(self._record_sign_out, device_id)
        self.sessions.revoke(session)
        response = RedirectResponse(_overview_url(lang, "signed_out"), status_code=303)
        self.sessions.clear(response)
        return _private(response)

    def _csrf_refused(self, request: Request, session: Session | None, problem: CsrfProblem) -> Response:
        log.info("portal form refused", reason=problem.value)
        kept = self.sessions.touch(session) if session is not None else None
        return self._message_page(request, 403, N_("The form was refused"), Message(CSRF_REASONS[problem]), kept)

    # The changes --------------------------------------------------------------

    def _apply(self, device_id: int, change: _Change, form: Form) -> Outcome:
        with self.database.unit_of_work() as uow:
            record = device_by_id(uow.connection, device_id)
            if record is None or not record.in_service:
                return Outcome(ended=True)
            try:
                outcome = change.work(uow.connection, record, form, self.clock.now())
            except FormError as exc:
                return Outcome(error=exc.message, status=exc.status, section=change.section)
            if outcome.done is not None:
                uow.commit()
            return outcome

    async def _post(self, request: Request, change: _Change) -> Response:
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        try:
            form = await forms.read_form(request)
        except FormError as exc:
            return self._message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        if session is None or device_id is None:
            return self._ended(request, session)
        problem = self.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is not None:
            return self._csrf_refused(request, session, problem)
        outcome = await run_in_threadpool(self._apply, device_id, change, form)
        if outcome.ended:
            return self._ended(request, session)
        if outcome.done is not None:
            response = RedirectResponse(
                _overview_url(request_language(request), outcome.done) + f"#{change.section}", status_code=303
            )
            self.sessions.write(response, self.sessions.touch(session))
            return _private(response)
        overview = await run_in_threadpool(self._read_overview, device_id)
        if overview is None:
            return self._ended(request, session)
        return self._overview_page(
            request, session, overview, status_code=outcome.status, error=outcome.error, section=outcome.section
        )

    def _switch(self, connection: Connection, record: Device, form: Form, now: datetime) -> Outcome:
        service, on = forms.service_switch(form)
        if bool(getattr(record, service.column)) != on:
            switch_service(connection, self.pseudonymizer, record, service, on, now)
        return Outcome(done=f"{service.value}_{'on' if on else 'off'}")

    def _nickname(self, connection: Connection, record: Device, form: Form, now: datetime) -> Outcome:
        if forms.action(form, ("set", "clear")) == "clear":
            if clear_nickname(connection, record.id):
                self._audit(connection, record, "device.portal.nickname_cleared")
            return Outcome(done="nickname_cleared")
        if not record.voip_on:
            raise FormError(409, Message(N_("Switch calls (VoIP) on first: the nickname belongs to the call service.")))
        set_nickname(connection, record.id, forms.nickname(form), now)
        self._audit(connection, record, "device.portal.nickname_set")
        return Outcome(done="nickname_set")

    def _profile(self, connection: Connection, record: Device, form: Form, now: datetime) -> Outcome:
        if forms.action(form, ("save", "delete")) == "delete":
            if delete_profile(connection, record.id):
                self._audit(connection, record, "device.portal.profile_deleted")
            return Outcome(done="profile_deleted")
        if not record.info_on:
            raise FormError(
                409,
                Message(N_("Switch the information services on first: the profile belongs to them.")),
            )
        changes: dict[str, object] = {"city": forms.city(form), "birth_date": forms.birth_date(form, now.date())}
        update_profile(connection, record.id, now, changes)
        self._audit(connection, record, "device.portal.profile_saved", {"settings": sorted(changes)})
        return Outcome(done="profile_saved")

    def _update(self, connection: Connection, record: Device, form: Form, now: datetime) -> Outcome:
        version, decision = forms.update_answer(form)
        try:
            decide(connection, record.id, record.product, record.software_version, version, decision, now)
        except NoSuchOfferError:
            raise FormError(
                409, Message(N_("This update is no longer offered to your phone. Look at the current offer below."))
            ) from None
        self._audit(
            connection,
            record,
            "device.update_answered",
            {"version": version, "decision": decision.value, "via": "portal"},
        )
        return Outcome(done="update_accepted" if decision is Decision.ACCEPTED else "update_declined")

    # GET /device/export.json --------------------------------------------------

    def _export(self, device_id: int, lang: str) -> dict[str, Any] | None:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            c = uow.connection
            record = device_by_id(c, device_id)
            if record is None or not record.in_service:
                return None
            offer = offer_for(c, record.id, record.software_version, newest_firmware(c, record.product))
            stores = held_stores(c, self.tables, record, self.pseudonymizer)
            document = export_document(
                stores,
                record,
                now,
                {
                    "services": {s.value: bool(getattr(record, s.column)) for s in Service},
                    "update_offer": None if offer is None else offer.as_json(),
                    # beside the data, what the notice says about each activity holding it.
                    **(
                        {}
                        if self.register is None
                        else {
                            "processing": disclosure(
                                self.register.register,
                                self.register.version,
                                sorted({store.activity for store in stores}),
                                lang,
                            )
                        }
                    ),
                },
            )
            self._audit(c, record, "device.portal.exported")
            uow.commit()
        return document

    async def export(self, request: Request) -> Response:
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        if session is None or device_id is None:
            return _private(JSONResponse({"error": "sign in at /device first"}, status_code=401))
        document = await run_in_threadpool(self._export, device_id, request_language(request))
        if document is None:
            self.sessions.revoke(session)
            ended = JSONResponse({"error": "your session has ended; sign in at /device again"}, status_code=401)
            self.sessions.clear(ended)
            return _private(ended)
        body = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
        response = Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="privateline-device-data.json"'},
        )
        self.sessions.write(response, self.sessions.touch(session))
        return _private(response)

    # /device/rights -------------------------------------------------------------

    def _rights_page(
        self,
        request: Request,
        session: Session,
        overview: RightsOverview,
        status_code: int = 200,
        error: Message | None = None,
        typed: Form | None = None,
    ) -> Response:
        assert self.rights is not None
        lang = request_language(request)
        gettext = _pages.gettext(lang)
        done_code = request.query_params.get("done") if status_code == 200 else None
        loaded = self.rights.engine.loaded
        told = disclosure(loaded.register, loaded.version, [], lang)
        typed = typed or {}

        def activity_name(key: str) -> str:
            if key == forms.ALL_ACTIVITIES:
                return str(gettext(ALL_PROCESSING))
            described = loaded.register.activities.get(key)
            return described.name.get(lang) if described is not None else str(gettext(activity_label(key)))

        def field_value(name: str, current: object) -> str:
            if name in typed:
                return typed[name]
            if current is None:
                return ""
            return current.isoformat() if isinstance(current, date) else str(current)

        return self._page(
            request,
            "rights.html.j2",
            self.sessions.touch(session),
            status_code=status_code,
            here=RIGHTS_PATH,
            device=overview.device,
            requests=overview.requests,
            overview=overview,
            done=RIGHTS_DONE.get(done_code) if done_code else None,
            error=error,
            text=typed.get("text", "")[: forms.MAX_RECTIFICATION * 2],
            max_text=forms.MAX_RECTIFICATION,
            max_nickname=MAX_NICKNAME,
            max_city=MAX_CITY,
            earliest_birth=forms.EARLIEST_BIRTH.isoformat(),
            today=self.clock.now().date().isoformat(),
            dpo=told["data_protection_officer"],
            kinds=RequestKind,
            all_activities=forms.ALL_ACTIVITIES,
            kind_label=request_kind_label,
            state_label=request_state_label,
            activity_label=activity_label,
            activity_name=activity_name,
            field_label=field_label,
            field_names=lambda names: ", ".join(str(gettext(field_label(n))) for n in names),
            field_unavailable=lambda name: FIELD_UNAVAILABLE.get(name, N_("This value cannot be corrected now.")),
            field_value=field_value,
            objection_state_label=objection_state_label,
            kept_reason=lambda why: kept_reason(why, gettext),
            max_destination=MAX_URL,
            destination=typed.get("destination", "")[:MAX_URL],
            transmission_outcome=lambda o: transmission_outcome(o.host, o.delivered, o.status, o.reason, gettext),
        )

    def _rights_ended(self, request: Request, session: Session | None, status_code: int = 401) -> Response:
        if session is not None:
            self.sessions.revoke(session)
        return self._sign_in_page(
            request,
            None,
            status_code=status_code,
            notice=Message(N_("Your session has ended. Please sign in again.")),
            then="rights",
        )

    async def rights_page(self, request: Request) -> Response:
        assert self.rights is not None
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        if session is None or device_id is None:
            # Nothing about any phone before its number and device password are checked.
            return self._sign_in_page(request, session, then="rights")
        await self._honour_gpc(request, device_id)
        try:
            overview = await run_in_threadpool(self.rights.overview, device_id)
        except SessionEndedError:
            return self._rights_ended(request, session, status_code=200)
        return self._rights_page(request, session, overview)

    async def file_request(self, request: Request) -> Response:
        assert self.rights is not None
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        try:
            form = await forms.read_form(request, forms.MAX_RIGHTS_FORM_BYTES)
        except FormError as exc:
            return self._message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        if session is None or device_id is None:
            return self._rights_ended(request, session)
        problem = self.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is not None:
            return self._csrf_refused(request, session, problem)
        try:
            overview = await run_in_threadpool(self.rights.overview, device_id)
        except SessionEndedError:
            return self._rights_ended(request, session)
        try:
            ask = forms.rights_request(form, overview.offered(), self.clock.now().date())
            filed = await run_in_threadpool(self.rights.file, device_id, ask, request_language(request))
        except (FormError, RefusedAskError) as exc:
            return self._rights_page(request, session, overview, status_code=exc.status, error=exc.message, typed=form)
        except SessionEndedError:
            return self._rights_ended(request, session)
        log.info("rights request filed in the portal", kind=filed.kind.value, carried_out=filed.carried_out)
        response = RedirectResponse(
            _overview_url(request_language(request), filed.done, RIGHTS_PATH) + f"#request-{filed.id}",
            status_code=303,
        )
        self.sessions.write(response, self.sessions.touch(session))
        return _private(response)

    async def package(self, request: Request) -> Response:
        assert self.rights is not None
        request_id = str(request.path_params["request_id"])
        session = self.sessions.read(request)
        device_id = session.subject(SESSION_KIND) if session is not None else None
        if session is None or device_id is None:
            return _private(JSONResponse({"error": "sign in at /device first"}, status_code=401))
        if not _REQUEST_ID.fullmatch(request_id):
            return _not_found()
        try:
            document = await run_in_threadpool(self.rights.package, device_id, request_id, request_language(request))
        except SessionEndedError:
            self.sessions.revoke(session)
            ended = JSONResponse({"error": "your session has ended; sign in at /device again"}, status_code=401)
            self.sessions.clear(ended)
            return _private(ended)
        if document is None:
            # Unknown, guessed, another phone's, not (yet) answerable: one answer for all.
            return _not_found()
        body = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
        day = self.clock.now().date().isoformat()
        response = Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="privateline-{document["request"]["kind"]}-{day}.json"'
            },
        )
        self.sessions.write(response, self.sessions.touch(session))
        return _private(response)

    # Routes -------------------------------------------------------------------

    def router(self) -> APIRouter:
        changes = {
            "services": _Change("services", self._switch, "services"),
            "nickname": _Change("nickname", self._nickname, "nickname"),
            "profile": _Change("profile", self._profile, "profile"),
            "update": _Change("update", self._update, "update"),
        }
        router = APIRouter()
        router.add_api_route(PATH, self.page, methods=["GET"], include_in_schema=False)
        router.add_api_route(f"{PATH}/sign-in", self.sign_in, methods=["POST"], include_in_schema=False)
        router.add_api_route(f"{PATH}/sign-out", self.sign_out, methods=["POST"], include_in_schema=False)
        router.add_api_route(f"{PATH}/export.json", self.export, methods=["GET"], include_in_schema=False)
        for name, change in changes.items():
            router.add_api_route(f"{PATH}/{name}", self._endpoint(change), methods=["POST"], include_in_schema=False)
        if self.rights is not None:
            router.add_api_route(RIGHTS_PATH, self.rights_page, methods=["GET"], include_in_schema=False)
            router.add_api_route(RIGHTS_PATH, self.file_request, methods=["POST"], include_in_schema=False)
            router.add_api_route(
                f"{RIGHTS_PATH}/{{request_id}}/package.json", self.package, methods=["GET"], include_in_schema=False
            )
        return router

    def _endpoint(self, change: _Change) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self._post(request, change)

        endpoint.__name__ = f"portal_{change.name}"
        return endpoint


def portal_router(
    database: Database,
    clock: Clock,
    pseudonymizer: Pseudonymizer,
    session_key: bytes,
    proxies: TrustedProxies,
    tables: list[sqlalchemy.Table],
    secure_cookies: bool = True,
    register: LoadedRegister | None = None,
    *,
    rights: RightsEngine | None = None,
    transmitter: Transmitter | None = None,
) -> APIRouter:
    """The device owner's portal under `/device`; `tables` is every declared table of the system.

    With the loaded `register`, the JSON download also carries, per activity holding the
    phone's data, what Art. 15(1) GDPR asks to be told (R-2).  With the `rights` engine,
    the owner files and follows rights requests at `/device/rights`; without it those
    addresses do not exist (404).  `transmitter` sends a portable copy to another
    provider when the owner names one (Art. 20(2), R-6; the `portability_*` settings);
    without it, only public addresses are reached and the public CAs trusted.
    """
    return Portal(
        database,
        clock,
        pseudonymizer,
        session_key,
        proxies,
        tables,
        secure_cookies,
        register,
        rights=rights,
        transmitter=transmitter,
    ).router()
