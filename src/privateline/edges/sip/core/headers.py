"""Header fields: an ordered, immutable multimap with SIP's name rules.

RFC 3261 §7.3.1: field names are case-insensitive, and the order of fields with the same
name matters (Via, Route, Record-Route, Contact).  §7.3.3: a compact form is the same field
as its long name.  `Headers` therefore stores every field under its canonical name (`v` and
`VIA` become `Via`, `i` becomes `Call-ID`), keeps the order, and holds each value as received
after unfolding (§7.3.1) and trimming, so a proxy forwards what it did not touch unchanged.
Unknown field names are kept as written (RFC 4475 §3.1.1.5: `C%6Fntact` is not Contact).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from privateline.edges.sip.core.grammar import WS, is_token, split_list

# RFC 3261 §7.3.3 and §20; the others from the RFCs named beside them.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",  # RFC 3841 §9.2
    "b": "Referred-By",  # RFC 3892 §7
    "c": "Content-Type",
    "d": "Request-Disposition",  # RFC 3841 §9.3
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",  # RFC 3841 §9.2
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",  # RFC 4474 §12 (obsoleted by RFC 8224, still sent)
    "o": "Event",  # RFC 6665 §8.2.1 (was RFC 3265)
    "r": "Refer-To",  # RFC 3515 §2.1
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",  # RFC 6665 §8.2.2 (was RFC 3265)
    "v": "Via",
    "x": "Session-Expires",  # RFC 4028 §4
    "y": "Identity",  # RFC 8224 §4
}
_LONG_TO_COMPACT = {long: short for short, long in COMPACT_FORMS.items()}

_KNOWN = (
    # RFC 3261 §20
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info",
    "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Expires",
    "From", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires", "Organization", "Priority",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route", "Reply-To",
    "Require", "Retry-After", "Route", "Server", "Subject", "Supported", "Timestamp", "To",
    "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
    # extensions a registrar and proxy meet
    "Path",  # RFC 3327
    "Service-Route",  # RFC 3608
    "RAck", "RSeq",  # RFC 3262
    "Event", "Allow-Events", "Subscription-State",  # RFC 6665
    "Refer-To", "Referred-By",  # RFC 3515, RFC 3892
    "Session-Expires", "Min-SE",  # RFC 4028
    "Identity", "Identity-Info",  # RFC 8224, RFC 4474
    "Accept-Contact", "Reject-Contact", "Request-Disposition",  # RFC 3841
    "Reason",  # RFC 3326
    "P-Asserted-Identity", "P-Preferred-Identity", "Privacy",  # RFC 3325, RFC 3323
    "Flow-Timer",  # RFC 5626
    "Replaces",  # RFC 3891
    "SIP-ETag", "SIP-If-Match",  # RFC 3903
    "Max-Breadth",  # RFC 5393
)  # fmt: skip
_CANONICAL = {name.lower(): name for name in _KNOWN}


def canonical_name(name: str) -> str:
    """The long, canonically spelt form of a field name (compact forms expanded, §7.3.3)."""
    lower = name.lower()
    lower = COMPACT_FORMS.get(lower, lower).lower()
    return _CANONICAL.get(lower, name)


def compact_name(name: str) -> str:
    """The compact form of `name` when it has one (§7.3.3), else `name` itself."""
    canonical = canonical_name(name)
    return _LONG_TO_COMPACT.get(canonical, canonical)


def _key(name: str) -> str:
    return canonical_name(name).lower()


class Headers:
    """Immutable ordered header fields; every change returns new `Headers`.

    Values are single-line text (CR and LF are refused: they cannot be sent); surrounding
    SP and HTAB are trimmed.
    """

    __slots__ = ("_fields", "_keys")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        names: list[tuple[str, str]] = []
        for name, value in fields:
            if not is_token(name):
                raise ValueError(f"header name {name!r} is not a token")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} has CR or LF in its value")
            names.append((canonical_name(name), value.strip(WS)))
        self._fields = tuple(names)
        self._keys = tuple(name.lower() for name, _ in self._fields)

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return self._fields

    def get(self, name: str) -> str | None:
        """The value of the first field called `name` (any case, compact or long)."""
        key = _key(name)
        for index, field_key in enumerate(self._keys):
            if field_key == key:
                return self._fields[index][1]
        return None

    def get_all(self, name: str) -> tuple[str, ...]:
        """The values of all fields called `name`, in order, one per field line."""
        key = _key(name)
        return tuple(self._fields[i][1] for i, field_key in enumerate(self._keys) if field_key == key)

    def values(self, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        """All comma-separated elements of the fields called `name` (§7.3.1), across fields, in order.

        Only for fields whose grammar is a comma list; SipParseError for an empty element.
        """
        out: list[str] = []
        for value in self.get_all(name):
            out += split_list(value, canonical_name(name), allow_empty=allow_empty)
        return tuple(out)

    def count(self, name: str) -> int:
        key = _key(name)
        return sum(1 for field_key in self._keys if field_key == key)

    def add(self, name: str, value: str) -> Headers:
        """These fields with one more at the end."""
        return Headers((*self._fields, (name, value)))

    def prepend(self, name: str, value: str) -> Headers:
        """These fields with one more at the top (a new Via or Record-Route, §16.6, §16.7)."""
        return Headers(((name, value), *self._fields))

    def set(self, name: str, value: str) -> Headers:
        """Replace all fields called `name` by one, where the first was (or at the end)."""
        key = _key(name)
        out: list[tuple[str, str]] = []
        placed = False
        for field, field_key in zip(self._fields, self._keys, strict=True):
            if field_key != key:
                out.append(field)
            elif not placed:
                out.append((name, value))
                placed = True
        if not placed:
            out.append((name, value))
        return Headers(out)

    def remove(self, name: str) -> Headers:
        key = _key(name)
        return Headers(f for f, k in zip(self._fields, self._keys, strict=True) if k != key)

    def remove_first(self, name: str) -> Headers:
        """Without the first field called `name` (the top Via of a response, §18.1.2; a Route, §16.12)."""
        key = _key(name)
        if key not in self._keys:
            return self
        index = self._keys.index(key)
        return Headers((*self._fields[:index], *self._fields[index + 1 :]))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._keys

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._keys == other._keys and [v for _, v in self._fields] == [v for _, v in other._fields]

    def __hash__(self) -> int:
        return hash((self._keys, tuple(v for _, v in self._fields)))

    def __repr__(self) -> str:
        return f"Headers({list(self._fields)!r})"
