"""The short session that follows a used link, and the CSRF token of the channel's forms.

Once a link is redeemed, the browser that redeemed it carries a cookie naming the
address's pseudonym (never the address), signed with the instance's session key under
this cookie's own salt, so no other cookie of privateline can pass for it.  The session
is short (Art. 32: the proof was a single mail): it ends 15 minutes after its last use
and 30 minutes after the link was redeemed, whatever the browser keeps, both checked
against the instance's clock.  Before the link is redeemed the same cookie is
anonymous and carries only a random CSRF token, so the form that redeems the link is
protected too (synchronizer token, compared in constant time); redeeming starts a new
session with a new token (no fixation).  Nothing about a session is stored in the
database.  Ending it revokes its token in this process until it would have expired.

The cookie is `HttpOnly`, `SameSite=Strict` (no other site ever needs to send it),
scoped to the channel's path, and `Secure` unless the operator serves plain HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.clock import Clock

IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(minutes=30)
_SALT = "privateline.email-link-session"
_TOKEN_BYTES = 32
_MAX_COOKIE = 512
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LinkSession:
    subject_kind: str | None  # None before a link was redeemed
    pseudonym: str | None
    started_at: datetime
    seen_at: datetime
    csrf_token: str

    @property
    def verified(self) -> bool:
        return self.subject_kind is not None and self.pseudonym is not None


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not a time")
    return datetime.fromtimestamp(value, UTC)


class LinkSessions:
    def __init__(self, key: bytes, clock: Clock, *, name: str, path: str, secure: bool) -> None:
        self.clock = clock
        self.name = name
        self.path = path
        self.secure = secure
        self._serializer = URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
        self._revoked: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return f"LinkSessions(name={self.name!r}, key=<secret>)"

    def read(self, request: Request) -> LinkSession | None:
        """The valid session of the request, or None (missing, forged, expired, revoked)."""
        raw = request.cookies.get(self.name)
        if not raw or len(raw) > _MAX_COOKIE:
            return None
        try:
            data = self._serializer.loads(raw)
        except BadSignature:
            return None
        session = _decode(data)
        if session is None:
            return None
        now = self.clock.now()
        if now - session.seen_at >= IDLE or now - session.started_at >= ABSOLUTE:
            return None
        if now < session.started_at - timedelta(minutes=5):
            return None
        if session.csrf_token in self._revoked:
            return None
        return session

    def begin(self, subject_kind: str | None = None, pseudonym: str | None = None) -> LinkSession:
        if (subject_kind is None) != (pseudonym is None):
            raise ValueError("a session names both the kind and the pseudonym of its subject, or neither")
        now = self.clock.now()
        return LinkSession(subject_kind, pseudonym, now, now, secrets.token_urlsafe(_TOKEN_BYTES))

    def touch(self, session: LinkSession) -> LinkSession:
        return replace(session, seen_at=self.clock.now())

    def write(self, response: Response, session: LinkSession) -> None:
        value = self._serializer.dumps(
            {
                "k": session.subject_kind,
                "p": session.pseudonym,
                "t": _epoch(session.started_at),
                "a": _epoch(session.seen_at),
                "c": session.csrf_token,
            }
        )
        response.set_cookie(self.name, value, path=self.path, secure=self.secure, httponly=True, samesite="strict")

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.name, path=self.path, secure=self.secure, httponly=True, samesite="strict")

    def revoke(self, session: LinkSession) -> None:
        now = self.clock.now()
        for token, until in list(self._revoked.items()):
            if until <= now:
                del self._revoked[token]
        self._revoked[session.csrf_token] = session.started_at + ABSOLUTE

    @staticmethod
    def csrf_matches(session: LinkSession | None, submitted: object) -> bool:
        if session is None or not isinstance(submitted, str) or not submitted:
            return False
        return hmac.compare_digest(submitted.encode("utf-8"), session.csrf_token.encode("utf-8"))


def _decode(data: Any) -> LinkSession | None:
    if not isinstance(data, dict):
        return None
    try:
        kind, pseudonym, token = data.get("k"), data.get("p"), data["c"]
        if kind is not None and not isinstance(kind, str):
            return None
        if pseudonym is not None and not (isinstance(pseudonym, str) and _PSEUDONYM.fullmatch(pseudonym)):
            return None
        if (kind is None) != (pseudonym is None) or not isinstance(token, str) or not token:
            return None
        return LinkSession(kind, pseudonym, _moment(data["t"]), _moment(data["a"]), token)
    except (KeyError, ValueError, OverflowError, OSError):
        return None
