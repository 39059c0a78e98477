"""Whether a text names a value as a whole word, not as a chance run of characters inside another one.

A package of subject data holds many hexadecimal digests (audit hashes, pseudonyms). A phone number
such as 4031 turns up inside one of them about once in a thousand digests, which made a plain
`number not in text` fail now and then although nothing of the other phone was there.
"""

from __future__ import annotations

import re


def mentions(text: str, value: str) -> bool:
    """True when `value` occurs in `text` with no letter or digit directly before or after it."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None
