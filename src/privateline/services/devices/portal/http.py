"""The routes of the device owner's portal: its page frame, the overview and its changes.

`GET  /device`              sign-in form, or the overview of everything held about the phone
`POST /device/services`     switch VoIP, information services or messaging on or off (DEV-10)
`POST /device/nickname`     set or clear the nickname (VoIP on only)
`POST /device/profile`      save or delete the information profile (DEV-6; information services on only)
`POST /device/update`       accept or decline the offered software (DEV-9)
`GET  /device/export.json`  everything held about the phone, machine-readable (R-2, R-6)

Signing in and out (`/device/sign-in`, `/device/sign-out`) is `sign_in_http.py`'s, the
rights pages under `/device/rights` (R-13) are `rights_http.py`'s; the latter exist only
when the portal is given the rights engine, and `Portal.router()` registers them.  Given
it, a signed-in page view whose request carries `Sec-GPC: 1` records the phone's
objection to optional marketing and analytics (Art. 21(5)).

Every form carries the session's CSRF token; a change is answered with a redirect to
the overview (303) or, for bad input, with the overview and the reason (4xx).  All
database work and the argon2 verification run in worker threads.  No log line names a
number, an address or anything an owner typed; the audit trail names the phone only by
its pseudonym.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
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
from privateline.register.loader import LoadedRegister
from privateline.register.notice import disclosure
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
    N_,
    SERVICE_DESCRIPTIONS,
    SERVICE_LABELS,
    TECHNICAL,
    activity_label,
    category_label,
)
from privateline.services.devices.portal.rights import DeviceRights
from privateline.services.devices.portal.rights_http import PATH as RIGHTS_PATH
from privateline.services.devices.portal.rights_http import RightsPages
from privateline.services.devices.portal.sign_in_http import SignIn
from privateline.services.devices.profiles import MAX_CITY, InfoProfile, delete_profile, profile_of, update_profile
from privateline.services.devices.records import SUBJECT, Device, Service, device_by_id
from privateline.services.devices.switches import switch_service
from privateline.services.devices.updates import Decision, NoSuchOfferError, Offer, decide, newest_firmware, offer_for
from privateline.services.forwarding import TrustedProxies
from privateline.services.pages import Pages, request_language
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.transmission import Transmitter
from privateline.services.sessions import CSRF_FIELD, CsrfProblem, Session, SessionCookies
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database

log = structlog.get_logger("privateline.portal")

PATH = "/device"
COOKIE = "privateline_device"
SESSION_KIND = "device"

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

# A sign-in form shown on these pages comes back to them.
_RETURN_TO = {"rights": RIGHTS_PATH}


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
        self.rights_pages = None if self.rights is None else RightsPages(self, self.rights)
        self.sign_ins = SignIn(self)

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
        if self.rights_pages is not None:
            await self.rights_pages.honour_gpc(request, device_id)
        overview = await run_in_threadpool(self._read_overview, device_id)
        if overview is None:
            self.sessions.revoke(session)
            return self._sign_in_page(
                request, None, notice=Message(N_("Your session has ended. Please sign in again."))
            )
        return self._overview_page(request, session, overview)

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

    # What the sign-in and rights routes (sign_in_http.py, rights_http.py) build on ---

    path = PATH
    cookie = COOKIE
    session_kind = SESSION_KIND
    return_to = _RETURN_TO
    audit = _audit
    render = _page
    sign_in_page = _sign_in_page
    message_page = _message_page
    csrf_refused = _csrf_refused

    pages = _pages
    private = staticmethod(_private)
    not_found = staticmethod(_not_found)
    overview_url = staticmethod(_overview_url)

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
        for path, endpoint, method in self.sign_ins.routes():
            router.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
        router.add_api_route(f"{PATH}/export.json", self.export, methods=["GET"], include_in_schema=False)
        for name, change in changes.items():
            router.add_api_route(f"{PATH}/{name}", self._endpoint(change), methods=["POST"], include_in_schema=False)
        if self.rights_pages is not None:
            for path, endpoint, method in self.rights_pages.routes():
                router.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
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
