"""The server side of SIP digest (RFC 2617 §3.2 with qop=auth, RFC 8760 §2, RFC 3261 §22.4).

Expected responses are computed here from the RFC formulas with hashlib, not with the module.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from privateline.edges.sip.core import Credentials, DigestServer, Refusal, Refused, SipUri, Verified
from privateline.edges.sip.core.auth import parse_credentials

SECRET = b"0123456789abcdef-test-secret"
REALM = "sip.example.test"
USER = "4930123456"
PASSWORD = "s3cret-pass"
URI = SipUri(host="sip.example.test")
T0 = 1_800_000_000.0
HASHES = {"MD5": "md5", "SHA-256": "sha256"}


def h(algorithm: str, text: str) -> str:
    return hashlib.new(HASHES[algorithm], text.encode()).hexdigest()


def ha1(algorithm: str, password: str = PASSWORD) -> str:
    """HA1 = H(username:realm:password) (RFC 2617 §3.2.2.2)."""
    return h(algorithm, f"{USER}:{REALM}:{password}")


def keys(password: str = PASSWORD) -> dict[str, str]:
    return {a: ha1(a, password) for a in HASHES}


def answer(
    nonce: str,
    *,
    algorithm: str = "MD5",
    password: str = PASSWORD,
    nc: str = "00000001",
    cnonce: str = "0a4f113b",
    method: str = "REGISTER",
    uri: str = str(URI),
    realm: str = REALM,
    opaque: str | None = None,
) -> Credentials:
    """What a client sends: response = H(HA1:nonce:nc:cnonce:qop:H(method:uri)) (RFC 2617 §3.2.2.1)."""
    ha2 = h(algorithm, f"{method}:{uri}")
    response = h(algorithm, f"{ha1(algorithm, password)}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return Credentials.digest(
        username=USER,
        realm=realm,
        nonce=nonce,
        uri=uri,
        response=response,
        algorithm=algorithm,
        cnonce=cnonce,
        opaque=opaque,
        qop="auth",
        nc=nc,
    )


def server(*, lifetime: float = 300.0, max_nonces: int = 1000, opaque: str | None = None) -> DigestServer:
    return DigestServer(realm=REALM, secret=SECRET, lifetime=lifetime, max_nonces=max_nonces, opaque=opaque)


def verify(s: DigestServer, credentials: Credentials, now: float, password: str = PASSWORD) -> object:
    return s.verify(credentials, method="REGISTER", request_uri=URI, ha1=keys(password).get, now=now)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_round_trip(algorithm: str) -> None:
    s = server()
    challenges = s.challenges(T0)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]  # RFC 8760 §2: preferred first
    challenge = next(c for c in challenges if c.algorithm == algorithm)
    assert challenge.realm == REALM and challenge.qop_options == ("auth",) and not challenge.stale
    assert challenge.nonce is not None
    # Through the wire form and back, as a phone would send it.
    sent = parse_credentials(str(answer(challenge.nonce, algorithm=algorithm)))
    assert verify(s, sent, T0 + 10) == Verified(USER, algorithm)


def test_the_algorithm_token_is_case_insensitive() -> None:
    s = server()
    nonce = s.make_nonce(T0)
    credentials = answer(nonce, algorithm="SHA-256")
    lowered = Credentials("Digest", credentials.params.set("algorithm", "sha-256"))
    assert verify(s, lowered, T0) == Verified(USER, "SHA-256")


def test_wrong_password() -> None:
    s = server()
    nonce = s.make_nonce(T0)
    assert verify(s, answer(nonce, password="not-it"), T0) == Refused(Refusal.WRONG_RESPONSE)


def test_expired_nonce_with_a_right_response_is_stale() -> None:
    """RFC 2617 §3.2.1: stale=TRUE when the digest was valid but the nonce was not."""
    s = server(lifetime=300.0)
    nonce = s.make_nonce(T0)
    assert verify(s, answer(nonce), T0 + 301) == Refused(Refusal.STALE, stale=True)
    # A wrong response with a stale nonce is just wrong.
    assert verify(s, answer(nonce, password="x" * 8), T0 + 301) == Refused(Refusal.WRONG_RESPONSE)
    challenge = s.challenges(T0 + 301, stale=True)[0]
    assert challenge.stale and challenge.nonce != nonce


def test_replayed_nonce_count_is_refused() -> None:
    s = server()
    nonce = s.make_nonce(T0)
    assert isinstance(verify(s, answer(nonce, nc="00000001"), T0), Verified)
    assert verify(s, answer(nonce, nc="00000001"), T0 + 1) == Refused(Refusal.REPLAYED)
    assert isinstance(verify(s, answer(nonce, nc="00000002"), T0 + 2), Verified)
    assert verify(s, answer(nonce, nc="00000002", cnonce="other"), T0 + 3) == Refused(Refusal.REPLAYED)
    assert isinstance(verify(s, answer(nonce, nc="0000000a"), T0 + 4), Verified)
    assert verify(s, answer(nonce, nc="00000005"), T0 + 5) == Refused(Refusal.REPLAYED)
    assert verify(s, answer(s.make_nonce(T0), nc="00000000"), T0) == Refused(Refusal.REPLAYED)


def test_tampered_nonce_is_refused() -> None:
    s = server()
    nonce = s.make_nonce(T0)
    raw = bytearray(base64.urlsafe_b64decode(nonce))
    raw[0] ^= 0x01  # move the timestamp
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()
    assert verify(s, answer(tampered), T0) == Refused(Refusal.BAD_NONCE)
    for junk in ("", "not base64 !", "AAAA", nonce[:-4]):
        assert verify(s, answer(junk), T0) == Refused(Refusal.BAD_NONCE)
    other = DigestServer(realm=REALM, secret=b"another-secret-of-16+")
    assert verify(other, answer(nonce), T0) == Refused(Refusal.BAD_NONCE)


def test_a_nonce_from_the_future_is_refused() -> None:
    s = server()
    assert verify(s, answer(s.make_nonce(T0 + 60)), T0) == Refused(Refusal.BAD_NONCE)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"realm": "elsewhere.test"}, Refusal.WRONG_REALM),
        ({"algorithm": "SHA-512-256"}, Refusal.UNSUPPORTED_ALGORITHM),
        ({"qop": "auth-int"}, Refusal.UNSUPPORTED_QOP),
        ({"nc": "1"}, Refusal.MALFORMED),
        ({"nc": "0000000g"}, Refusal.MALFORMED),
        ({"uri": "sip:other.test"}, Refusal.URI_MISMATCH),
        ({"uri": "<<bad"}, Refusal.URI_MISMATCH),
    ],
)
def test_bad_credentials_are_refused_without_raising(change: dict[str, str], reason: Refusal) -> None:
    s = server()
    credentials = answer(s.make_nonce(T0))
    params = credentials.params
    for name, value in change.items():
        params = params.set(name, value, quoted=True)
    assert verify(s, Credentials("Digest", params), T0) == Refused(reason)


def test_missing_parameters_and_other_schemes_are_malformed() -> None:
    s = server()
    credentials = answer(s.make_nonce(T0))
    for name in ("cnonce", "nc", "response", "username"):
        stripped = Credentials("Digest", credentials.params.remove(name))
        assert verify(s, stripped, T0) == Refused(Refusal.MALFORMED)
    no_qop = Credentials("Digest", credentials.params.remove("qop"))
    assert verify(s, no_qop, T0) == Refused(Refusal.UNSUPPORTED_QOP)
    assert verify(s, Credentials("Basic", credentials.params), T0) == Refused(Refusal.MALFORMED)


def test_an_equivalent_digest_uri_is_accepted() -> None:
    """RFC 2617 §3.2.2.5 with the URI comparison of RFC 3261 §19.1.4."""
    s = server()
    assert isinstance(verify(s, answer(s.make_nonce(T0), uri="sip:SIP.example.test"), T0), Verified)


def test_no_key_for_the_algorithm() -> None:
    s = server()
    credentials = answer(s.make_nonce(T0), algorithm="SHA-256")
    outcome = s.verify(credentials, method="REGISTER", request_uri=URI, ha1={"MD5": ha1("MD5")}.get, now=T0)
    assert outcome == Refused(Refusal.NO_KEY)


def test_opaque_must_come_back() -> None:
    s = server(opaque="xyz")
    assert s.challenges(T0)[0].opaque == "xyz"
    nonce = s.make_nonce(T0)
    assert isinstance(verify(s, answer(nonce, opaque="xyz"), T0), Verified)
    assert verify(s, answer(nonce, opaque="abc", nc="00000002"), T0) == Refused(Refusal.MALFORMED)


def test_the_count_map_is_pruned_by_age_and_bounded() -> None:
    s = server(lifetime=300.0, max_nonces=3)
    for i in range(3):
        assert isinstance(verify(s, answer(s.make_nonce(T0 + i)), T0 + i), Verified)
    assert s.tracked_nonces == 3
    # Over the bound: the oldest goes, and nonces as old as it are refused as stale from then on.
    first = s.make_nonce(T0)
    s2 = server(lifetime=300.0, max_nonces=1)
    assert isinstance(verify(s2, answer(first), T0), Verified)
    assert isinstance(verify(s2, answer(s2.make_nonce(T0 + 1)), T0 + 1), Verified)
    assert s2.tracked_nonces == 1
    assert verify(s2, answer(first, nc="00000001"), T0 + 2) == Refused(Refusal.STALE, stale=True)
    # Age: once they are older than the lifetime they are forgotten.
    assert isinstance(verify(s, answer(s.make_nonce(T0 + 400)), T0 + 400), Verified)
    assert s.tracked_nonces == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DigestServer(realm=REALM, secret=b"short")
    with pytest.raises(ValueError, match="algorithms"):
        DigestServer(realm=REALM, secret=SECRET, algorithms=("SHA-1",))


def test_nonces_are_stateless_across_instances() -> None:
    """Any instance holding the secret accepts a nonce another one made."""
    made_here, checked_there = server(), server()
    assert isinstance(verify(checked_there, answer(made_here.make_nonce(T0)), T0 + 1), Verified)


@pytest.mark.parametrize("stale", [False, True])
@pytest.mark.parametrize("opaque", [None, "xyz"])
def test_the_rendered_challenge_fields_are_the_challenges_written_out(stale: bool, opaque: str | None) -> None:
    """`challenge_values` (the registrar's fast path) renders from templates; it must say exactly
    what the Challenge objects say, and every value must carry a nonce this server accepts."""
    made = [DigestServer(realm=REALM, secret=SECRET, opaque=opaque, random_bytes=lambda n: b"\x07" * n) for _ in "ab"]
    values = made[0].challenge_values(T0, stale=stale)
    assert values == tuple(str(c) for c in made[1].challenges(T0, stale=stale))
    for value in values:
        [challenge] = [c for c in made[1].challenges(T0, stale=stale) if str(c) == value]
        assert challenge.nonce is not None and made[0].nonce_issued_at(challenge.nonce) == T0
