"""The device owner's rights pages in the portal (R-13).

`GET  /device/rights`       the owner's rights requests: file one, follow its state
`POST /device/rights`       access, portability (answered at once; sent on to another provider's
                            HTTPS address when one is named, Art. 20(2)), erasure (carried out at once,
                            R-4), rectification field by field (at once, R-3) or in words (left
                            for the DPO), restriction and its lifting (R-7), objection (R-8),
                            consent withdrawal (R-9)
`GET  /device/rights/{id}/package.json`  the package of a completed access or portability
                            request of this phone (R-2, R-6); any other id: the same 404

The pages exist only when the portal is given the rights engine; they run on the
portal's sessions, forms and page frame (`portal.http.Portal`), which registers them.
Given the engine, a signed-in page view (here or on the overview) whose request carries
`Sec-GPC: 1` records the phone's objection to optional marketing and analytics (Art. 21(5)).
What the requests do is `portal.rights.DeviceRights`'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from privateline.kernel.requests import RequestKind
from privateline.register.notice import disclosure
from privateline.services.devices.nicknames import MAX_NICKNAME
from privateline.services.devices.portal import forms
from privateline.services.devices.portal.forms import Form, FormError, Message
from privateline.services.devices.portal.labels import (
    ALL_PROCESSING,
    FIELD_UNAVAILABLE,
    N_,
    activity_label,
    field_label,
    kept_reason,
    objection_state_label,
    request_kind_label,
    request_state_label,
    transmission_outcome,
)
from privateline.services.devices.portal.rights import DeviceRights, RefusedAskError, RightsOverview, SessionEndedError
from privateline.services.devices.profiles import MAX_CITY
from privateline.services.pages import request_language
from privateline.services.privacy.signals import gpc_objects
from privateline.services.privacy.transmission import MAX_URL
from privateline.services.sessions import CSRF_FIELD, Session

if TYPE_CHECKING:
    from privateline.services.devices.portal.http import Portal

log = structlog.get_logger("privateline.portal")

PATH = "/device/rights"

RIGHTS_DONE: dict[str, str] = {
    "signed_in": N_("You are signed in."),  # the overview's message of the same name
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

# What `secrets.token_urlsafe` makes; anything else cannot be a request id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class RightsPages:
    """The rights pages and their form, on the portal's sessions and page frame."""

    def __init__(self, portal: Portal, rights: DeviceRights) -> None:
        self.portal = portal
        self.rights = rights

    async def honour_gpc(self, request: Request, device_id: int) -> None:
        """A signed-in page view carrying `Sec-GPC: 1` objects to optional marketing and analytics (Art. 21(5))."""
        if not gpc_objects(request.headers):
            return
        try:
            filed = await run_in_threadpool(self.rights.honour_gpc, device_id)
        except SessionEndedError:
            return  # the page itself ends the session
        if filed is not None:
            log.info("GPC signal recorded as an objection in the portal")

    def _page(
        self,
        request: Request,
        session: Session,
        overview: RightsOverview,
        status_code: int = 200,
        error: Message | None = None,
        typed: Form | None = None,
    ) -> Response:
        lang = request_language(request)
        gettext = self.portal.pages.gettext(lang)
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

        return self.portal.render(
            request,
            "rights.html.j2",
            self.portal.sessions.touch(session),
            status_code=status_code,
            here=PATH,
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
            today=self.portal.clock.now().date().isoformat(),
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

    def _ended(self, request: Request, session: Session | None, status_code: int = 401) -> Response:
        if session is not None:
            self.portal.sessions.revoke(session)
        return self.portal.sign_in_page(
            request,
            None,
            status_code=status_code,
            notice=Message(N_("Your session has ended. Please sign in again.")),
            then="rights",
        )

    async def page(self, request: Request) -> Response:
        session = self.portal.sessions.read(request)
        device_id = session.subject(self.portal.session_kind) if session is not None else None
        if session is None or device_id is None:
            # Nothing about any phone before its number and device password are checked.
            return self.portal.sign_in_page(request, session, then="rights")
        await self.honour_gpc(request, device_id)
        try:
            overview = await run_in_threadpool(self.rights.overview, device_id)
        except SessionEndedError:
            return self._ended(request, session, status_code=200)
        return self._page(request, session, overview)

    async def file_request(self, request: Request) -> Response:
        session = self.portal.sessions.read(request)
        device_id = session.subject(self.portal.session_kind) if session is not None else None
        try:
            form = await forms.read_form(request, forms.MAX_RIGHTS_FORM_BYTES)
        except FormError as exc:
            return self.portal.message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        if session is None or device_id is None:
            return self._ended(request, session)
        problem = self.portal.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is not None:
            return self.portal.csrf_refused(request, session, problem)
        try:
            overview = await run_in_threadpool(self.rights.overview, device_id)
        except SessionEndedError:
            return self._ended(request, session)
        try:
            ask = forms.rights_request(form, overview.offered(), self.portal.clock.now().date())
            filed = await run_in_threadpool(self.rights.file, device_id, ask, request_language(request))
        except (FormError, RefusedAskError) as exc:
            return self._page(request, session, overview, status_code=exc.status, error=exc.message, typed=form)
        except SessionEndedError:
            return self._ended(request, session)
        log.info("rights request filed in the portal", kind=filed.kind.value, carried_out=filed.carried_out)
        response = RedirectResponse(
            self.portal.overview_url(request_language(request), filed.done, PATH) + f"#request-{filed.id}",
            status_code=303,
        )
        self.portal.sessions.write(response, self.portal.sessions.touch(session))
        return self.portal.private(response)

    async def package(self, request: Request) -> Response:
        request_id = str(request.path_params["request_id"])
        session = self.portal.sessions.read(request)
        device_id = session.subject(self.portal.session_kind) if session is not None else None
        if session is None or device_id is None:
            return self.portal.private(JSONResponse({"error": "sign in at /device first"}, status_code=401))
        if not _REQUEST_ID.fullmatch(request_id):
            return self.portal.not_found()
        try:
            document = await run_in_threadpool(self.rights.package, device_id, request_id, request_language(request))
        except SessionEndedError:
            self.portal.sessions.revoke(session)
            ended = JSONResponse({"error": "your session has ended; sign in at /device again"}, status_code=401)
            self.portal.sessions.clear(ended)
            return self.portal.private(ended)
        if document is None:
            # Unknown, guessed, another phone's, not (yet) answerable: one answer for all.
            return self.portal.not_found()
        body = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
        day = self.portal.clock.now().date().isoformat()
        response = Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="privateline-{document["request"]["kind"]}-{day}.json"'
            },
        )
        self.portal.sessions.write(response, self.portal.sessions.touch(session))
        return self.portal.private(response)

    def routes(self) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
        return [
            (PATH, self.page, "GET"),
            (PATH, self.file_request, "POST"),
            (f"{PATH}/{{request_id}}/package.json", self.package, "GET"),
        ]
