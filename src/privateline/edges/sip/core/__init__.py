"""The sans-IO SIP message layer: bytes in, typed messages out, and back (RFC 3261 §7, §18.3, §19, §20, §25).

It is fed bytes (and nothing else: no sockets, no clock, no database) and is the ground the
transaction layer, registrar and proxy stand on.

- `parse`: `parse_message` for a datagram, `ParseLimits`, `is_keepalive`;
- `framer`: `StreamFramer` for TCP/TLS (Content-Length framing, RFC 5626 keep-alives);
- `message`: frozen `Request` / `Response` with typed, cached header access, and `serialize`;
- `headers`: the ordered, case-insensitive `Headers` multimap and the compact forms;
- `uri`: `SipUri` / `AbsoluteUri`; `address`: name-addr / addr-spec (From, To, Contact, Route);
  `via`: Via; `auth`: digest credentials and challenges; `fields`: CSeq, Call-ID, numbers,
  media types, option tags, Date; `grammar`: the shared §25.1 lexical rules;
- `respond`: reason phrases, responses to requests and to rejected requests;
- `errors`: `SipParseError`, the only exception bad input raises.
"""

from __future__ import annotations

from privateline.edges.sip.core.address import WILDCARD, Address, Wildcard
from privateline.edges.sip.core.auth import Challenge, Credentials
from privateline.edges.sip.core.errors import PartialMessage, SipParseError
from privateline.edges.sip.core.fields import CSeq, MediaType
from privateline.edges.sip.core.framer import Event, Ping, Pong, Received, Rejected, StreamFramer
from privateline.edges.sip.core.grammar import Param, Params
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.message import Message, Request, Response, serialize
from privateline.edges.sip.core.parse import DEFAULT_LIMITS, ParseLimits, is_keepalive, parse_message
from privateline.edges.sip.core.respond import answer_error, reason_phrase, response_to
from privateline.edges.sip.core.uri import AbsoluteUri, SipUri, Uri, parse_uri
from privateline.edges.sip.core.via import MAGIC_COOKIE, Via

__all__ = [
    "DEFAULT_LIMITS",
    "MAGIC_COOKIE",
    "WILDCARD",
    "AbsoluteUri",
    "Address",
    "CSeq",
    "Challenge",
    "Credentials",
    "Event",
    "Headers",
    "MediaType",
    "Message",
    "Param",
    "Params",
    "ParseLimits",
    "PartialMessage",
    "Ping",
    "Pong",
    "Received",
    "Rejected",
    "Request",
    "Response",
    "SipParseError",
    "SipUri",
    "StreamFramer",
    "Uri",
    "Via",
    "Wildcard",
    "answer_error",
    "is_keepalive",
    "parse_message",
    "parse_uri",
    "reason_phrase",
    "response_to",
    "serialize",
]
