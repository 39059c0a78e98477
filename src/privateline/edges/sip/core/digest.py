"""The server side of HTTP Digest for SIP (RFC 3261 §22.4; RFC 2617 §3.2 with qop=auth; the
SHA-256 algorithm of RFC 8760 §2 beside MD5).

`DigestServer` makes challenges and checks credentials.  It never sees a password: the caller
gives, per algorithm, the HA1 = H(username ":" realm ":" password) it keeps (RFC 2617 §3.2.2.2,
RFC 8760 §2), and the server computes (RFC 2617 §3.2.2.1, qop=auth)

    response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" digest-uri))

and compares it with `hmac.compare_digest`.

Nonces are stateless (RFC 2617 §3.2.1 suggests `time-stamp H(time-stamp ":" ETag ":" private-key)`):

    nonce = base64url( timestamp (8 bytes, ms, big-endian) || random (12 bytes)
                       || HMAC-SHA-256(secret, "privateline-sip-nonce" || timestamp || random)[:16] )

so any instance holding the secret can check one without a shared table.  A nonce older than
`lifetime` with an otherwise correct response is refused with `stale=True`, for the client to
retry with a fresh nonce without asking its user again (RFC 2617 §3.2.1 "stale").  Replays are
refused by the nonce-count (RFC 2617 §3.2.2: "the server can ... detect request replays by
maintaining its own copy of this count"): a bounded in-memory map nonce → last nc, pruned by age.
If it must evict a nonce that is still valid, every nonce issued up to that one is from then on
refused as stale, so an eviction can never re-open a replay.

No input from the peer raises: every outcome is `Verified` or `Refused`.  The time `now` is
passed in (seconds, e.g. `datetime.timestamp()`), and so is the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from privateline.edges.sip.core.auth import Challenge, Credentials
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.uri import SipUri, Uri, parse_uri

DEFAULT_NONCE_LIFETIME = 300.0  # seconds
DEFAULT_MAX_NONCES = 100_000
FUTURE_SKEW = 5.0  # seconds a nonce may appear to come from the future (clocks of two instances)

# RFC 8760 §2: SHA-256 is preferred; the challenges are sent in order of preference (one field each).
ALGORITHMS: dict[str, str] = {"SHA-256": "sha256", "MD5": "md5"}
DEFAULT_ALGORITHMS = ("SHA-256", "MD5")

_LABEL = b"privateline-sip-nonce"
_STAMP = 8
_RANDOM = 12
_MAC = 16
_NONCE_BYTES = _STAMP + _RANDOM + _MAC
_HEX = frozenset("0123456789abcdefABCDEF")


class Refusal(Enum):
    """Why credentials were refused."""

    MALFORMED = "malformed credentials"  # not Digest, or a required parameter missing or bad
    WRONG_REALM = "credentials for another realm"
    UNSUPPORTED_ALGORITHM = "unsupported algorithm"
    UNSUPPORTED_QOP = "qop=auth required"
    BAD_NONCE = "nonce not issued here"  # undecodable or failed the HMAC (tampered, or an old secret)
    URI_MISMATCH = "digest-uri is not the Request-URI"  # RFC 2617 §3.2.2.5
    NO_KEY = "no HA1 for this user and algorithm"
    WRONG_RESPONSE = "wrong response"  # wrong password (or a broken client)
    STALE = "stale nonce"  # RFC 2617 §3.2.1: the response was right but the nonce is too old
    REPLAYED = "nonce count not higher than before"  # RFC 2617 §3.2.2 nc


@dataclass(frozen=True)
class Verified:
    username: str
    algorithm: str


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    stale: bool = False


Outcome = Verified | Refused

# The caller's key source: canonical algorithm name ("MD5", "SHA-256") → HA1 in hex, or None.
HA1Lookup = Callable[[str], str | None]


def canonical_algorithm(name: str) -> str | None:
    """The algorithm name as `ALGORITHMS` spells it (the token is case-insensitive), or None."""
    for known in ALGORITHMS:
        if known.lower() == name.lower():
            return known
    return None


def digest_hex(algorithm: str, text: str) -> str:
    """H(text) in lower-case hex for an algorithm of `ALGORITHMS` (RFC 2617 §3.2.1, RFC 8760 §2)."""
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def expected_response(
    algorithm: str, ha1: str, *, nonce: str, nc: str, cnonce: str, qop: str, method: str, uri: str
) -> str:
    """request-digest for qop=auth (RFC 2617 §3.2.2.1); A2 = Method ":" digest-uri (§3.2.2.3)."""
    ha2 = digest_hex(algorithm, f"{method}:{uri}")
    return digest_hex(algorithm, f"{ha1.lower()}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _same_uri(digest_uri: str, request_uri: Uri) -> bool:
    """RFC 2617 §3.2.2.5: the digest-uri names the Request-URI (compared by §19.1.4 for SIP URIs)."""
    if digest_uri == str(request_uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except SipParseError:
        return False
    if isinstance(request_uri, SipUri):
        return request_uri.equivalent(parsed)
    return str(parsed) == str(request_uri)


class DigestServer:
    """Challenges and verification for one realm, keyed by `secret`."""

    def __init__(
        self,
        *,
        realm: str,
        secret: bytes,
        lifetime: float = DEFAULT_NONCE_LIFETIME,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        opaque: str | None = None,
        max_nonces: int = DEFAULT_MAX_NONCES,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the nonce secret needs at least 16 bytes")
        if not algorithms or any(a not in ALGORITHMS for a in algorithms):
            raise ValueError(f"algorithms must be among {tuple(ALGORITHMS)}")
        if lifetime <= 0 or max_nonces < 1:
            raise ValueError("lifetime and max_nonces must be positive")
        self.realm = realm
        self.lifetime = lifetime
        self.algorithms = algorithms
        self.opaque = opaque
        self._secret = secret
        self._max_nonces = max_nonces
        self._random_bytes = random_bytes
        # nonce → (issued at, last nc); in order of first use, which is close to order of issue.
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._evicted_up_to = float("-inf")  # nonces issued at or before this are refused as stale
        # Each challenge field rendered once with a stand-in nonce, split around it (hot path: a
        # 401 per registration); only the nonce differs between two challenges of one kind.
        self._templates = {stale: self._render_templates(stale) for stale in (False, True)}

    # Challenges (RFC 2617 §3.2.1; RFC 3261 §22.4; RFC 8760 §2: one field per algorithm, preferred first)

    def make_nonce(self, now: float) -> str:
        stamp = max(0, round(now * 1000)).to_bytes(_STAMP, "big")
        random = self._random_bytes(_RANDOM)
        return base64.urlsafe_b64encode(stamp + random + self._mac(stamp + random)).decode("ascii")

    def challenges(self, now: float, *, stale: bool = False) -> tuple[Challenge, ...]:
        """The WWW-Authenticate (or Proxy-Authenticate) values to send, one per algorithm."""
        nonce = self.make_nonce(now)
        return tuple(
            Challenge.digest(realm=self.realm, nonce=nonce, algorithm=a, opaque=self.opaque, stale=stale)
            for a in self.algorithms
        )

    def challenge_values(self, now: float, *, stale: bool = False) -> tuple[str, ...]:
        """`challenges(now, stale=stale)` as field values, one nonce for all of them."""
        nonce = self.make_nonce(now)
        return tuple(prefix + nonce + suffix for prefix, suffix in self._templates[stale])

    def _render_templates(self, stale: bool) -> tuple[tuple[str, str], ...]:
        stand_in = "N" * len(self.make_nonce(0))  # a nonce's shape: base64url, no quoting needed
        out = []
        for algorithm in self.algorithms:
            text = str(
                Challenge.digest(realm=self.realm, nonce=stand_in, algorithm=algorithm, opaque=self.opaque, stale=stale)
            )
            prefix, found, suffix = text.partition(f'nonce="{stand_in}"')
            assert found, text
            out.append((prefix + 'nonce="', '"' + suffix))
        return tuple(out)

    def derive_key(self, label: str) -> bytes:
        """A key for another purpose (`label`) derived from the secret (HMAC-SHA-256), so that the
        one persisted secret serves every instance (the proxy's dialog tokens, for one)."""
        return hmac.new(self._secret, b"privateline-derive:" + label.encode("utf-8"), hashlib.sha256).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.digest(self._secret, _LABEL + data, "sha256")[:_MAC]  # one-shot: the C fast path

    def nonce_issued_at(self, nonce: str) -> float | None:
        """When `nonce` was made here (seconds), or None when it was not made with this secret."""
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
        if len(raw) != _NONCE_BYTES or base64.urlsafe_b64encode(raw).decode("ascii") != nonce:
            return None
        body, mac = raw[: _STAMP + _RANDOM], raw[_STAMP + _RANDOM :]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        return int.from_bytes(body[:_STAMP], "big") / 1000

    # Verification (RFC 2617 §3.2.2; RFC 3261 §22.4)

    def verify(self, credentials: Credentials, *, method: str, request_uri: Uri, ha1: HA1Lookup, now: float) -> Outcome:
        """Check `credentials` of a request with `method` and `request_uri` against the caller's HA1."""
        if not credentials.is_digest:
            return Refused(Refusal.MALFORMED)
        username, nonce, uri = credentials.username, credentials.nonce, credentials.uri
        response, cnonce, nc = credentials.response, credentials.cnonce, credentials.nc
        if username is None or nonce is None or uri is None or response is None:
            return Refused(Refusal.MALFORMED)
        if credentials.realm != self.realm:
            return Refused(Refusal.WRONG_REALM)
        algorithm = canonical_algorithm(credentials.algorithm)
        if algorithm is None or algorithm not in self.algorithms:
            return Refused(Refusal.UNSUPPORTED_ALGORITHM)
        qop = credentials.qop
        # We offer only qop="auth", so the client MUST answer with it (RFC 2617 §3.2.2).
        if qop is None or qop.lower() != "auth":
            return Refused(Refusal.UNSUPPORTED_QOP)
        # nc-value = 8LHEX (RFC 2617 §3.2.2); cnonce is required with qop.
        if cnonce is None or not cnonce or nc is None or len(nc) != 8 or not set(nc) <= _HEX:
            return Refused(Refusal.MALFORMED)
        count = int(nc, 16)
        if self.opaque is not None and credentials.opaque != self.opaque:
            return Refused(Refusal.MALFORMED)  # RFC 2617 §3.2.1: opaque is returned unchanged
        issued = self.nonce_issued_at(nonce)
        if issued is None or issued > now + FUTURE_SKEW:
            return Refused(Refusal.BAD_NONCE)
        if not _same_uri(uri, request_uri):
            return Refused(Refusal.URI_MISMATCH)
        key = ha1(algorithm)
        if key is None:
            return Refused(Refusal.NO_KEY)
        wanted = expected_response(algorithm, key, nonce=nonce, nc=nc, cnonce=cnonce, qop=qop, method=method, uri=uri)
        if not hmac.compare_digest(wanted.encode("ascii"), response.lower().encode("utf-8", "replace")):
            return Refused(Refusal.WRONG_RESPONSE)
        # Only a correct response earns stale=true (RFC 2617 §3.2.1).
        self._prune(now)
        if now - issued > self.lifetime or issued <= self._evicted_up_to:
            return Refused(Refusal.STALE, stale=True)
        if not self._advance(nonce, issued, count):
            return Refused(Refusal.REPLAYED)
        return Verified(username, algorithm)

    def _advance(self, nonce: str, issued: float, count: int) -> bool:
        """Record `count` for `nonce` when it is higher than the last one seen (RFC 2617 §3.2.2)."""
        last = self._counts.get(nonce)
        if count < 1 or (last is not None and count <= last[1]):
            return False
        self._counts[nonce] = (issued, count)
        while len(self._counts) > self._max_nonces:
            _, (evicted, _) = self._counts.popitem(last=False)
            self._evicted_up_to = max(self._evicted_up_to, evicted)
        return True

    def _prune(self, now: float) -> None:
        """Forget the counts of expired nonces (they are refused as stale anyway), oldest first:
        the map is in order of first use, close to order of issue, so this is cheap per call and a
        straggler goes when it reaches the front (or when the map is full)."""
        while self._counts:
            nonce, (issued, _) = next(iter(self._counts.items()))
            if now - issued <= self.lifetime:
                return
            del self._counts[nonce]

    @property
    def tracked_nonces(self) -> int:
        return len(self._counts)
