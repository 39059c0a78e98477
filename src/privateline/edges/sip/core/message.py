"""SIP messages: `Request` and `Response` (RFC 3261 §7), frozen, with typed header access, and
`serialize`, which writes them as bytes.

A message holds its header fields as text (`Headers`) and parses them into typed values on
first use (cached in the instance, as `functools.cached_property` would, but without the lock
it takes on Python 3.11: the values are immutable, so two threads computing one agree).
`parse_message` calls `check()`, which parses every field the transaction layer and the proxy
rely on (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact, Route,
Record-Route), so on a parsed message those properties never raise (a From, To or Contact of
the plain shape, which certainly parses, is only recognised then, and parsed when first read).
The other typed properties (Expires, Date, Authorization, ...) raise SipParseError when their
field is malformed: RFC 4475 §3.1.2.12 and §3.1.2.4 let an element ignore or default such a
field unless it needs it, so the caller that needs it decides.

A field that may appear only once (§7.3.1: not a comma list) appearing twice is an error
(RFC 4475 §3.3.8).  A missing mandatory field is not a parse error: `missing_mandatory()`
names it, so a UAS can still answer 400 with what is there (RFC 4475 §3.3.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar, overload

from privateline.edges.sip.core.address import (
    Address,
    Wildcard,
    parse_address,
    parse_address_list,
    parse_contacts,
    plainly_valid_address,
)
from privateline.edges.sip.core.auth import Challenge, Credentials, parse_challenge, parse_credentials
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import (
    MAX_MAX_FORWARDS,
    CSeq,
    MediaType,
    delta_seconds,
    number,
    parse_accept,
    parse_call_id,
    parse_cseq,
    parse_date,
    parse_media_type,
    parse_tokens,
)
from privateline.edges.sip.core.grammar import is_token
from privateline.edges.sip.core.headers import Headers, canonical_name, compact_name
from privateline.edges.sip.core.uri import SipUri, Uri
from privateline.edges.sip.core.via import Via, parse_via

SIP_2_0 = "SIP/2.0"
VERSION_PATTERN = re.compile(r"SIP/[0-9]+\.[0-9]+")
MAX_CONTENT_LENGTH = 2**32 - 1

# §8.1.1 (requests) and §8.2.6.2 (responses): what identifies the transaction and dialog.
# Max-Forwards is also required of a UAC (§8.1.1.6), but §16.3 step 3 lets a proxy pass a
# request without it and RFC 4475 §3.4.1 wants RFC 2543 requests (which lack it) accepted.
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")

# Fields whose grammar is a single value (not a comma list): two of them are an error.
SINGLE_VALUED = (
    "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type", "Expires",
    "Min-Expires", "Date", "User-Agent", "Server",
)  # fmt: skip


T = TypeVar("T")


class cached_property(Generic[T]):  # noqa: N801 (named as the functools one it stands for)
    """A value computed on first access and stored in the instance's `__dict__`, which then
    shadows this (non-data) descriptor: later reads are plain attribute reads."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object, owner: type | None = None) -> T | cached_property[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


# What a Request or Response is made of; everything else in its `__dict__` was parsed from
# these and is kept by `cached_property` (so `settle` may drop it).
MESSAGE_FIELDS = frozenset({"method", "uri", "status", "reason", "headers", "body", "version"})


