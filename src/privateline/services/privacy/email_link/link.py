"""The signed link: proof, for thirty minutes and once, that its holder reads the address's mail.

The token in the link is JSON signed with itsdangerous (HMAC-SHA256 under a key derived
from the instance's session key with this token's own salt, so no other signed value
of privateline can pass for it).  It carries the subject kind, the address's keyed
pseudonym (never the address), a random 128-bit nonce and the moment it was issued;
the moment is checked against the instance's clock, not the wall clock, so tests move
a fake clock past the thirty minutes instead of waiting.  That the nonce was not used
before is checked by the caller against the store of redeemed links.

Whatever is wrong with a token (forged, altered, expired, from another instance, not a
token at all), `read` answers None: the person is told one and the same thing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

LIFETIME = timedelta(minutes=30)
# A link issued by a server whose clock runs a little ahead is still good.
CLOCK_SKEW = timedelta(minutes=2)
MAX_TOKEN = 512
_SALT = "privateline.email-link"
_NONCE_BYTES = 16
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z_]{1,32}")


@dataclass(frozen=True)
class LinkClaim:
    """What a genuine, unexpired token says."""

    subject_kind: str
    pseudonym: str
    nonce: str
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + LIFETIME


class LinkTokens:
    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})

    def __repr__(self) -> str:
        return "LinkTokens(key=<secret>)"

    def issue(self, subject_kind: str, pseudonym: str, now: datetime) -> str:
        claim = {"k": subject_kind, "p": pseudonym, "n": secrets.token_urlsafe(_NONCE_BYTES), "i": int(now.timestamp())}
        return str(self._serializer.dumps(claim))

    def read(self, token: object, now: datetime) -> LinkClaim | None:
        """The claim of a genuine token that is valid at `now`, else None (for every reason alike)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return None
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict) or set(data) != {"k", "p", "n", "i"}:
            return None
        kind, pseudonym, nonce, issued = data["k"], data["p"], data["n"], data["i"]
        if not (isinstance(kind, str) and _KIND.fullmatch(kind)):
            return None
        if not (isinstance(pseudonym, str) and _PSEUDONYM.fullmatch(pseudonym)):
            return None
        if not (isinstance(nonce, str) and _NONCE.fullmatch(nonce)):
            return None
        if not isinstance(issued, int) or isinstance(issued, bool):
            return None
        try:
            issued_at = datetime.fromtimestamp(issued, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        if issued_at > now + CLOCK_SKEW or now >= issued_at + LIFETIME:
            return None
        return LinkClaim(kind, pseudonym, nonce, issued_at)
