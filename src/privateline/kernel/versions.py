"""Ordering software versions as vendors write them ("42.096", "2.10.1", "V1.2b").

Versions are compared piece by piece, numbers as numbers and letters as text, so that
"2.10" is newer than "2.9".  A pure key function, used to decide which firmware is
newer than what a device reports (DEV-9).
"""

from __future__ import annotations

import re

_PIECE = re.compile(r"(\d+)|([A-Za-z]+)")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    # Numbers sort after letters at the same position: "1.0" is newer than "1.0beta"
    # only when the letters come first in the tuple ordering of (kind, number, text).
    pieces: list[tuple[int, int, str]] = []
    for number, letters in _PIECE.findall(version.lower().removeprefix("v")):
        if number:
            pieces.append((1, int(number), ""))
        else:
            pieces.append((0, 0, letters))
    return tuple(pieces)


def is_newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)
