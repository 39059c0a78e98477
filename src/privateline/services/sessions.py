"""Signed session cookies and the CSRF check of the portals' forms.

A session lives entirely in one cookie, signed with the instance's session key
(itsdangerous, HMAC-SHA256 with a key derived with the cookie's own salt, so a cookie
of one portal is worthless to another).  It holds only what the portal needs: the kind
and id of the signed-in subject (a device, later a customer account), the time the
session began, the time it was last used, and a random CSRF token.  Nothing else is
put in it, and nothing about it is stored in the database.

* A session ends after `idle` without use (30 minutes) and in any case `absolute`
  after it began (12 hours); both are checked against the instance's clock.
* Every response to a signed-in request renews the cookie's time of last use.
* The cookie is `HttpOnly`, `SameSite=Lax`, scoped to the portal's path and `Secure`
  unless the operator runs plain HTTP on a local machine.
* A browser gets an anonymous session (no subject, but a CSRF token) before it signs
  in, so that the sign-in form is CSRF-protected too; signing in starts a new session
  with a new token (no session fixation).
* Signing out forgets the cookie in the browser and revokes the session's token in
  this process until the session would have expired anyway.  Several processes each
  keep their own list: a stolen cookie then lives at most until its idle timeout.

The CSRF check is the synchronizer-token pattern: the token of the session is written
into a hidden field of every form and compared, in constant time, with the session's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.clock import Clock

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
CSRF_FIELD = "csrf"
MIN_KEY_BYTES = 16
_TOKEN_BYTES = 32
_MAX_COOKIE = 1024


@dataclass(frozen=True)
class Session:
    """What a session cookie says: who is signed in (if anyone), since when, and the CSRF token."""

    subject_kind: str | None  # "device", later "customer"; None before sign-in
    subject_id: int | None
    started_at: datetime  # the time of sign-in (or of the first visit, before sign-in)
    seen_at: datetime
    csrf_token: str

    @property
    def signed_in(self) -> bool:
        return self.subject_kind is not None and self.subject_id is not None

    def subject(self, kind: str) -> int | None:
        """The id of the signed-in subject if it is of `kind`."""
        return self.subject_id if self.signed_in and self.subject_kind == kind else None


class CsrfProblem(StrEnum):
    """Why a form was refused; each portal words these in the visitor's language."""

    NO_SESSION = "no_session"  # no (valid) session cookie came with the form
    NO_TOKEN = "no_token"  # noqa: S105 - the form carried no token
    WRONG_TOKEN = "wrong_token"  # noqa: S105 - the token is not this session's


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not a time")
    return datetime.fromtimestamp(value, UTC)


class SessionCookies:
    """The session cookie of one portal (its name and path)."""

    def __init__(
        self,
        key: bytes,
        clock: Clock,
        *,
        name: str,
        path: str,
        secure: bool = True,
        idle: timedelta = IDLE,
        absolute: timedelta = ABSOLUTE,
    ) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a session key needs at least {MIN_KEY_BYTES} bytes")
        self.clock = clock
        self.name = name
        self.path = path
        self.secure = secure
        self.idle = idle
        self.absolute = absolute
        self._serializer = URLSafeSerializer(
            key, salt=f"privateline.session:{name}", signer_kwargs={"digest_method": hashlib.sha256}
        )
        # Revoked tokens -> the moment their session would have expired anyway.
        self._revoked: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return f"SessionCookies(name={self.name!r}, path={self.path!r}, key=<secret>)"

    # Reading -----------------------------------------------------------------

    def read(self, request: Request) -> Session | None:
        """The valid session the request carries, or None (missing, forged, expired, revoked)."""
        raw = request.cookies.get(self.name)
        if not raw or len(raw) > _MAX_COOKIE:
            return None
        try:
            data = self._serializer.loads(raw)
        except BadSignature:
            return None
        session = self._decode(data)
        if session is None:
            return None
        now = self.clock.now()
        if now - session.seen_at >= self.idle or now - session.started_at >= self.absolute:
            return None
        if now < session.started_at - timedelta(minutes=5):
            return None  # from the future: the clock was turned back, or the cookie is not ours
        if session.csrf_token in self._revoked:
            return None
        return session

    @staticmethod
    def _decode(data: Any) -> Session | None:
        if not isinstance(data, dict):
            return None
        try:
            kind = data.get("k")
            subject = data.get("s")
            token = data["c"]
            if kind is not None and not isinstance(kind, str):
                return None
            if subject is not None and (not isinstance(subject, int) or isinstance(subject, bool)):
                return None
            if (kind is None) != (subject is None) or not isinstance(token, str) or not token:
                return None
            return Session(kind, subject, _moment(data["t"]), _moment(data["a"]), token)
        except (KeyError, ValueError, OverflowError, OSError):
            return None

    # Writing -----------------------------------------------------------------

    def begin(self, subject_kind: str | None = None, subject_id: int | None = None) -> Session:
        """A new session (anonymous when no subject is given) with a new CSRF token."""
        if (subject_kind is None) != (subject_id is None):
            raise ValueError("a session names both the kind and the id of its subject, or neither")
        now = self.clock.now()
        return Session(subject_kind, subject_id, now, now, secrets.token_urlsafe(_TOKEN_BYTES))

    def touch(self, session: Session) -> Session:
        return replace(session, seen_at=self.clock.now())

    def write(self, response: Response, session: Session) -> None:
        value = self._serializer.dumps(
            {
                "k": session.subject_kind,
                "s": session.subject_id,
                "t": _epoch(session.started_at),
                "a": _epoch(session.seen_at),
                "c": session.csrf_token,
            }
        )
        # No Max-Age: the browser forgets the cookie when it closes; the server enforces
        # the idle and absolute limits itself, whatever the browser keeps.
        response.set_cookie(self.name, value, path=self.path, secure=self.secure, httponly=True, samesite="lax")

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.name, path=self.path, secure=self.secure, httponly=True, samesite="lax")

    def revoke(self, session: Session) -> None:
        """End `session` in this process even if its cookie is presented again (sign-out)."""
        now = self.clock.now()
        for token, until in list(self._revoked.items()):
            if until <= now:
                del self._revoked[token]
        self._revoked[session.csrf_token] = session.started_at + self.absolute

    # CSRF --------------------------------------------------------------------

    @staticmethod
    def csrf_problem(session: Session | None, submitted: object) -> CsrfProblem | None:
        """None when `submitted` is the session's token; otherwise why the form is refused."""
        if session is None:
            return CsrfProblem.NO_SESSION
        if not isinstance(submitted, str) or not submitted:
            return CsrfProblem.NO_TOKEN
        if not hmac.compare_digest(submitted.encode("utf-8"), session.csrf_token.encode("utf-8")):
            return CsrfProblem.WRONG_TOKEN
        return None
