"""`/cookie-settings`, the consent banner and the footer link of every page (WEB-8, R-2, R-4, R-9).

`GET  /cookie-settings`              the visitor's choices, the receipt of each, and their rights
`POST /cookie-settings`              save the choices (also the banner's "accept all" / "reject all")
`GET  /cookie-settings/export.json`  everything held about this browser (an access request, answered at once)
`POST /cookie-settings/forget`       erase what is held about this browser (an erasure request, carried out at once)

The banner and the "Cookie settings" link are added to every page rendered through
`services.pages.Pages` (see `SiteChrome`), so no page can forget them.  The banner is
shown until the visitor answered and again when an answer lapsed after a year (WEB-8);
the decision is read from the visitor's signed cookie, so it costs a page no query.

Identity (R-2, R-4): the only proof a website visitor has is their browser's cookie.
No cookie, a forged cookie and a cookie of a browser that never chose anything all get
the same answer, so nothing tells whether some other visitor exists.

Forms: the visitor has no session, so a form carries a signed, time-limited token
(itsdangerous) and a post is accepted only from the site's own pages (`Origin` or
`Sec-Fetch-Site`, as OWASP's CSRF guidance describes): a third-party page cannot make a
visitor's browser record a choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.requests import RequestKind
from privateline.register.loader import LoadedRegister
from privateline.services.pages import Pages, request_language
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.signals import gpc_objects
from privateline.services.site.consent.choices import Answer, VisitorChoices, questions
from privateline.services.site.consent.visitor import Visitor, VisitorCookies
from privateline.storage.database import Database
from privateline.storage.rights_requests import RightsRequests

log = structlog.get_logger("privateline.consent")

PATH = "/cookie-settings"
FORM_TOKEN_AGE = timedelta(hours=12)
MAX_FIELDS = 32
METHOD_BANNER = "banner"
METHOD_SETTINGS = "cookie-settings"
_ACTIONS = ("save", "accept_all", "reject_all")
VIA = "cookie-settings"

_pages = Pages("privateline.services.site.consent", chrome=False)


def _local_path(target: str | None) -> str:
    """Where to go after the banner: a path of this site, never another site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return PATH
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return PATH
    return target[:512]


@dataclass(frozen=True)
class FormRefused(Exception):  # noqa: N818 - a refusal, not a bug
    status: int
    reason: str


