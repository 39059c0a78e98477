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


# Names seen on the wire repeat endlessly (Via, v, CSeq, ...): remember what each spelling maps
# to, up to a bound, so that a flood of made-up names cannot grow the memo without limit.
_MEMO_LIMIT = 4096
CANONICAL_MEMO: dict[str, str] = {}
_KEY_MEMO: dict[str, str] = {}


def _canonical(name: str) -> str:
    lower = name.lower()
    lower = COMPACT_FORMS.get(lower, lower).lower()
    return _CANONICAL.get(lower, name)


def canonical_name(name: str) -> str:
    """The long, canonically spelt form of a field name (compact forms expanded, §7.3.3)."""
    found = CANONICAL_MEMO.get(name)
    if found is None:
        found = _canonical(name)
        if len(CANONICAL_MEMO) < _MEMO_LIMIT:
            CANONICAL_MEMO[name] = found
    return found


def compact_name(name: str) -> str:
    """The compact form of `name` when it has one (§7.3.3), else `name` itself."""
    canonical = canonical_name(name)
    return _LONG_TO_COMPACT.get(canonical, canonical)


def _key(name: str) -> str:
    """The case-folded canonical name: what two spellings of one field have in common."""
    found = _KEY_MEMO.get(name)
    if found is None:
        found = canonical_name(name).lower()
        if len(_KEY_MEMO) < _MEMO_LIMIT:
            _KEY_MEMO[name] = found
    return found


class Headers:
    """Immutable ordered header fields; every change returns new `Headers`.

    Values are single-line text (CR and LF are refused: they cannot be sent); surrounding
    SP and HTAB are trimmed.  Lookups go through an index (folded name to the values, in
    order) built on first use, so a message's many accessors do not each scan every field.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        names: list[tuple[str, str]] = []
        for name, value in fields:
            if not is_token(name):
                raise ValueError(f"header name {name!r} is not a token")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} has CR or LF in its value")
            names.append((canonical_name(name), value.strip(WS)))
        self._fields = tuple(names)
        self._index: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def trusted(cls, fields: tuple[tuple[str, str], ...]) -> Headers:
        """Headers of fields already checked: canonical token names, trimmed values without CR or LF.

        For the parser and for fields taken from other `Headers`; anything else goes through `Headers(...)`.
        """
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._index = None
        return headers

    def _lookup(self) -> dict[str, tuple[str, ...]]:
        index: dict[str, tuple[str, ...]] = {}
        memo = _KEY_MEMO
        for name, value in self._fields:
            key = memo.get(name) or _key(name)
            index[key] = (*index.get(key, ()), value)
        self._index = index
        return index

    def settle(self) -> None:
        """Drop the index (built again on the next lookup): see `Message.settle`."""
        self._index = None

    @property
    def _keys(self) -> tuple[str, ...]:
        return tuple(_key(name) for name, _ in self._fields)

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return self._fields

    def get(self, name: str) -> str | None:
        """The value of the first field called `name` (any case, compact or long)."""
        found = (self._index or self._lookup()).get(_KEY_MEMO.get(name) or _key(name))
        return None if found is None else found[0]

    def get_all(self, name: str) -> tuple[str, ...]:
        """The values of all fields called `name`, in order, one per field line."""
        return (self._index or self._lookup()).get(_KEY_MEMO.get(name) or _key(name), ())

    def values(self, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        """All comma-separated elements of the fields called `name` (§7.3.1), across fields, in order.

        Only for fields whose grammar is a comma list; SipParseError for an empty element.
        """
        out: list[str] = []
        for value in self.get_all(name):
            out += split_list(value, canonical_name(name), allow_empty=allow_empty)
        return tuple(out)

    def first_repeated(self, names: tuple[str, ...]) -> str | None:
        """The first of `names` (canonical) that more than one field is called, or None."""
        index = self._index or self._lookup()
        if len(index) == len(self._fields):
            return None  # every field has a name of its own
        for name in names:
            found = index.get(_key(name))
            if found is not None and len(found) > 1:
                return name
        return None

    def count(self, name: str) -> int:
        return len(self.get_all(name))

    def add(self, name: str, value: str) -> Headers:
        """These fields with one more at the end."""
        return Headers.trusted((*self._fields, *Headers(((name, value),))._fields))

    def prepend(self, name: str, value: str) -> Headers:
        """These fields with one more at the top (a new Via or Record-Route, §16.6, §16.7)."""
        return Headers.trusted((*Headers(((name, value),))._fields, *self._fields))

    def set(self, name: str, value: str) -> Headers:
        """Replace all fields called `name` by one, where the first was (or at the end)."""
        key = _key(name)
        (new,) = Headers(((name, value),))._fields
        out: list[tuple[str, str]] = []
        placed = False
        for field in self._fields:
            if _key(field[0]) != key:
                out.append(field)
            elif not placed:
                out.append(new)
                placed = True
        if not placed:
            out.append(new)
        return Headers.trusted(tuple(out))

    def remove(self, name: str) -> Headers:
        key = _key(name)
        return Headers.trusted(tuple(f for f in self._fields if _key(f[0]) != key))

    def remove_first(self, name: str) -> Headers:
        """Without the first field called `name` (the top Via of a response, §18.1.2; a Route, §16.12)."""
        key = _key(name)
        for index, field in enumerate(self._fields):
            if _key(field[0]) == key:
                return Headers.trusted((*self._fields[:index], *self._fields[index + 1 :]))
        return self

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in (self._index or self._lookup())

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
