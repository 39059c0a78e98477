"""The e-mail channel's routes, under `/privacy-center/email` (R-2, R-4, R-8, R-9, R-13).

`GET  /privacy-center/email`            the form: which address to send a link to
`POST /privacy-center/email`            send a link; always the same answer, whatever the address
`GET  /privacy-center/email/open?t=…`   the link from the mail: a page with one button (nothing is used up)
`POST /privacy-center/email/open`       redeem the link (once), start the short session
`GET  /privacy-center/email/held`       what is held about the address, the person's requests
`POST /privacy-center/email/access`     an access request, answered at once
`GET  /privacy-center/email/requests/{id}/package.json`  its package, in a session of the same address only
`POST /privacy-center/email/erase`      erasure, carried out at once
`POST /privacy-center/email/stop-marketing`  objection / consent withdrawal for all marketing
`POST /privacy-center/email/sign-out`

Identity is never bypassed (Art. 12(2), (6)).  Asking for a link answers with the same
page for every address and looks nothing up, so neither the page nor its timing tells
whether a subject exists; the link goes to the address whatever we hold.  An expired,
replayed, altered or foreign link, and a page of the session without a valid session,
all get one and the same refusal (403), which names nobody.  Redeeming takes a POST
with the CSRF token of the page the link opened, so a mail scanner that fetches links
cannot use one up, and another site cannot redeem a link in a visitor's browser.

The address exists only while its request is answered: it is turned into its keyed
pseudonym, written into the mail, and dropped.  No log line, no row and no cookie
holds it; the access log never records query strings, where the token travels.
Links are built from the configured public address, never from the request's Host
header, which a sender could forge to have a person's link point elsewhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from privateline.kernel.clock import Clock
from privateline.kernel.network import source_key
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.requests import RequestKind
from privateline.register.loader import LoadedRegister
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.services.pages import Pages, request_language
from privateline.services.privacy.email_link.address import NEWSLETTER_RECIPIENT, normalised, pseudonym, subject_of
from privateline.services.privacy.email_link.forms import Form, FormRefusedError, read_form
from privateline.services.privacy.email_link.letter import N_, link_letter
from privateline.services.privacy.email_link.limits import LinkRequestLimits
from privateline.services.privacy.email_link.link import LIFETIME, LinkClaim, LinkTokens
from privateline.services.privacy.email_link.mail import OUTBOX, Mail, MailError, MailSender, SmtpServer
from privateline.services.privacy.email_link.rights import VIA, RecipientRights
from privateline.services.privacy.email_link.session import ABSOLUTE, IDLE, LinkSession, LinkSessions
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.held import Subject
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.email_link_redemptions import EmailLinkRedemptions

log = structlog.get_logger("privateline.email_link")

CENTER = "/privacy-center"
PATH = f"{CENTER}/email"
OPEN = f"{PATH}/open"
HELD = f"{PATH}/held"
ACCESS = f"{PATH}/access"
ERASE = f"{PATH}/erase"
STOP_MARKETING = f"{PATH}/stop-marketing"
SIGN_OUT = f"{PATH}/sign-out"
COOKIE = "privateline_email_link"
CSRF_FIELD = "csrf"
TOKEN_FIELD = "t"  # noqa: S105 - the name of the form field, not a secret
LANGUAGES = (("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands"))
# What `secrets.token_urlsafe` makes; anything else cannot be a request id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

_pages = Pages("privateline.services.privacy.email_link")

DONE: dict[str, str] = {
    "access": N_("Your request for access has been answered: download the file in the list of your requests below."),
    "erasure": N_(
        "What we held about this address in our services has been erased. The list of your requests below shows "
        "what was erased, what was kept, and why."
    ),
    "marketing": N_("Recorded: we will not use this address for any marketing."),
    "pending": N_(
        "Your request has been recorded, but it could not be carried out at once. Our data protection officer "
        "will complete it; you can follow it in the list below."
    ),
}
KIND_LABELS: dict[str, str] = {
    RequestKind.ACCESS.value: N_("Access to the data"),
    RequestKind.PORTABILITY.value: N_("A portable copy"),
    RequestKind.RECTIFICATION.value: N_("Rectification"),
    RequestKind.ERASURE.value: N_("Erasure"),
    RequestKind.RESTRICTION.value: N_("Restriction"),
    RequestKind.OBJECTION.value: N_("Objection"),
    RequestKind.CONSENT_WITHDRAWAL.value: N_("Withdrawal of consent"),
}
STATE_LABELS: dict[str, str] = {
    "received": N_("received"),
    "identity_verified": N_("identity verified"),
    "in_progress": N_("in progress"),
    "extended": N_("extended"),
    "completed": N_("completed"),
    "refused": N_("refused"),
}


class LinkSettings(Protocol):
    """The settings the channel reads (the application's `Settings` has them all)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def public_url(self) -> str | None: ...
    @property
    def cookie_secure(self) -> bool: ...
    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_starttls(self) -> bool: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> SecretStr | None: ...
    @property
    def smtp_timeout_seconds(self) -> float: ...
    @property
    def mail_from(self) -> str: ...


def mail_sender(settings: LinkSettings, clock: Clock) -> MailSender:
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None
        server = SmtpServer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_starttls,
            settings.smtp_username,
            password,
            settings.smtp_timeout_seconds,
        )
        return MailSender(settings.mail_from, clock, smtp=server)
    return MailSender(settings.mail_from, clock, outbox=Path(settings.data_dir) / OUTBOX)


