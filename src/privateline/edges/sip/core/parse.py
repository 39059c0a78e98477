"""Reading SIP messages from bytes (RFC 3261 §7, §18.3, grammar §25).

`parse_message` reads one UDP datagram.  `read_head`, `declared_length` and `assemble` are the
steps it shares with `StreamFramer`:

1. `read_head`: the header section as text: UTF-8 (§25.1 TEXT-UTF8), lines ended by CRLF
   (a bare CR or LF is an error), folded lines joined (§7.3.1: a fold is one SP), each field
   split at its colon (HCOLON = *( SP / HTAB ) ":" SWS), the name a token, the value free of
   control characters except inside quoted-pairs.  An error here loses the framing.
2. `declared_length`: the one Content-Length (§20.14; two are an error, RFC 4475 §3.3.9).
3. `assemble`: the strict start line (§7.1 Request-Line = Method SP Request-URI SP
   SIP-Version, single spaces: RFC 4475 §3.1.2.9, §3.1.2.10, §3.1.2.8, §3.1.2.7; §7.2
   Status-Line with a three-digit code: RFC 4475 §3.1.2.19), the version (505 for anything
   but SIP/2.0: RFC 4475 §3.1.2.16), then `message.check()`.  Errors here carry the partial
   message, so a request can still be answered, and do not lose a stream's framing.

No exception but SipParseError leaves this module for any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from privateline.edges.sip.core.errors import MESSAGE_TOO_LARGE, VERSION_NOT_SUPPORTED, PartialMessage, SipParseError
from privateline.edges.sip.core.fields import number
from privateline.edges.sip.core.grammar import WS, has_bad_controls, is_token
from privateline.edges.sip.core.headers import CANONICAL_MEMO, Headers, canonical_name
from privateline.edges.sip.core.message import (
    MAX_CONTENT_LENGTH,
    SIP_2_0,
    VERSION_PATTERN,
    Message,
    parsed_request,
    parsed_response,
)
from privateline.edges.sip.core.uri import parse_uri

_STATUS = re.compile(r"[1-6][0-9][0-9]")
_REASON_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
CRLF = b"\r\n"
# The fast path of `read_head`: one field line `CRLF token *WSP ":" *WSP value`, where the value
# runs to the next CR (there is no bare CR or LF by then, and no control character at all).
_FIELD_LINE = re.compile(r"\r\n([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*([^\r\n]*)")
# Control characters other than CR and LF (a value may hold them only inside a quoted-pair).
_CTL_NOT_CRLF = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class ParseLimits:
    """What this layer accepts before it refuses a message as too large (513, §21.4.11).

    `max_message_size` counts the bytes of one message, header section and body (a UDP datagram
    cannot exceed 65,535 anyway); `max_line_length` counts the characters of one line, before and
    after unfolding; `max_header_count` counts header fields (lines after unfolding).
    """

    max_message_size: int = 65535
    max_header_count: int = 256
    max_line_length: int = 8192


DEFAULT_LIMITS = ParseLimits()


def _too_large(what: str, *, fatal: bool = False) -> SipParseError:
    return SipParseError(f"Message Too Large: {what}", status=MESSAGE_TOO_LARGE, fatal=fatal)


def is_keepalive(datagram: bytes) -> bool:
    """Whether a datagram holds only CRLFs: a keep-alive, not a message (RFC 5626 §3.5.1 sends them
    on streams; many phones send them over UDP too).  Check before `parse_message`."""
    return bool(datagram) and not datagram.replace(CRLF, b"")


@dataclass(frozen=True)
class Head:
    """A message's start line (not yet checked) and its header fields."""

    start_line: str
    headers: Headers

    @property
    def partial(self) -> PartialMessage:
        return PartialMessage(self.start_line, self.headers)


