"""Unguessable ids that people read, paste and type: request ids, consent receipts, notice ids.

URL-safe base64 from the operating system's CSPRNG (`secrets`), as before, with one
rule more: an id never begins with "-", so an operator can pass it to a command
(`privateline rights export ID`) without the shell's option parsing taking it for a flag.
"""

from __future__ import annotations

import secrets


def public_id(nbytes: int = 16) -> str:
    while True:
        candidate = secrets.token_urlsafe(nbytes)
        if not candidate.startswith("-"):
            return candidate