def public_base(settings: LinkSettings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.http_port}"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class EmailLinks:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        pseudonymizer: Pseudonymizer,
        session_key: bytes,
        proxies: TrustedProxies,
        loaded: LoadedRegister,
        engine: RightsEngine,
        mailer: MailSender,
        public_url: str,
        *,
        secure_cookies: bool,
        subject_kind: str = NEWSLETTER_RECIPIENT,
    ) -> None:
        self.database = database
        self.clock = clock
        self.pseudonymizer = pseudonymizer
        self.proxies = proxies
        self.loaded = loaded
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.subject_kind = subject_kind
        self.tokens = LinkTokens(session_key)
        self.sessions = LinkSessions(session_key, clock, name=COOKIE, path=PATH, secure=secure_cookies)
        self.limits = LinkRequestLimits()
        self.rights = RecipientRights(database, clock, engine)

    # Pages -----------------------------------------------------------------------

    def _page(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        session: LinkSession | None = None,
        query: dict[str, str] | None = None,
        here: str = PATH,
        **context: Any,
    ) -> Response:
        lang = request_language(request)
        languages = [(code, name, f"{here}?{urlencode({'lang': code, **(query or {})})}") for code, name in LANGUAGES]
        response = _pages.response(
            request,
            template,
            status_code=status_code,
            lang=lang,
            languages=languages,
            ask=PATH,
            minutes=int(LIFETIME.total_seconds() // 60),
            csrf=session.csrf_token if session is not None else "",
            csrf_field=CSRF_FIELD,
            **context,
        )
        if session is not None:
            self.sessions.write(response, session)
        return _private(response)

    def _ask_page(self, request: Request, state: str, status_code: int = 200, **context: Any) -> Response:
        return self._page(request, "ask.html.j2", status_code, state=state, **context)

    def _refused(self, request: Request) -> Response:
        """The one answer to every link or session that does not prove who someone is."""
        return self._page(request, "refused.html.j2", 403)

    def _form_refused(self, request: Request, status: int, session: LinkSession | None = None) -> Response:
        kept = self.sessions.touch(session) if session is not None else None
        return self._page(request, "form_refused.html.j2", status, session=kept)

    # Asking for a link ---------------------------------------------------------------

    async def ask_page(self, request: Request) -> Response:
        return self._ask_page(request, "ask")

    async def ask(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormRefusedError as refused:
            return self._form_refused(request, refused.status)
        lang = request_language(request)
        address = normalised(form.get("address", ""))
        peer = request.client.host if request.client else None
        source = source_key(client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies))
        now = self.clock.now()
        pseudonym_ = pseudonym(self.pseudonymizer, address, self.subject_kind) if address is not None else None
        wait = self.limits.admit(source, pseudonym_, now)
        if wait is not None:
            return self._too_many(request, wait)
        if address is None or pseudonym_ is None:
            return self._ask_page(request, "invalid", 422)
        token = self.tokens.issue(self.subject_kind, pseudonym_, now)
        link = f"{self.public_url}{OPEN}?{urlencode({'lang': lang, TOKEN_FIELD: token})}"
        subject, body = link_letter(_pages, lang, link, int(LIFETIME.total_seconds() // 60), self._controller())
        try:
            await run_in_threadpool(self.mailer.send, Mail(address, subject, body, lang))
        except MailError as exc:
            # The person is told what everyone is told; the operator sees the failure, not the address.
            log.error("a link mail could not be sent", error=str(exc), transport=self.mailer.describe)
        return self._ask_page(request, "sent")

    def _controller(self) -> str:
        return self.loaded.register.controller.name

    def _too_many(self, request: Request, wait: timedelta) -> Response:
        seconds = max(1, math.ceil(wait.total_seconds()))
        log.info("a link request was refused by the rate limit")
        response = self._ask_page(request, "too_many", 429, wait_minutes=max(1, math.ceil(seconds / 60)))
        response.headers["Retry-After"] = str(seconds)
        return response

    # Opening the link ------------------------------------------------------------------

    def _claim(self, token: object) -> LinkClaim | None:
        claim = self.tokens.read(token, self.clock.now())
        if claim is None or claim.subject_kind != self.subject_kind:
            return None
        return claim

    def _used(self, nonce: str) -> bool:
        with self.database.reading() as connection:
            return EmailLinkRedemptions(connection).redeemed(nonce)

    async def open_page(self, request: Request) -> Response:
        token = request.query_params.get(TOKEN_FIELD)
        claim = self._claim(token)
        if claim is None or await run_in_threadpool(self._used, claim.nonce):
            log.info("an e-mail link was refused")
            return self._refused(request)
        assert token is not None
        # An anonymous session, for the CSRF token of the one button; nothing is used up yet.
        return self._page(
            request,
            "confirm.html.j2",
            session=self.sessions.begin(),
            query={TOKEN_FIELD: token},
            here=OPEN,
            action=OPEN,
            token=token,
            token_field=TOKEN_FIELD,
        )

    def _redeem(self, claim: LinkClaim) -> bool:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            if not EmailLinkRedemptions(uow.connection).redeem(claim.nonce, claim.subject_kind, claim.pseudonym, now):
                return False
            AuditLog(uow.connection).append(now, "rights.identity_proved", claim.pseudonym, {"via": VIA})
            uow.commit()
        return True

    async def redeem(self, request: Request) -> Response:
        session = self.sessions.read(request)
        try:
            form = await read_form(request)
        except FormRefusedError as refused:
            return self._form_refused(request, refused.status, session)
        # The CSRF check comes first: a forged post uses nothing up.
        if not self.sessions.csrf_matches(session, form.get(CSRF_FIELD)):
            log.info("an e-mail link form was refused", reason="csrf")
            return self._form_refused(request, 403, session)
        claim = self._claim(form.get(TOKEN_FIELD))
        if claim is None or not await run_in_threadpool(self._redeem, claim):
            log.info("an e-mail link was refused")
            return self._refused(request)
        assert session is not None
        self.sessions.revoke(session)  # a new session with a new token: no fixation
        verified = self.sessions.begin(claim.subject_kind, claim.pseudonym)
        response = RedirectResponse(f"{HELD}?{urlencode({'lang': request_language(request)})}", status_code=303)
        self.sessions.write(response, verified)
        return _private(response)

    # The verified session ----------------------------------------------------------------

    def _verified(self, request: Request) -> tuple[LinkSession, Subject] | None:
        session = self.sessions.read(request)
        if session is None or not session.verified or session.subject_kind != self.subject_kind:
            return None
        assert session.pseudonym is not None
        return self.sessions.touch(session), subject_of(self.subject_kind, session.pseudonym)

    async def held(self, request: Request) -> Response:
        verified = self._verified(request)
        if verified is None:
            return self._refused(request)
        session, subject = verified
        overview = await run_in_threadpool(self.rights.overview, subject)
        lang = request_language(request)
        done = request.query_params.get("done")
        gettext = _pages.gettext(lang)
        return self._page(
            request,
            "held.html.j2",
            session=session,
            here=HELD,
            overview=overview,
            done=gettext(DONE[done]) if done in DONE else None,
            activity_name=self._activity_name(lang),
            kind_label=lambda kind: gettext(KIND_LABELS.get(kind, kind)),
            state_label=lambda state: gettext(STATE_LABELS.get(state, state)),
            show=_show(gettext),
            package_url=lambda request_id: f"{PATH}/requests/{request_id}/package.json?lang={lang}",
            actions={"access": ACCESS, "erase": ERASE, "stop_marketing": STOP_MARKETING, "sign_out": SIGN_OUT},
            idle_minutes=int(IDLE.total_seconds() // 60),
            absolute_minutes=int(ABSOLUTE.total_seconds() // 60),
        )

    def _activity_name(self, lang: str) -> Callable[[str], str]:
        activities = self.loaded.register.activities

        def name(activity: str) -> str:
            described = activities.get(activity)
            return described.name.get(lang) if described is not None else activity

        return name

    async def _verified_post(self, request: Request) -> tuple[LinkSession, Subject, Form] | Response:
        session = self.sessions.read(request)
        try:
            form = await read_form(request)
        except FormRefusedError as refused:
            return self._form_refused(request, refused.status, session)
        verified = self._verified(request)
        if verified is None:
            return self._refused(request)
        if not self.sessions.csrf_matches(verified[0], form.get(CSRF_FIELD)):
            log.info("an e-mail link form was refused", reason="csrf")
            return self._form_refused(request, 403, verified[0])
        return verified[0], verified[1], form

    def _back(self, request: Request, session: LinkSession, done: str) -> Response:
        query = urlencode({"lang": request_language(request), "done": done})
        response = RedirectResponse(f"{HELD}?{query}#requests", status_code=303)
        self.sessions.write(response, session)
        return _private(response)

    async def access(self, request: Request) -> Response:
        checked = await self._verified_post(request)
        if isinstance(checked, Response):
            return checked
        session, subject, _form = checked
        await run_in_threadpool(self.rights.access, subject)
        return self._back(request, session, "access")

    async def erase(self, request: Request) -> Response:
        checked = await self._verified_post(request)
        if isinstance(checked, Response):
            return checked
        session, subject, _form = checked
        filed = await run_in_threadpool(self.rights.erase, subject)
        return self._back(request, session, "erasure" if filed.carried_out else "pending")

    async def stop_marketing(self, request: Request) -> Response:
        checked = await self._verified_post(request)
        if isinstance(checked, Response):
            return checked
        session, subject, _form = checked
        filed = await run_in_threadpool(self.rights.stop_marketing, subject)
        return self._back(request, session, "marketing" if all(f.carried_out for f in filed) else "pending")

    async def package(self, request: Request) -> Response:
        verified = self._verified(request)
        request_id = str(request.path_params.get("request_id", ""))
        if verified is None or not _REQUEST_ID.fullmatch(request_id):
            return _not_found()
        session, subject = verified
        document = await run_in_threadpool(self.rights.package, subject, request_id, request_language(request))
        if document is None:
            return _not_found()
        response = Response(
            json.dumps(document, indent=1, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="privateline-e-mail-address.json"'},
        )
        self.sessions.write(response, session)
        return _private(response)

    async def sign_out(self, request: Request) -> Response:
        session = self.sessions.read(request)
        try:
            form = await read_form(request)
        except FormRefusedError as refused:
            return self._form_refused(request, refused.status, session)
        if session is not None and not self.sessions.csrf_matches(session, form.get(CSRF_FIELD)):
            return self._form_refused(request, 403, session)
        if session is not None:
            self.sessions.revoke(session)
        response = RedirectResponse(f"{CENTER}?{urlencode({'lang': request_language(request)})}", status_code=303)
        self.sessions.clear(response)
        return _private(response)

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(PATH, self.ask_page, methods=["GET"], include_in_schema=False)
        router.add_api_route(PATH, self.ask, methods=["POST"], include_in_schema=False)
        router.add_api_route(OPEN, self.open_page, methods=["GET"], include_in_schema=False)
        router.add_api_route(OPEN, self.redeem, methods=["POST"], include_in_schema=False)
        router.add_api_route(HELD, self.held, methods=["GET"], include_in_schema=False)
        router.add_api_route(ACCESS, self.access, methods=["POST"], include_in_schema=False)
        router.add_api_route(
            f"{PATH}/requests/{{request_id}}/package.json", self.package, methods=["GET"], include_in_schema=False
        )
        router.add_api_route(ERASE, self.erase, methods=["POST"], include_in_schema=False)
        router.add_api_route(STOP_MARKETING, self.stop_marketing, methods=["POST"], include_in_schema=False)
        router.add_api_route(SIGN_OUT, self.sign_out, methods=["POST"], include_in_schema=False)
        return router


def email_link_router(
    database: Database,
    clock: Clock,
    pseudonymizer: Pseudonymizer,
    session_key: bytes,
    proxies: TrustedProxies,
    loaded: LoadedRegister,
    engine: RightsEngine,
    settings: LinkSettings,
) -> APIRouter:
    """The e-mail channel of the privacy center, with its mail sent as the settings say."""
    mailer = mail_sender(settings, clock)
    if mailer.smtp is None:
        log.info("no SMTP host is configured: mails are written to the outbox folder", outbox=str(mailer.outbox))
    else:
        log.info("mails are sent over SMTP", server=mailer.describe)
    if not settings.public_url:
        log.info(
            "public_url is not set: links in mails point to the address this instance listens on; "
            "set PRIVATELINE_PUBLIC_URL to the address people reach it at",
            public_url=public_base(settings),
        )
    links = EmailLinks(
        database,
        clock,
        pseudonymizer,
        session_key,
        proxies,
        loaded,
        engine,
        mailer,
        public_base(settings),
        secure_cookies=settings.cookie_secure,
    )
    return links.router()


def _not_found() -> Response:
    """Exactly what any unknown address of the app answers."""
    return _private(Response(json.dumps({"detail": "Not Found"}), status_code=404, media_type="application/json"))


def _show(gettext: Callable[[str], str]) -> Callable[[object], str]:
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
