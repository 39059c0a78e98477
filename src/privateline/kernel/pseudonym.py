"""Keyed pseudonyms: how the kernel names a data subject without naming them.

The audit chain, the erasure journal and the consent ledger refer to subjects only by
HMAC-SHA256(key, kind ":" identifier).  Without the key (kept in the data directory or
the configuration, never in the database) a pseudonym cannot be turned back into a
number, an address or an account, and erasing the subject's rows never breaks the
audit chain (GDPR Art. 4(5), Art. 25(1), Art. 32(1)(a)).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ValueError(f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<secret>)"

    def pseudonym(self, subject_kind: str, identifier: str) -> str:
        message = f"{subject_kind}:{identifier}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
