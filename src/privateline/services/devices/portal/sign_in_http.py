"""Signing in to the device owner's portal and out of it.

`POST /device/sign-in`      number and device password (rate limited; one message for any failure)
`POST /device/sign-out`

Wrong sign-ins are counted per network and per number, one attempt at a time for each,
and an unknown number costs the same argon2 verification as a known one.  A signed-in
session is a new session with a new token (no fixation).  The pages are the portal's
(`portal.http.Portal`), which registers these routes; no log line names a number.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from privateline.kernel.network import source_key
from privateline.kernel.ratelimit import FailureLimit
from privateline.services.attempts import OneAtATime
from privateline.services.devices.credentials import matches_portal_hash, password_forms
from privateline.services.devices.portal import forms
from privateline.services.devices.portal.forms import FormError, Message
from privateline.services.devices.portal.labels import N_
from privateline.services.devices.records import Device, device_by_id, device_by_number
from privateline.services.forwarding import client_address
from privateline.services.pages import request_language
from privateline.services.sessions import CSRF_FIELD, CsrfProblem, Session

if TYPE_CHECKING:
    from privateline.services.devices.portal.http import Portal

log = structlog.get_logger("privateline.portal")

PATH = "/device"
# Five wrong sign-ins per quarter hour from one network and against one number.
FAILURES_PER_SOURCE = (5, timedelta(minutes=15))
FAILURES_PER_NUMBER = (5, timedelta(minutes=15))
# IPv6 clients get a /64 each; counting per address would let one client rotate freely.

WRONG_CREDENTIALS = Message(N_("The number or the device password is wrong."))


@cache
def _decoy_hash() -> str:
    """An argon2 hash to verify against when the number is unknown, so both failures take as long."""
    return password_forms("0", "privateline", "decoy-password").portal_hash


class SignIn:
    """The two sign-in routes and their failure counts, on the portal's sessions and pages."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.per_source = FailureLimit(*FAILURES_PER_SOURCE)
        self.per_number = FailureLimit(*FAILURES_PER_NUMBER)
        self.attempts = OneAtATime()

    # POST /device/sign-in -----------------------------------------------------

    def _authenticate(self, number: str | None, password: str | None) -> Device | str:
        """The device on success, else "wrong" or "out_of_service"."""
        record: Device | None = None
        if number is not None:
            with self.portal.database.reading() as connection:
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
        with self.portal.database.unit_of_work() as uow:
            self.portal.audit(uow.connection, record, "device.portal.signed_in")
            uow.commit()
        return record

    def _too_many(self, request: Request, session: Session | None, wait: timedelta, then: str | None) -> Response:
        seconds = max(1, math.ceil(wait.total_seconds()))
        log.info("portal sign-in refused by the failure limit")
        return self.portal.sign_in_page(
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
        session = self.portal.sessions.read(request)
        try:
            form = await forms.read_form(request)
        except FormError as exc:
            return self.portal.message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        then = (
            form.get("then") if form.get("then") in self.portal.return_to and self.portal.rights is not None else None
        )
        problem = self.portal.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is CsrfProblem.NO_SESSION and request.cookies.get(self.portal.cookie):
            # The cookie came but its session had expired: a fresh form, not a dead end.
            return self.portal.sign_in_page(
                request,
                None,
                status_code=403,
                error=Message(N_("The sign-in page had expired. Please sign in again.")),
                then=then,
            )
        if problem is not None:
            return self.portal.csrf_refused(request, session, problem)
        number = forms.sign_in_number(form)
        password = forms.sign_in_password(form)
        peer = request.client.host if request.client else None
        source = source_key(client_address(peer, request.headers.getlist("x-forwarded-for"), self.portal.proxies))
        # One attempt at a time per source and per number, so that parallel guesses cannot
        # all pass the check before the first failure is counted.
        async with self.attempts.hold(f"source:{source}"), self.attempts.hold(f"number:{number or '-'}"):
            now = self.portal.clock.now()
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
            return self.portal.sign_in_page(request, session, status_code=401, error=WRONG_CREDENTIALS, then=then)
        if result == "out_of_service":
            return self.portal.sign_in_page(
                request,
                session,
                then=then,
                status_code=403,
                error=Message(N_("This phone has been taken out of service; it cannot be signed in to.")),
            )
        assert isinstance(result, Device)
        if session is not None:
            self.portal.sessions.revoke(session)  # a new session with a new token: no fixation
        signed_in = self.portal.sessions.begin(self.portal.session_kind, result.id)
        response = RedirectResponse(
            self.portal.overview_url(
                request_language(request), "signed_in", self.portal.return_to.get(then or "", self.portal.path)
            ),
            status_code=303,
        )
        self.portal.sessions.write(response, signed_in)
        return self.portal.private(response)

    # POST /device/sign-out ----------------------------------------------------

    def _record_sign_out(self, device_id: int) -> None:
        with self.portal.database.unit_of_work() as uow:
            record = device_by_id(uow.connection, device_id)
            if record is not None:
                self.portal.audit(uow.connection, record, "device.portal.signed_out")
                uow.commit()

    async def sign_out(self, request: Request) -> Response:
        session = self.portal.sessions.read(request)
        try:
            form = await forms.read_form(request)
        except FormError as exc:
            return self.portal.message_page(request, exc.status, N_("The form was refused"), exc.message, session)
        lang = request_language(request)
        device_id = session.subject(self.portal.session_kind) if session is not None else None
        if session is None or device_id is None:
            # Nothing to end: a sign-out without a session changes nothing, so it needs no token.
            response = RedirectResponse(self.portal.overview_url(lang, "signed_out"), status_code=303)
            self.portal.sessions.clear(response)
            return self.portal.private(response)
        problem = self.portal.sessions.csrf_problem(session, form.get(CSRF_FIELD))
        if problem is not None:
            return self.portal.csrf_refused(request, session, problem)
        await run_in_threadpool(self._record_sign_out, device_id)
        self.portal.sessions.revoke(session)
        response = RedirectResponse(self.portal.overview_url(lang, "signed_out"), status_code=303)
        self.portal.sessions.clear(response)
        return self.portal.private(response)

    def routes(self) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
        return [
            (f"{PATH}/sign-in", self.sign_in, "POST"),
            (f"{PATH}/sign-out", self.sign_out, "POST"),
        ]
