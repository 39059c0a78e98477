"""Device passwords, kept only in the forms the services need (DEV-2, DEV-3).

A factory password is never stored.  The SIP service needs the digest HA1 of RFC 2617
§3.2.2.2 (MD5) and RFC 8760 §3 (SHA-256) for the realm; the owner's portal and the
check-in need a verifier.  The portal keeps an argon2id hash.  The check-in, called by
every phone every day, compares the SHA-256 HA1, which is as strong as the MD5 HA1 the
SIP service must keep anyway: an attacker holding the database could use either.

Argon2 parameters: factory passwords are generated, not chosen by people, and the MD5
HA1 is password-equivalent for SIP (RFC 2617 §4.13), so argon2's memory cost protects
nothing the HA1 does not already expose.  A light setting keeps importing 100,000
devices to about a minute; sign-in attempts are rate limited.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD = 6
MAX_PASSWORD = 128

_portal_hasher = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)


class PasswordError(ValueError):
    pass


@dataclass(frozen=True)
class PasswordForms:
    ha1_md5: str
    ha1_sha256: str
    portal_hash: str


def check_password_shape(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise PasswordError(f"a device password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in password) or ":" in password:
        raise PasswordError("a device password has no control characters and no ':'")


def ha1(algorithm: str, number: str, realm: str, password: str) -> str:
    """HA1 = H(username ":" realm ":" password) (RFC 2617 §3.2.2.2, RFC 8760 §3)."""
    return hashlib.new(algorithm, f"{number}:{realm}:{password}".encode()).hexdigest()


def password_forms(number: str, realm: str, password: str) -> PasswordForms:
    check_password_shape(password)
    return PasswordForms(
        ha1_md5=ha1("md5", number, realm, password),
        ha1_sha256=ha1("sha256", number, realm, password),
        portal_hash=_portal_hasher.hash(password),
    )


def matches_ha1(stored_sha256: str, number: str, realm: str, password: str) -> bool:
    return hmac.compare_digest(stored_sha256, ha1("sha256", number, realm, password))


def matches_portal_hash(stored: str, password: str) -> bool:
    try:
        return _portal_hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
