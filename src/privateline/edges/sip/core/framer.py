"""Framing SIP messages on a stream (TCP, TLS): `StreamFramer`.

Sans-IO in the style of h11: the caller feeds the bytes it read and asks for events.

    framer = StreamFramer()
    framer.feed(data)
    while (event := framer.next_event()) is not None:
        ...

RFC 3261 §18.3: on a stream, Content-Length gives the body's size and MUST be present; a
message without it, or with a negative or doubled one, loses the framing, so `next_event`
raises a *fatal* SipParseError and keeps raising it: the caller closes the connection
(RFC 4475 §3.1.2.3, §3.3.9).  A Content-Length beyond the limits is refused as soon as the
header section is in, without waiting for the body.  A message whose framing is intact but
whose content is malformed comes out as `Rejected`, carrying the error (and its partial
message for the 400), and the stream goes on.

Between messages, RFC 5626 §4.4.1: a double CRLF is a keep-alive `Ping`, to be answered by a
single CRLF; a single CRLF is a `Pong` (or, §7.5, a stray CRLF before a start line, which is
ignored all the same).  A single CRLF at the end of what arrived so far could be the first half
of a ping, so the framer waits, unless it was built with `expect_pongs=True` (the client side
of a flow, which sends pings and never receives them).  `in_message` tells whether part of a
message is waiting, so the caller can time out a peer that stopped mid-message (RFC 4475
§3.1.2.2: "close the connection if none is forthcoming").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from privateline.edges.sip.core.errors import MESSAGE_TOO_LARGE, SipParseError
from privateline.edges.sip.core.message import Message
from privateline.edges.sip.core.parse import (
    CRLF,
    DEFAULT_LIMITS,
    Head,
    ParseLimits,
    assemble,
    declared_length,
    read_head,
)

_END_OF_HEAD = b"\r\n\r\n"


@dataclass(frozen=True)
class Received:
    """A complete, checked message."""

    message: Message


@dataclass(frozen=True)
class Rejected:
    """A complete message that is malformed; the stream's framing is intact."""

    error: SipParseError


@dataclass(frozen=True)
class Ping:
    """A CRLFCRLF keep-alive (RFC 5626 §4.4.1): answer with one CRLF."""


@dataclass(frozen=True)
class Pong:
    """A single CRLF between messages: the answer to our ping (RFC 5626 §4.4.1), or a stray CRLF (§7.5)."""


Event: TypeAlias = Received | Rejected | Ping | Pong


class StreamFramer:
    """Cuts a byte stream into SIP messages and keep-alives (see the module docstring)."""

    def __init__(self, limits: ParseLimits = DEFAULT_LIMITS, *, expect_pongs: bool = False) -> None:
        self._limits = limits
        self._expect_pongs = expect_pongs
        self._buffer = bytearray()
        self._scanned = 0  # how far the search for the end of the head has looked
        self._pending: tuple[Head, int, int] | None = None  # head, body start, message end
        self._error: SipParseError | None = None

    @property
    def in_message(self) -> bool:
        """Whether part of a message (not just CRLFs) is buffered."""
        return self._pending is not None or bool(self._buffer.lstrip(b"\r\n"))

    def feed(self, data: bytes) -> None:
        """Add bytes read from the stream; after a fatal error they are dropped."""
        if self._error is None:
            self._buffer += data

    def next_event(self) -> Event | None:
        """The next event, or None until more bytes are fed; raises the fatal SipParseError."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except SipParseError as error:
            error.fatal = True
            self._error = error
            self._buffer.clear()
            raise

    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._scanned = 0

    def _next(self) -> Event | None:
        buffer = self._buffer
        if self._pending is None:
            keepalive = self._keepalive()
            if keepalive is not None or bytes(buffer[:4]) in (b"", b"\r", b"\r\n", b"\r\n\r"):
                return keepalive
            end = buffer.find(_END_OF_HEAD, self._scanned)
            if end < 0:
                self._check_partial_head()
                self._scanned = max(0, len(buffer) - 3)
                return None
            if end + 4 > self._limits.max_message_size:
                raise SipParseError("Message Too Large: header section beyond the limit", status=MESSAGE_TOO_LARGE)
            head = read_head(bytes(buffer[:end]), self._limits)
            length = declared_length(head)
            if length is None:
                raise SipParseError("Malformed message: no Content-Length on a stream")
            if end + 4 + length > self._limits.max_message_size:
                raise SipParseError("Message Too Large: Content-Length beyond the limit", status=MESSAGE_TOO_LARGE)
            self._pending = (head, end + 4, end + 4 + length)
        head, body_start, message_end = self._pending
        if len(buffer) < message_end:
            return None
        body = bytes(buffer[body_start:message_end])
        self._pending = None
        self._consume(message_end)
        try:
            return Received(assemble(head, body))
        except SipParseError as error:
            return Rejected(error)

    def _keepalive(self) -> Ping | Pong | None:
        buffer = self._buffer
        if buffer.startswith(_END_OF_HEAD):
            self._consume(4)
            return Ping()
        if buffer.startswith(CRLF):
            if len(buffer) == 2 and not self._expect_pongs:
                return None
            if len(buffer) == 3 and buffer[2:3] == b"\r":
                return None
            self._consume(2)
            return Pong()
        return None

    def _check_partial_head(self) -> None:
        """Refuse a header section that already breaks the limits before its end has arrived."""
        buffer = self._buffer
        if len(buffer) > self._limits.max_message_size:
            raise SipParseError("Message Too Large: header section beyond the limit", status=MESSAGE_TOO_LARGE)
        last_crlf = buffer.rfind(CRLF)
        last_line = len(buffer) - (last_crlf + 2 if last_crlf >= 0 else 0)
        if last_line > self._limits.max_line_length * 4 + 1:
            # The limit counts characters; a character takes up to four bytes in UTF-8 (+1: a CR alone).
            raise SipParseError("Message Too Large: line too long", status=MESSAGE_TOO_LARGE)
