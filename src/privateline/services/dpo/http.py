"""The data-protection officer's console under `/dpo` (R-13, R-11, Art. 5(2) and 30 GDPR).

`GET  /dpo/sign-in`                      the sign-in form (an anonymous session carries its CSRF token)
`POST /dpo/sign-in`                      account name and password (rate limited; one message for any failure)
`POST /dpo/sign-out`
`GET  /dpo`                              the queue of open rights requests: overdue first, then by due date
`GET  /dpo/requests/{id}`                one request: its state, deadline, reason and audit trail, and its forms
`POST /dpo/requests/{id}/approve`        start work on a request whose subject's identity is verified
`POST /dpo/requests/{id}/refuse`         refuse, with the reason the subject is told (Art. 12(4))
`POST /dpo/requests/{id}/extend`         extend by 1 or 2 months, with the reason the subject is told (Art. 12(3))
`POST /dpo/requests/{id}/objection`      decide a pending objection to processing on legitimate interests:
                                         uphold it (the request is completed) or record the compelling
                                         legitimate grounds that override it (the request is refused);
                                         the reason is mandatory and told to the subject (Art. 21(1), R-8)
`GET  /dpo/register`                     the privacy notice rendered from the loaded register
`GET  /dpo/register/ropa.csv|ropa.json`  the records of processing activities (Art. 30)
`GET  /dpo/sweeps`                       what each retention rule removed in its last sweeps (R-11)
`GET  /dpo/audit`, `POST /dpo/audit/verify`  verify the audit chain (`privateline audit verify` as a button)

Every page needs a signed-in DPO account (else a redirect to the sign-in form); every
form carries the session's CSRF token.  Every action of a DPO is written to the audit
chain naming the account as `dpo:<name>` (staff, not a data subject).  The reason of a
refusal or an extension is recorded in the request and in the audit chain; telling the
subject is the rights engine's work.  The console is in English.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from privateline.kernel.clock import Clock
from privateline.kernel.network import source_key
from privateline.kernel.ratelimit import FailureLimit
from privateline.kernel.requests import (
    FINAL,
    MAX_EXTENSION_MONTHS,
    RequestKind,
    RequestState,
    RightsRequest,
    TransitionError,
)
from privateline.register.loader import LoadedRegister
from privateline.services.attempts import OneAtATime
from privateline.services.dpo.accounts import MAX_PASSWORD, DpoAccount, account_by_id, authenticate, normalise_name
from privateline.services.dpo.recipients import RecipientNotices
from privateline.services.dpo.records import RecordPages
from privateline.services.dpo.views import (
    STATE_LABELS,
    QueueItem,
    RequestDetail,
    moment,
    open_queue,
    request_detail,
)
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.services.privacy.choices import NotOpenError, decide_objection
from privateline.services.sessions import CSRF_FIELD, CsrfProblem, Session, SessionCookies
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.rights_requests import RightsRequests, StoredRequest

PATH = "/dpo"
COOKIE = "privateline_dpo"
SESSION_KIND = "dpo"
# Five wrong sign-ins per quarter hour from one network and against one account name.
FAILURES_PER_SOURCE = (5, timedelta(minutes=15))
FAILURES_PER_NAME = (5, timedelta(minutes=15))
MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 16
MAX_REASON = 2000
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NEXT = re.compile(r"/dpo(/[A-Za-z0-9_-]+)*/?(\?[A-Za-z0-9_=&%.-]*)?")

_env = Environment(
    loader=PackageLoader("privateline.services.dpo", "templates"),
    autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

DONE = {
    "signed_in": "You are signed in.",
    "signed_out": "You are signed out.",
    "approved": "The request is in progress.",
    "refused": "The request is refused; its reason is recorded for the subject.",
    "extended": "The deadline is extended; its reason is recorded for the subject.",
    "objection_upheld": "The objection is upheld: the processing stays stopped; the reason is recorded for the "
    "subject.",
    "objection_overridden": "Compelling legitimate grounds are recorded: the processing may resume; the reason is "
    "recorded for the subject.",
}
# An objection's decision: uphold it, or record compelling legitimate grounds that override it.
OBJECTION_DECISIONS = ("uphold", "override")

CSRF_REASONS = {
    CsrfProblem.NO_SESSION: "Your browser did not send the console's session cookie. Reload the page and try again.",
    CsrfProblem.NO_TOKEN: "The form did not carry its security token. Reload the page and try again.",
    CsrfProblem.WRONG_TOKEN: "The form's security token does not belong to your session; it may come from another "
    "site or from an older page. Reload the page and try again.",
}

WRONG_CREDENTIALS = "The account name or the password is wrong."


class FormError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Form = dict[str, str]


async def read_form(request: Request) -> Form:
    """The fields of an urlencoded form (the first value of each), at most `MAX_FORM_BYTES`."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("application/x-www-form-urlencoded", ""):
        raise FormError(415, "This address accepts only the console's own forms.")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise FormError(413, "The form is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(413, "The form is too large.")
    if not media and body:
        raise FormError(415, "This address accepts only the console's own forms.")
    try:
        pairs = parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "The form could not be read.") from None
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def reason_of(form: Form, what: str, article: str) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise FormError(422, f"{what} needs a reason, which the subject is told ({article} GDPR).")
    if len(reason) > MAX_REASON:
        raise FormError(422, f"A reason has at most {MAX_REASON} characters.")
    return reason