class _Fields:
    """Typed access to the header fields of a message (shared by Request and Response)."""

    headers: Headers

    def settle(self) -> None:
        """Let go of what was parsed from the fields (each is parsed again on its next read).

        A transaction that only absorbs retransmissions keeps its messages for up to 64*T1
        (§17.2.1 Timer L, §17.2.2 Timer J), and their parsed objects made up most of what the
        garbage collector walked (docs/SIP.md, "Performance"); the fields themselves stay."""
        fields = self.__dict__
        for name in [name for name in fields if name not in MESSAGE_FIELDS]:
            del fields[name]
        self.headers.settle()

    def _one(self, name: str) -> str | None:
        values = self.headers.get_all(name)
        if len(values) > 1:
            raise SipParseError(f"Malformed message: more than one {canonical_name(name)} header field")
        return values[0] if values else None

    @cached_property
    def vias(self) -> tuple[Via, ...]:
        """All Via values, top first, across field lines (§20.42)."""
        return tuple(via for value in self.headers.get_all("Via") for via in parse_via(value))

    @property
    def top_via(self) -> Via | None:
        vias = self.vias
        return vias[0] if vias else None

    @cached_property
    def from_(self) -> Address | None:
        value = self._one("From")
        return None if value is None else parse_address(value, "From")

    @cached_property
    def to(self) -> Address | None:
        value = self._one("To")
        return None if value is None else parse_address(value, "To")

    @cached_property
    def call_id(self) -> str | None:
        value = self._one("Call-ID")
        return None if value is None else parse_call_id(value)

    @cached_property
    def cseq(self) -> CSeq | None:
        value = self._one("CSeq")
        return None if value is None else parse_cseq(value)

    @cached_property
    def max_forwards(self) -> int | None:
        value = self._one("Max-Forwards")
        return None if value is None else number(value, "Max-Forwards", MAX_MAX_FORWARDS)

    @cached_property
    def content_length(self) -> int | None:
        """The Content-Length field (§20.14) as written; the body's length is `len(body)`."""
        value = self._one("Content-Length")
        return None if value is None else number(value, "Content-Length", MAX_CONTENT_LENGTH)

    @cached_property
    def contact(self) -> tuple[Address, ...] | Wildcard:
        """The Contact addresses (§20.10), or WILDCARD for `Contact: *`; () when there is none."""
        return parse_contacts(self.headers.get_all("Contact"))

    @cached_property
    def route(self) -> tuple[Address, ...]:
        return parse_address_list(self.headers.get_all("Route"), "Route", brackets_required=True)

    @cached_property
    def record_route(self) -> tuple[Address, ...]:
        return parse_address_list(self.headers.get_all("Record-Route"), "Record-Route", brackets_required=True)

    @cached_property
    def path(self) -> tuple[Address, ...]:
        """Path (RFC 3327 §4): name-addrs, like Route."""
        return parse_address_list(self.headers.get_all("Path"), "Path", brackets_required=True)

    # The fields below are parsed only when asked for; they raise SipParseError when malformed.

    @cached_property
    def content_type(self) -> MediaType | None:
        value = self._one("Content-Type")
        return None if value is None else parse_media_type(value)

    @cached_property
    def expires(self) -> int | None:
        value = self._one("Expires")
        return None if value is None else delta_seconds(value, "Expires")

    @cached_property
    def min_expires(self) -> int | None:
        value = self._one("Min-Expires")
        return None if value is None else delta_seconds(value, "Min-Expires")

    @cached_property
    def authorization(self) -> tuple[Credentials, ...]:
        return tuple(parse_credentials(v, "Authorization") for v in self.headers.get_all("Authorization"))

    @cached_property
    def proxy_authorization(self) -> tuple[Credentials, ...]:
        fields = self.headers.get_all("Proxy-Authorization")
        return tuple(parse_credentials(v, "Proxy-Authorization") for v in fields)

    @cached_property
    def www_authenticate(self) -> tuple[Challenge, ...]:
        return tuple(parse_challenge(v, "WWW-Authenticate") for v in self.headers.get_all("WWW-Authenticate"))

    @cached_property
    def proxy_authenticate(self) -> tuple[Challenge, ...]:
        return tuple(parse_challenge(v, "Proxy-Authenticate") for v in self.headers.get_all("Proxy-Authenticate"))

    @property
    def user_agent(self) -> str | None:
        return self._one("User-Agent")

    @property
    def server(self) -> str | None:
        return self._one("Server")

    @cached_property
    def allow(self) -> tuple[str, ...]:
        return parse_tokens(self.headers.get_all("Allow"), "Allow", allow_empty=True)

    @cached_property
    def supported(self) -> tuple[str, ...]:
        return parse_tokens(self.headers.get_all("Supported"), "Supported", allow_empty=True)

    @cached_property
    def require(self) -> tuple[str, ...]:
        return parse_tokens(self.headers.get_all("Require"), "Require", allow_empty=False)

    @cached_property
    def proxy_require(self) -> tuple[str, ...]:
        return parse_tokens(self.headers.get_all("Proxy-Require"), "Proxy-Require", allow_empty=False)

    @cached_property
    def unsupported(self) -> tuple[str, ...]:
        return parse_tokens(self.headers.get_all("Unsupported"), "Unsupported", allow_empty=False)

    @cached_property
    def accept(self) -> tuple[MediaType, ...] | None:
        """The Accept ranges; None when there is no Accept field, () when it is empty (§20.1)."""
        fields = self.headers.get_all("Accept")
        return parse_accept(fields) if fields else None

    @cached_property
    def date(self) -> datetime | None:
        value = self._one("Date")
        return None if value is None else parse_date(value)

    def missing_mandatory(self) -> tuple[str, ...]:
        """The mandatory fields (`MANDATORY`) this message lacks, in that order; () when complete."""
        return tuple(name for name in MANDATORY if name not in self.headers)

    def check(self) -> None:
        """Parse every field the transaction layer and proxy rely on; SipParseError when one is malformed."""
        repeated = self.headers.first_repeated(SINGLE_VALUED)
        if repeated is not None:
            raise SipParseError(f"Malformed message: more than one {repeated} header field")
        # In the order above, so the first malformed field is the one named.  From, To and Contact
        # of the plain shape are only recognised now (they certainly parse) and parsed when read.
        _ = self.vias
        for name in ("From", "To"):
            value = self._one(name)
            if value is not None and not plainly_valid_address(value):
                _ = self.from_ if name == "From" else self.to
        _ = (self.call_id, self.cseq, self.max_forwards, self.content_length)
        contacts = self.headers.get_all("Contact")
        if contacts and not (len(contacts) == 1 and "," not in contacts[0] and plainly_valid_address(contacts[0])):
            _ = self.contact
        _ = (self.route, self.record_route)


