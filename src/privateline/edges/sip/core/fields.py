"""The small typed header fields: CSeq, Call-ID, numbers, media types, option tags, Date.

Each `parse_*` takes one field value (after unfolding) and raises SipParseError when it does
not follow its grammar in RFC 3261 §25.1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.grammar import WS, Params, Scanner, is_token, is_word, parse_params, split_list

MAX_CSEQ = 2**31 - 1  # §8.1.1.5: "MUST be expressible as a 32-bit unsigned integer and MUST be less than 2**31"
MAX_MAX_FORWARDS = 255  # §20.22: "an integer in the range 0-255"
MAX_DELTA_SECONDS = 2**32 - 1  # §20.19: Expires is "between 0 and (2**32)-1"


@dataclass(frozen=True)
class CSeq:
    """CSeq = "CSeq" HCOLON 1*DIGIT LWS Method (§20.16)."""

    number: int
    method: str

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_CSEQ or not is_token(self.method):
            raise ValueError("CSeq needs a number below 2**31 and a token method")

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def number(value: str, what: str, maximum: int) -> int:
    """1*DIGIT no greater than `maximum` (leading zeros allowed: `0068` is 68)."""
    if 0 < len(value) <= 9 and value.isascii() and value.isdigit():
        found = int(value)  # nine digits at most: int() takes them quickly
        if found <= maximum:
            return found
    if not value or not value.isascii() or not value.isdigit():
        raise SipParseError(f"Malformed {what}: not a number")
    significant = value.lstrip("0") or "0"  # int() refuses very long digit strings, even of zeros
    if len(significant) > len(str(maximum)) or int(significant) > maximum:
        raise SipParseError(f"Malformed {what}: out of range")
    return int(significant)


def delta_seconds(value: str, what: str) -> int:
    """delta-seconds = 1*DIGIT (§25.1), at most 2**32-1 (§20.19); SipParseError otherwise."""
    return number(value.strip(WS), what, MAX_DELTA_SECONDS)


def parse_cseq(value: str) -> CSeq:
    found = _PLAIN_CSEQ.fullmatch(value)
    if found is not None:
        cseq = object.__new__(CSeq)  # number() bounds it by MAX_CSEQ; the method is a token
        cseq.__dict__["number"] = number(found.group(1), "CSeq", MAX_CSEQ)
        cseq.__dict__["method"] = found.group(2)
        return cseq
    return _parse_cseq_scanned(value)


def _parse_cseq_scanned(value: str) -> CSeq:
    scanner = Scanner(value, "CSeq")
    digits = scanner.match(_DIGITS, "a sequence number")
    if not scanner.skip_ws():
        raise scanner.error("expected whitespace before the method")
    method = scanner.token("a method")
    scanner.expect_end()
    return CSeq(number(digits, "CSeq", MAX_CSEQ), method)


_DIGITS = re.compile(r"[0-9]+")
# The usual CSeq: digits, whitespace, a method, nothing else (what the scanner then accepts too).
_PLAIN_CSEQ = re.compile(r"([0-9]++)[ \t]++([A-Za-z0-9\-.!%*_+`'~]++)")


def parse_call_id(value: str) -> str:
    """callid = word [ "@" word ] (§20.8, §25.1)."""
    left, at, right = value.partition("@")
    if not is_word(left) or (at and not is_word(right)):
        raise SipParseError("Malformed Call-ID")
    return value


@dataclass(frozen=True)
class MediaType:
    """media-type = m-type SLASH m-subtype *(SEMI m-parameter) (§20.15); also an Accept range (§20.1)."""

    type: str
    subtype: str
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        if not is_token(self.type) or not is_token(self.subtype):
            raise ValueError("media type and subtype must be tokens")

    @property
    def mime(self) -> str:
        """`type/subtype` in lower case, for comparing (media types are case-insensitive)."""
        return f"{self.type}/{self.subtype}".lower()

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{self.params}"


def parse_media_type(value: str, what: str = "Content-Type") -> MediaType:
    scanner = Scanner(value, what)
    kind = scanner.token("a media type")
    scanner.skip_ws()
    scanner.expect("/")
    scanner.skip_ws()
    subtype = scanner.token("a media subtype")
    params = parse_params(scanner)
    scanner.expect_end()
    return MediaType(kind, subtype, params)


def parse_accept(fields: Iterable[str]) -> tuple[MediaType, ...]:
    """Accept = "Accept" HCOLON [ accept-range *(COMMA accept-range) ] (§20.1): may be empty."""
    return tuple(
        parse_media_type(item, "Accept") for value in fields for item in split_list(value, "Accept", allow_empty=True)
    )


def parse_tokens(fields: Iterable[str], what: str, *, allow_empty: bool) -> tuple[str, ...]:
    """A comma list of tokens: Allow (methods, §20.5), Supported/Require/Proxy-Require/Unsupported (option tags)."""
    items = tuple(item for value in fields for item in split_list(value, what, allow_empty=allow_empty))
    if not all(is_token(item) for item in items):
        raise SipParseError(f"Malformed {what}: not a token")
    return items


_WKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# SIP-date = rfc1123-date = wkday "," SP date1 SP time SP "GMT" (§20.17, §25.1; RFC 2616 §3.3.1)
_DATE = re.compile(r"([A-Za-z]{3}), ([0-9]{2}) ([A-Za-z]{3}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT")


def parse_date(value: str) -> datetime:
    """A Date field as an aware UTC datetime; SipParseError for any other zone (RFC 4475 §3.1.2.12)."""
    found = _DATE.fullmatch(value.strip(WS))
    if found is None or found.group(1) not in _WKDAYS or found.group(3) not in _MONTHS:
        raise SipParseError("Malformed Date: not an RFC 1123 date in GMT")
    day, year, hour, minute, second = (int(found.group(i)) for i in (2, 4, 5, 6, 7))
    try:
        return datetime(year, _MONTHS.index(found.group(3)) + 1, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise SipParseError("Malformed Date: no such moment") from None


def format_date(moment: datetime) -> str:
    """`moment` as a SIP-date (§20.17), e.g. for the Date of a registrar's 200 (§10.3 step 8)."""
    global _last_date  # noqa: PLW0603 - one (second, text) pair, replaced whole: safe across threads
    second = math.floor(moment.timestamp())
    last = _last_date
    if last[0] != second:  # a registrar writes the same second's date for many 200s
        utc = moment.astimezone(UTC)
        text = f"{_WKDAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} {utc:%H:%M:%S} GMT"
        last = _last_date = (second, text)
    return last[1]


_last_date: tuple[int, str] = (-1, "")  # the whole second last formatted, and its text
