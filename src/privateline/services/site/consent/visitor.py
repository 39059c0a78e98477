"""The visitor cookie: the one thing that ties a browser to its consent choices.

A website visitor has no account, so the browser itself carries the proof: a random
128-bit token, signed with the instance's session key (itsdangerous), in a cookie that
is `HttpOnly`, `SameSite=Lax`, `Secure` unless the operator serves plain HTTP locally,
and lives as long as a consent does (WEB-8: one year).  The ledger never stores the
token, only its keyed pseudonym, so a copy of the database does not let anyone act as
the visitor, and a receipt id shown on a page (which is not the token) is worthless as
a proof.  Beside the token the cookie carries, signed, the moment the visitor must be
asked again (the earliest expiry of their answers), so pages can decide whether to show
the banner without a database query; what the visitor allowed is always read from the
ledger.  The cookie is set only when the visitor makes a choice: it is needed to
respect that choice (strictly necessary, ePrivacy Directive Art. 5(3)), and nothing is
set before.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.privacy.held import Subject

SUBJECT = "website_visitor"
COOKIE = "privateline_consent"
LIFETIME = timedelta(days=365)
_SALT = "privateline.visitor-consent"
_TOKEN_BYTES = 16
_MAX_COOKIE = 256


@dataclass(frozen=True)
class Visitor:
    token: str  # never stored anywhere but in the visitor's own browser
    ask_after: datetime | None = None  # when the banner is due again (WEB-8)

    def must_be_asked(self, now: datetime) -> bool:
        return self.ask_after is None or self.ask_after <= now

    def subject(self, pseudonymizer: Pseudonymizer) -> Subject:
        pseudonym = pseudonymizer.pseudonym(SUBJECT, self.token)
        # The visitor's stores hold only the pseudonym, so it is also the subject key.
        return Subject(SUBJECT, pseudonym, pseudonym)


class VisitorCookies:
    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._serializer = URLSafeSerializer(key, salt=_SALT)
        self._secure = secure

    def read(self, request: Request) -> Visitor | None:
        """The visitor of this browser, or None when it has no (valid) cookie."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > _MAX_COOKIE:
            return None
        try:
            data = self._serializer.loads(raw)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        token, until = data.get("t"), data.get("u")
        if not isinstance(token, str) or len(token) < 16:
            return None
        if until is not None and (not isinstance(until, int) or isinstance(until, bool)):
            return None
        try:
            ask_after = None if until is None else datetime.fromtimestamp(until, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return Visitor(token, ask_after)

    @staticmethod
    def new() -> Visitor:
        return Visitor(secrets.token_urlsafe(_TOKEN_BYTES))

    def write(self, response: Response, visitor: Visitor) -> None:
        response.set_cookie(
            COOKIE,
            str(self._serializer.dumps({"t": visitor.token, "u": _epoch(visitor.ask_after)})),
            max_age=int(LIFETIME.total_seconds()),
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", secure=self._secure, httponly=True, samesite="lax")


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