def _check_version(version: str) -> None:
    if VERSION_PATTERN.fullmatch(version) is None:
        raise ValueError(f"bad SIP version {version!r}")


@dataclass(frozen=True)
class Request(_Fields):
    """Request-Line (§7.1) plus header fields and body."""

    method: str
    uri: Uri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = field(default=SIP_2_0, kw_only=True)

    def __post_init__(self) -> None:
        if not is_token(self.method):
            raise ValueError(f"method {self.method!r} is not a token")
        _check_version(self.version)

    def check(self) -> None:
        """Also: CSeq names this request's method (§8.1.1.5; RFC 4475 §3.1.2.17, §3.1.2.18), and
        the Request-URI carries no headers (§19.1.1 table; RFC 4475 §3.1.2.11)."""
        super().check()
        if self.cseq is not None and self.cseq.method != self.method:
            raise SipParseError("Malformed CSeq: method does not match the Request-Line")
        if isinstance(self.uri, SipUri) and self.uri.headers:
            raise SipParseError("Malformed Request-URI: headers are not allowed here")


def parsed_request(method: str, uri: Uri, headers: Headers, body: bytes) -> Request:
    """A SIP/2.0 Request whose method the parser has checked is a token (no `__post_init__` again)."""
    request = object.__new__(Request)
    fields = request.__dict__
    fields["method"] = method
    fields["uri"] = uri
    fields["headers"] = headers
    fields["body"] = body
    fields["version"] = SIP_2_0
    return request


@dataclass(frozen=True)
class Response(_Fields):
    """Status-Line (§7.2) plus header fields and body."""

    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = field(default=SIP_2_0, kw_only=True)

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 699:
            raise ValueError("a status code is 100 to 699 (§7.2, §21)")
        if "\r" in self.reason or "\n" in self.reason:
            raise ValueError("a reason phrase cannot hold CR or LF")
        _check_version(self.version)

    @property
    def is_provisional(self) -> bool:
        return self.status < 200


def parsed_response(status: int, reason: str, headers: Headers, body: bytes) -> Response:
    """A SIP/2.0 Response whose status (100 to 699) and reason (no CR, LF) the parser has checked."""
    response = object.__new__(Response)
    fields = response.__dict__
    fields["status"] = status
    fields["reason"] = reason
    fields["headers"] = headers
    fields["body"] = body
    fields["version"] = SIP_2_0
    return response


Message: TypeAlias = Request | Response


# Writing (RFC 3261 §7): fields in their order under canonical names, or compact forms (§7.3.3) for
# datagrams that must stay small (§18.1.1); Content-Length always written and always right (§18.3,
# §20.14): it replaces the first Content-Length in place, drops any further one, or is added last.


def start_line(message: Message) -> str:
    """Request-Line (§7.1) or Status-Line (§7.2), without CRLF."""
    if isinstance(message, Request):
        return f"{message.method} {message.uri} {message.version}"
    return f"{message.version} {message.status} {message.reason}"


def serialize(message: Message, *, compact: bool = False) -> bytes:
    """The message as bytes, ready for a datagram or a stream."""
    length = str(len(message.body))
    lines = [start_line(message)]
    wrote_length = False
    for name, held in message.headers:
        value = held
        if name == "Content-Length":
            if wrote_length:
                continue
            value = length
            wrote_length = True
        shown = compact_name(name) if compact else name
        lines.append(f"{shown}: {value}" if value else f"{shown}:")
    if not wrote_length:
        lines.append(f"{compact_name('Content-Length') if compact else 'Content-Length'}: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + message.body