def read_head(section: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> Head:
    """The start line and fields of a header section (the bytes before the empty line)."""
    try:
        text = section.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("Malformed message: not UTF-8") from None
    return _read_plain_head(text, limits) or _read_head(text, limits)


def _read_plain_head(text: str, limits: ParseLimits) -> Head | None:
    """The head of the usual section, in a few passes over the whole text; None for anything
    else, which `_read_head` reads line by line: folded lines, control characters, a bare CR
    or LF, lines near a limit, or a line that is not `name: value`.  For the sections it
    takes, the result is the one `_read_head` gives."""
    crlfs = text.count("\r\n")
    if (
        len(text) > limits.max_line_length
        or crlfs > limits.max_header_count
        or text.count("\r") != crlfs
        or text.count("\n") != crlfs
        or "\r\n " in text
        or "\r\n\t" in text
        or _CTL_NOT_CRLF.search(text) is not None
    ):
        return None
    first = text.find("\r\n")
    if first < 0:
        return Head(text, Headers.trusted(()))
    found = _FIELD_LINE.findall(text, first)
    if len(found) != crlfs:
        return None  # a line that is not a field: let `_read_head` name the error
    memo = CANONICAL_MEMO
    if " \r\n" in text or "\t\r\n" in text or text.endswith((" ", "\t")):
        fields = tuple([(memo.get(name) or canonical_name(name), value.rstrip(WS)) for name, value in found])
    else:  # no value ends in whitespace
        fields = tuple([(memo.get(name) or canonical_name(name), value) for name, value in found])
    return Head(text[:first], Headers.trusted(fields))


def _read_head(text: str, limits: ParseLimits) -> Head:
    lines = text.split("\r\n")
    logical: list[list[str]] = []
    for line in lines:
        if "\r" in line or "\n" in line:
            raise SipParseError("Malformed message: line not ended by CRLF")
        if len(line) > limits.max_line_length:
            raise _too_large("line too long")
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            # §7.3.1: a line starting with whitespace continues the previous field.
            if not logical:
                raise SipParseError("Malformed message: continuation line before the first header field")
            continued = line.strip(WS)
            if continued:
                logical[-1].append(continued)
        else:
            logical.append([line])
        if len(logical) > limits.max_header_count:
            raise _too_large("too many header fields")
    fields: list[tuple[str, str]] = []
    for parts in logical:
        line = " ".join([parts[0].rstrip(WS), *parts[1:]]) if len(parts) > 1 else parts[0]
        if len(line) > limits.max_line_length:
            raise _too_large("header field too long")
        name, colon, value = line.partition(":")
        name = name.rstrip(WS)
        if not colon:
            raise SipParseError("Malformed message: header line without colon")
        if not is_token(name):
            raise SipParseError("Malformed message: header name is not a token")
        value = value.strip(WS)
        if has_bad_controls(value):
            raise SipParseError(f"Malformed {canonical_name(name)}: control character")
        fields.append((canonical_name(name), value))
    return Head(lines[0], Headers.trusted(tuple(fields)))


def declared_length(head: Head) -> int | None:
    """The Content-Length of a head (§20.14), or None without one; SipParseError (carrying the
    partial message) when there are two (RFC 4475 §3.3.9) or it is not a number (§3.1.2.3)."""
    values = head.headers.get_all("Content-Length")
    try:
        if len(values) > 1:
            raise SipParseError("Malformed message: more than one Content-Length header field")
        return number(values[0], "Content-Length", MAX_CONTENT_LENGTH) if values else None
    except SipParseError as error:
        error.partial = head.partial
        raise


def assemble(head: Head, body: bytes) -> Message:
    """The message of a head and its body, checked (see the module docstring, step 3)."""
    try:
        message = _start(head.start_line, head.headers, body)
        message.check()
    except SipParseError as error:
        error.partial = head.partial
        raise
    return message


def _version(text: str, where: str) -> str:
    version = text.upper()
    if VERSION_PATTERN.fullmatch(version) is None:
        raise SipParseError(f"Malformed {where}: bad SIP version")
    if version != SIP_2_0:
        raise SipParseError("Version Not Supported", status=VERSION_NOT_SUPPORTED)
    return version


def _start(line: str, headers: Headers, body: bytes) -> Message:
    if line[:4].upper() == "SIP/":
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (§7.2, §25.1)
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        _version(version, "Status-Line")
        if _STATUS.fullmatch(code) is None:
            raise SipParseError("Malformed Status-Line: bad status code")
        if _REASON_CTL.search(reason):
            raise SipParseError("Malformed Status-Line: control character in reason phrase")
        return parsed_response(int(code), reason, headers, body)
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF (§7.1, §25.1)
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError("Malformed Request-Line: expected Method SP Request-URI SP SIP-Version")
    method, uri_text, version = parts
    if not is_token(method):
        raise SipParseError("Malformed Request-Line: method is not a token")
    _version(version, "Request-Line")
    try:
        uri = parse_uri(uri_text)
    except SipParseError as error:
        raise SipParseError(f"Malformed Request-URI: {error.reason.removeprefix('Malformed URI: ')}") from None
    return parsed_request(method, uri, headers, body)


def parse_message(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> Message:
    """One message from one datagram (RFC 3261 §18.3 framing), or SipParseError.

    Without Content-Length the body is the rest of the datagram; with one, a larger value is an
    error (RFC 4475 §3.1.2.2) and octets beyond it are discarded (RFC 4475 §3.1.1.8).  Leading
    CRLFs are skipped (§7.5); a datagram of nothing else is a keep-alive (`is_keepalive`).
    """
    if len(data) > limits.max_message_size:
        raise _too_large("message too large")
    start = 0
    while data.startswith(CRLF, start):
        start += 2
    if start == len(data):
        raise SipParseError("Malformed message: empty")
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        raise SipParseError("Malformed message: no empty line after the header fields")
    head = read_head(data[start:end], limits)
    body = data[end + 4 :]
    length = declared_length(head)
    if length is not None:
        if length > len(body):
            raise SipParseError("Malformed message: Content-Length larger than the message", partial=head.partial)
        body = body[:length]
    return assemble(head, body)