def months_of(form: Form) -> int:
    text = form.get("months", "").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_EXTENSION_MONTHS:
        raise FormError(
            422, f"An extension is 1 to {MAX_EXTENSION_MONTHS} months beyond the first month (Art. 12(3) GDPR)."
        )
    return int(text)


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the console, never another site."""
    if value and _NEXT.fullmatch(value) and not value.startswith(f"{PATH}/sign-"):
        return value
    return PATH


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def by_of(account: DpoAccount) -> str:
    """How the audit chain names a DPO account."""
    return f"dpo:{account.name}"


@dataclass(frozen=True)
class Officer:
    """A signed-in DPO: the session and the account it belongs to."""

    session: Session
    account: DpoAccount


class Console:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        session_key: bytes,
        proxies: TrustedProxies,
        loaded: LoadedRegister,
        secure_cookies: bool,
    ) -> None:
        self.database = database
        self.clock = clock
        self.proxies = proxies
        self.loaded = loaded
        self.sessions = SessionCookies(session_key, clock, name=COOKIE, path=PATH, secure=secure_cookies)
        self.per_source = FailureLimit(*FAILURES_PER_SOURCE)
        self.per_name = FailureLimit(*FAILURES_PER_NAME)
        self.attempts = OneAtATime()

    # Pages and sessions --------------------------------------------------------

    def _page(
        self,
        template: str,
        session: Session | None,
        officer: Officer | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        body = _env.get_template(template).render(
            path=PATH,
            csrf=session.csrf_token if session is not None else "",
            csrf_field=CSRF_FIELD,
            account=officer.account if officer is not None else None,
            moment=moment,
            **context,
        )
        response = HTMLResponse(body, status_code=status_code, headers={"Content-Language": "en"})
        if headers:
            response.headers.update(headers)
        if session is not None:
            self.sessions.write(response, self.sessions.touch(session))
        return _private(response)

    def _message(
        self, status_code: int, heading: str, message: str, session: Session | None, officer: Officer | None = None
    ) -> Response:
        return self._page(
            "message.html.j2", session, officer, status_code=status_code, heading=heading, message=message
        )

    def _sign_in_page(
        self,
        session: Session | None,
        status_code: int = 200,
        error: str | None = None,
        notice: str | None = None,
        next_page: str = PATH,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if session is None or session.signed_in:
            session = self.sessions.begin()
        return self._page(
            "sign_in.html.j2",
            session,
            status_code=status_code,
            headers=headers,
            error=error,
            notice=notice,
            next_page=next_page,
        )

    def _to_sign_in(self, request: Request) -> Response:
        target = f"{PATH}/sign-in"
        if request.method == "GET":
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if _safe_next(wanted) != PATH:
                target += f"?next={quote(wanted, safe='/')}"
        return _private(RedirectResponse(target, status_code=303))

    def _redirect(self, officer: Officer, location: str) -> Response:
        response = RedirectResponse(location, status_code=303)
        self.sessions.write(response, self.sessions.touch(officer.session))
        return _private(response)

    def _account_of(self, session: Session) -> DpoAccount | None:
        account_id = session.subject(SESSION_KIND)
        if account_id is None:
            return None
        with self.database.reading() as connection:
            account = account_by_id(connection, account_id)
        # A session begun before its account was (re)created is not that account's.
        if account is None or session.started_at < account.created_at.replace(microsecond=0):
            return None
        return account

    async def _officer(self, request: Request) -> Officer | None:
        session = self.sessions.read(request)
        if session is None or session.subject(SESSION_KIND) is None:
            return None
        account = await run_in_threadpool(self._account_of, session)
        if account is None:
            self.sessions.revoke(session)
            return None
        return Officer(session, account)

    def _audit(self, officer: Officer, kind: str, detail: dict[str, Any] | None = None) -> None:
        with self.database.unit_of_work() as uow:
            AuditLog(uow.connection).append(
                self.clock.now(), kind, None, {"by": by_of(officer.account)} | (detail or {})
            )
            uow.commit()

    async def _form_of(self, request: Request) -> tuple[Officer, Form] | Response:
        """The signed-in DPO and the form they sent with their session's token, or the answer refusing it."""
        officer = await self._officer(request)
        session = officer.session if officer is not None else self.sessions.read(request)
        try:
            form = await read_form(request)
        except FormError as exc:
            return self._message(exc.status, "The form was refused", exc.message, session, officer)
        if officer is None:
            return self._to_sign_in(request)
        problem = self.sessions.csrf_problem(officer.session, form.get(CSRF_FIELD))
        if problem is not None:
            return self._message(403, "The form was refused", CSRF_REASONS[problem], officer.session, officer)
        return officer, form

    # Sign-in and sign-out --------------------------------------------------------

    async def sign_in_form(self, request: Request) -> Response:
        if await self._officer(request) is not None:
            return _private(RedirectResponse(PATH, status_code=303))
        session = self.sessions.read(request)
        done = request.query_params.get("done")
        notice = DONE["signed_out"] if done == "signed_out" else None
        return self._sign_in_page(session, notice=notice, next_page=_safe_next(request.query_params.get("next")))

    def _too_many(self, session: Session | None, wait: timedelta, next_page: str) -> Response:
        seconds = max(1, math.ceil(wait.total_seconds()))
        minutes = max(1, math.ceil(seconds / 60))
        return self._sign_in_page(
            session,
            status_code=429,
            error=f"Too many failed sign-ins. Please try again in {minutes} minutes.",
            next_page=next_page,
            headers={"Retry-After": str(seconds)},
        )

    async def sign_in(self, request: Request) -> Response:
        session = self.sessions.read(request)
        try:
            form = await read_form(request)
        except FormError as exc:
            return self._message(exc.status, "The form was refused", exc.message, session)
        next_page = _safe_next(form.get("next"))
        problem = self.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is CsrfProblem.NO_SESSION and request.cookies.get(COOKIE):
            return self._sign_in_page(
                None, status_code=403, error="The sign-in page had expired. Please sign in again.", next_page=next_page
            )
        if problem is not None:
            return self._message(403, "The form was refused", CSRF_REASONS[problem], session)
        password = form.get("password", "")
        try:
            name: str | None = normalise_name(form.get("name", ""))
        except ValueError:
            name = None
        peer = request.client.host if request.client else None
        source = source_key(client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies))
        # One attempt at a time per source and per name, so that parallel guesses cannot all
        # pass the check before the first failure is counted.
        async with self.attempts.hold(f"source:{source}"), self.attempts.hold(f"name:{name or '-'}"):
            now = self.clock.now()
            waits = [self.per_source.blocked_for(source, now)]
            if name is not None:
                waits.append(self.per_name.blocked_for(name, now))
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                return self._too_many(session, wait, next_page)
            account = None
            if name is not None and 0 < len(password) <= MAX_PASSWORD:
                account = await run_in_threadpool(authenticate, self.database, name, password, now)
            else:
                await run_in_threadpool(authenticate, self.database, "-", "-", now)  # the same time for any failure
            if account is None:
                self.per_source.fail(source, now)
                if name is not None:
                    self.per_name.fail(name, now)
        if account is None:
            return self._sign_in_page(session, status_code=401, error=WRONG_CREDENTIALS, next_page=next_page)
        if session is not None:
            self.sessions.revoke(session)  # a new session with a new token: no fixation
        signed_in = self.sessions.begin(SESSION_KIND, account.id)
        response = RedirectResponse(next_page if next_page != PATH else f"{PATH}?done=signed_in", status_code=303)
        self.sessions.write(response, signed_in)
        return _private(response)

    async def sign_out(self, request: Request) -> Response:
        posted = await self._form_of(request)
        if isinstance(posted, Response):
            if posted.status_code == 303:  # nobody signed in: nothing to end
                self.sessions.clear(posted)
            return posted
        officer, _form = posted
        await run_in_threadpool(self._audit, officer, "dpo.signed_out")
        self.sessions.revoke(officer.session)
        response = RedirectResponse(f"{PATH}/sign-in?done=signed_out", status_code=303)
        self.sessions.clear(response)
        return _private(response)

    # The queue and the requests ----------------------------------------------------

    def _read_queue(self) -> list[QueueItem]:
        with self.database.reading() as connection:
            return open_queue(connection, self.clock.now())

    async def queue(self, request: Request) -> Response:
        officer = await self._officer(request)
        if officer is None:
            return self._to_sign_in(request)
        items = await run_in_threadpool(self._read_queue)
        done = request.query_params.get("done")
        return self._page(
            "queue.html.j2",
            officer.session,
            officer,
            items=items,
            overdue=sum(1 for i in items if i.overdue),
            done=DONE.get(done) if done else None,
            states=STATE_LABELS,
            now=self.clock.now(),
        )

    def _read_request(self, request_id: str) -> RequestDetail | None:
        if not _REQUEST_ID.fullmatch(request_id):
            return None
        with self.database.reading() as connection:
            return request_detail(connection, request_id, self.clock.now())

    def _request_page(
        self,
        officer: Officer,
        detail: RequestDetail,
        status_code: int = 200,
        error: str | None = None,
        done: str | None = None,
        form: Form | None = None,
    ) -> Response:
        r = detail.item.request
        activity = detail.pending_objection
        described = None if activity is None else self.loaded.register.activities.get(activity)
        return self._page(
            "request.html.j2",
            officer.session,
            officer,
            status_code=status_code,
            item=detail.item,
            trail=detail.trail,
            error=error,
            done=done,
            states=STATE_LABELS,
            final=r.state in FINAL,
            can_approve=r.state is RequestState.IDENTITY_VERIFIED,
            can_extend=r.state is RequestState.IN_PROGRESS,
            # A pending objection is decided with its own form, so that its record and the
            # request never disagree; refusing it otherwise would leave the processing stopped unseen.
            can_refuse=activity is None,
            objection=activity,
            objection_name=None if described is None else described.name.en,
            max_months=MAX_EXTENSION_MONTHS,
            max_reason=MAX_REASON,
            typed=form or {},
        )

    def _not_found(self, officer: Officer) -> Response:
        return self._message(
            404, "No such request", "There is no rights request with this id.", officer.session, officer
        )

    async def show_request(self, request: Request) -> Response:
        officer = await self._officer(request)
        if officer is None:
            return self._to_sign_in(request)
        request_id = request.path_params["request_id"]
        detail = await run_in_threadpool(self._read_request, request_id)
        if detail is None:
            return self._not_found(officer)
        done = request.query_params.get("done")
        return self._request_page(officer, detail, done=DONE.get(done) if done else None)

    def _transition(
        self, request_id: str, step: Callable[[datetime], Callable[[RightsRequest], RightsRequest]], by: str
    ) -> StoredRequest | TransitionError | None:
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            requests = RightsRequests(uow.connection)
            if requests.get(request_id) is None:
                return None
            try:
                after = requests.transition(request_id, step(now), now, by)
            except TransitionError as exc:
                return exc
            uow.commit()
        return after

    async def _act(
        self,
        request: Request,
        done: str,
        step_from_form: Callable[[Form], Callable[[datetime], Callable[[RightsRequest], RightsRequest]]],
        blocked: Callable[[RequestDetail], str | None] | None = None,
    ) -> Response:
        posted = await self._form_of(request)
        if isinstance(posted, Response):
            return posted
        officer, form = posted
        request_id = request.path_params["request_id"]
        detail = await run_in_threadpool(self._read_request, request_id)
        if detail is None:
            return self._not_found(officer)
        why_not = blocked(detail) if blocked is not None else None
        if why_not is not None:
            return self._request_page(officer, detail, status_code=409, error=f"Not done: {why_not}.", form=form)
        try:
            step = step_from_form(form)
        except FormError as exc:
            return self._request_page(officer, detail, status_code=exc.status, error=exc.message, form=form)
        outcome = await run_in_threadpool(self._transition, request_id, step, by_of(officer.account))
        if outcome is None:
            return self._not_found(officer)
        if isinstance(outcome, TransitionError):
            current = await run_in_threadpool(self._read_request, request_id)
            return self._request_page(
                officer, current or detail, status_code=409, error=f"Not done: {outcome}.", form=form
            )
        return self._redirect(officer, f"{PATH}/requests/{request_id}?{urlencode({'done': done})}")

    async def approve(self, request: Request) -> Response:
        return await self._act(request, "approved", lambda _form: lambda now: lambda r: r.start(now))

    async def refuse(self, request: Request) -> Response:
        def step(form: Form) -> Callable[[datetime], Callable[[RightsRequest], RightsRequest]]:
            reason = reason_of(form, "A refusal", "Art. 12(4)")
            return lambda now: lambda r: r.refuse(reason, now)

        def objection_first(detail: RequestDetail) -> str | None:
            if detail.pending_objection is None:
                return None
            return "a pending objection is decided with the objection's form (Art. 21(1))"

        return await self._act(request, "refused", step, objection_first)

    def _decide_objection(self, request_id: str, uphold: bool, reason: str, by: str) -> StoredRequest | str | None:
        """The decision in one transaction: the objection's record, the audit chain, the request."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            requests = RightsRequests(uow.connection)
            stored = requests.get(request_id)
            if stored is None:
                return None
            activity = stored.detail.get("activity")
            if stored.request.kind is not RequestKind.OBJECTION or not isinstance(activity, str):
                return "this request is not an objection"
            try:
                decide_objection(
                    uow.connection, self.loaded.register, stored.subject, activity, uphold, reason, now, by, request_id
                )
                step = (lambda r: r.complete(now, reason)) if uphold else (lambda r: r.refuse(reason, now))
                after = requests.transition(request_id, step, now, by)
            except (NotOpenError, TransitionError) as exc:
                return str(exc)
            uow.commit()
        return after

    async def decide(self, request: Request) -> Response:
        posted = await self._form_of(request)
        if isinstance(posted, Response):
            return posted
        officer, form = posted
        request_id = request.path_params["request_id"]
        detail = await run_in_threadpool(self._read_request, request_id)
        if detail is None:
            return self._not_found(officer)
        decision = form.get("decision", "")
        try:
            if decision not in OBJECTION_DECISIONS:
                raise FormError(
                    422, "Choose whether to uphold the objection or to record compelling legitimate grounds."
                )
            reason = reason_of(form, "A decision on an objection", "Art. 21(1)")
        except FormError as exc:
            return self._request_page(officer, detail, status_code=exc.status, error=exc.message, form=form)
        uphold = decision == "uphold"
        outcome = await run_in_threadpool(self._decide_objection, request_id, uphold, reason, by_of(officer.account))
        if outcome is None:
            return self._not_found(officer)
        if isinstance(outcome, str):
            current = await run_in_threadpool(self._read_request, request_id)
            return self._request_page(
                officer, current or detail, status_code=409, error=f"Not done: {outcome}.", form=form
            )
        done = "objection_upheld" if uphold else "objection_overridden"
        return self._redirect(officer, f"{PATH}/requests/{request_id}?{urlencode({'done': done})}")

    async def extend(self, request: Request) -> Response:
        def step(form: Form) -> Callable[[datetime], Callable[[RightsRequest], RightsRequest]]:
            months = months_of(form)
            reason = reason_of(form, "An extension", "Art. 12(3)")
            return lambda now: lambda r: r.extend(months, reason, now)

        return await self._act(request, "extended", step)

    # What the console's other page modules (records.py, recipients.py) build on ------

    officer = _officer
    to_sign_in = _to_sign_in
    page = _page
    message = _message
    form_of = _form_of
    redirect = _redirect
    audit = _audit

    @staticmethod
    def private(response: Response) -> Response:
        return _private(response)

    @staticmethod
    def by(officer: Officer) -> str:
        return by_of(officer.account)

    # Routes ----------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()
        routes: list[tuple[str, Callable[[Request], Any], str]] = [
            (PATH, self.queue, "GET"),
            (f"{PATH}/sign-in", self.sign_in_form, "GET"),
            (f"{PATH}/sign-in", self.sign_in, "POST"),
            (f"{PATH}/sign-out", self.sign_out, "POST"),
            (f"{PATH}/requests/{{request_id}}", self.show_request, "GET"),
            (f"{PATH}/requests/{{request_id}}/approve", self.approve, "POST"),
            (f"{PATH}/requests/{{request_id}}/refuse", self.refuse, "POST"),
            (f"{PATH}/requests/{{request_id}}/extend", self.extend, "POST"),
            (f"{PATH}/requests/{{request_id}}/objection", self.decide, "POST"),
        ]
        routes.extend(RecordPages(self).routes())
        routes.extend(RecipientNotices(self).routes())
        for path, endpoint, method in routes:
            router.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
        return router


def dpo_router(
    database: Database,
    clock: Clock,
    session_key: bytes,
    proxies: TrustedProxies,
    loaded: LoadedRegister,
    secure_cookies: bool = True,
) -> APIRouter:
    """The data-protection officer's console under `/dpo`; accounts come from `privateline dpo add`."""
    return Console(database, clock, session_key, proxies, loaded, secure_cookies).router()