class ConsentSite:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        pseudonymizer: Pseudonymizer,
        session_key: bytes,
        loaded: LoadedRegister,
        rights: RightsEngine,
        *,
        secure_cookies: bool,
    ) -> None:
        self.database = database
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.loaded = loaded
        self.rights = rights
        self.cookies = VisitorCookies(session_key, secure=secure_cookies)
        self._forms = TimestampSigner(session_key, salt="privateline.consent-form")

    # The banner and the footer link on every page ----------------------------------

    def chrome(self, request: Request, lang: str) -> str:
        # Rendered by Jinja with autoescaping, so the result is safe HTML.
        visitor = self.cookies.read(request)
        gpc = gpc_objects(request.headers)
        asked = [q for q in questions(self.loaded, lang) if q.on_consent]
        banner = bool(asked) and not gpc and (visitor is None or visitor.must_be_asked(self.clock.now()))
        return _pages.render(
            "chrome.html.j2",
            lang,
            banner=banner,
            questions=asked,
            form_token=self._form_token(),
            return_to=_local_path(request.url.path + (f"?{request.url.query}" if request.url.query else "")),
            settings=PATH,
        )

    # Forms ---------------------------------------------------------------------------

    def _form_token(self) -> str:
        return self._forms.sign(b"consent").decode("ascii")

    async def _form(self, request: Request) -> FormData:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise FormRefused(415, "send the form as application/x-www-form-urlencoded")
        if not _same_origin(request):
            raise FormRefused(403, "this form can only be sent from this site's own pages")
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        token = form.get("csrf")
        try:
            self._forms.unsign(str(token or ""), max_age=int(FORM_TOKEN_AGE.total_seconds()))
        except SignatureExpired:
            raise FormRefused(403, "the form has expired; load the page again") from None
        except BadSignature:
            raise FormRefused(403, "the form is not one of this site's forms; load the page again") from None
        return form

    # Pages ---------------------------------------------------------------------------

    def _page(self, request: Request, status: int = 200, **extra: Any) -> Response:
        lang = request_language(request)
        visitor = self.cookies.read(request)
        gpc = gpc_objects(request.headers)
        now = self.clock.now()
        answers: list[Answer]
        if visitor is None:
            answers = [Answer(q, not q.on_consent and not gpc, None, None) for q in questions(self.loaded, lang)]
            history: list[Any] = []
        else:
            subject = visitor.subject(self.pseudonymizer)
            with self.database.reading() as connection:
                choices = VisitorChoices(connection, self.loaded)
                answers = choices.answers(subject, lang, now, gpc=gpc)
                history = choices.receipts(subject)
        names = {q.activity: q.name for q in questions(self.loaded, lang)}
        return _pages.response(
            request,
            "settings.html.j2",
            status_code=status,
            lang=lang,
            here=PATH,
            answers=answers,
            history=list(reversed(history)),
            names=names,
            gpc=gpc,
            known=visitor is not None,
            form_token=self._form_token(),
            saved=request.query_params.get("saved"),
            **{"error": None, "erased": None, **extra},
        )

    async def settings_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._page, request)

    async def save(self, request: Request) -> Response:
        try:
            form = await self._form(request)
        except FormRefused as refused:
            return await run_in_threadpool(self._page, request, refused.status, error=refused.reason)
        action = str(form.get("action") or "save")
        if action not in _ACTIONS:
            return await run_in_threadpool(self._page, request, 422, error="unknown action")
        offered = [q.activity for q in questions(self.loaded, "en")]
        if action == "accept_all":
            wanted = dict.fromkeys(offered, True)
        elif action == "reject_all":
            wanted = dict.fromkeys(offered, False)
        else:
            ticked = set(form.getlist("allow"))
            unknown = ticked.difference(offered)
            if unknown:
                return await run_in_threadpool(self._page, request, 422, error="unknown purpose in the form")
            wanted = {a: a in ticked for a in offered}
        method = METHOD_BANNER if form.get("from") == METHOD_BANNER else METHOD_SETTINGS
        gpc = gpc_objects(request.headers)
        visitor = self.cookies.read(request) or self.cookies.new()

        def record() -> tuple[str, datetime | None]:
            now = self.clock.now()
            subject = visitor.subject(self.pseudonymizer)
            with self.database.unit_of_work() as uow:
                receipt = VisitorChoices(uow.connection, self.loaded).record(subject, wanted, now, method, gpc=gpc)
                uow.commit()
            return receipt.record_id, self._next_question(subject, now)

        record_id, ask_after = await run_in_threadpool(record)
        if method == METHOD_BANNER:
            target = _local_path(str(form.get("return_to") or ""))
        else:
            target = f"{PATH}?lang={request_language(request)}&saved={record_id}"
        response = RedirectResponse(target, status_code=303)
        self.cookies.write(response, replace(visitor, ask_after=ask_after))
        return response

    def _next_question(self, subject: Any, now: datetime) -> datetime | None:
        """The earliest moment one of the visitor's answers lapses (the banner is due again then)."""
        with self.database.reading() as connection:
            events = VisitorChoices(connection, self.loaded).receipts(subject)
        latest: dict[str, Any] = {}
        for event in events:
            latest[event.purpose] = event
        ends = [e.expires_at for e in latest.values() if e.expires_at is not None and e.expires_at > now]
        return min(ends) if ends else now + timedelta(days=365)

    # Rights of the visitor (identity: this browser's cookie) --------------------------

    def _file(self, visitor: Visitor, kind: RequestKind) -> str:
        now = self.clock.now()
        subject = visitor.subject(self.pseudonymizer)
        with self.database.unit_of_work() as uow:
            requests = RightsRequests(uow.connection)
            filed = requests.file(kind, subject.kind, subject.pseudonym, now, {"via": VIA})
            requests.transition(filed.id, lambda r: r.verify_identity(now), now, by="subject")
            uow.commit()
        return filed.id

    def _complete(self, request_id: str) -> None:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            RightsRequests(uow.connection).transition(request_id, lambda r: r.complete(now), now, by="system")
            uow.commit()

    async def export(self, request: Request) -> Response:
        visitor = self.cookies.read(request)
        if visitor is None:
            return _nothing_held()
        lang = request_language(request)

        def package() -> dict[str, Any] | None:
            subject = visitor.subject(self.pseudonymizer)
            if not any(store.rows for store in self.rights.held(subject)):
                return None
            request_id = self._file(visitor, RequestKind.ACCESS)
            document = self.rights.access_package(subject, lang, request_id)
            self._complete(request_id)
            return {"request": {"id": request_id, "kind": "access"}, **document}

        document = await run_in_threadpool(package)
        if document is None:
            return _nothing_held()
        return Response(
            json.dumps(document, indent=1, ensure_ascii=False),
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="privateline-cookie-settings.json"',
                "Cache-Control": "no-store",
            },
        )

    async def forget(self, request: Request) -> Response:
        try:
            await self._form(request)
        except FormRefused as refused:
            return await run_in_threadpool(self._page, request, refused.status, error=refused.reason)
        visitor = self.cookies.read(request)
        if visitor is None:
            return await run_in_threadpool(self._page, request, erased={"erased": {}, "anonymised": {}, "kept": []})

        def erase() -> dict[str, Any]:
            request_id = self._file(visitor, RequestKind.ERASURE)
            report = self.rights.erase(visitor.subject(self.pseudonymizer), request_id)
            self._complete(request_id)
            return report.as_json()

        report = await run_in_threadpool(erase)
        response = self._page_without_visitor(request, report)
        self.cookies.clear(response)
        return response

    def _page_without_visitor(self, request: Request, report: dict[str, Any]) -> Response:
        lang = request_language(request)
        return _pages.response(
            request,
            "forgotten.html.j2",
            lang=lang,
            here=PATH,
            report=report,
        )

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(PATH, self.settings_page, methods=["GET"], include_in_schema=False)
        router.add_api_route(PATH, self.save, methods=["POST"], include_in_schema=False)
        router.add_api_route(f"{PATH}/export.json", self.export, methods=["GET"], include_in_schema=False)
        router.add_api_route(f"{PATH}/forget", self.forget, methods=["POST"], include_in_schema=False)
        return router


def _nothing_held() -> Response:
    # The same answer for no cookie, a forged one and a browser that never chose: R-2's
    # "confirmation whether data is processed" is given only to the browser it concerns.
    return JSONResponse(
        {"error": "this browser has no consent record with us; nothing is held about it"}, status_code=404
    )


def _same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        # Browsers send Origin with every form post; a client without it is not a browser
        # page another site controls (CSRF needs a victim's browser).
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host
