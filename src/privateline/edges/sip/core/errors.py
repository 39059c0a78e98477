"""The one error the message layer raises for bad input: `SipParseError`.

Like h11's RemoteProtocolError it means "the peer sent something we cannot accept", never
"our code is broken": for any input bytes the parser raises this and nothing else.  It
carries what an answer needs (RFC 3261 §8.2.6, §16.3):

- `reason`: a short reason phrase, safe to put on a status line (ASCII, no line breaks);
- `status`: the status code to answer with: 400 Bad Request by default, 505 Version Not
  Supported for an unknown SIP version (RFC 3261 §21.5.6, RFC 4475 §3.1.2.16), 513 Message
  Too Large for a message beyond the configured limits (§21.4.11);
- `partial`: the start line and header fields when they could be read, so that a 400 can
  copy Via, From, To, Call-ID and CSeq (see `respond.answer_error`); None when the header
  section itself was unreadable;
- `fatal`: for a stream, whether framing is lost and the connection must be closed
  (RFC 4475 §3.1.2.3: "the framing error is not recoverable").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privateline.edges.sip.core.headers import Headers

BAD_REQUEST = 400
VERSION_NOT_SUPPORTED = 505
MESSAGE_TOO_LARGE = 513


@dataclass(frozen=True)
class PartialMessage:
    """What was read of a rejected message: its start line (unchecked) and its header fields."""

    start_line: str
    headers: Headers

    @property
    def is_request(self) -> bool:
        """A status line begins with the SIP version; a request line never does (a method is a token, no '/')."""
        return self.start_line[:4].upper() != "SIP/"

    @property
    def method(self) -> str | None:
        """The request's method as written, or None for a response."""
        if not self.is_request:
            return None
        return self.start_line.split(" ", 1)[0]


class SipParseError(Exception):
    """The peer sent a message this layer does not accept (see the module docstring)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int = BAD_REQUEST,
        partial: PartialMessage | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.partial = partial
        self.fatal = fatal

    def __repr__(self) -> str:
        return f"SipParseError({self.reason!r}, status={self.status}, fatal={self.fatal})"
