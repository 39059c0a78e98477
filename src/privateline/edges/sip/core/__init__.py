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

The transaction layer (RFC 3261 §17, RFC 6026), fed messages, addresses and `now`:

- `transactions`: `TransactionLayer`, which owns the transactions and routes messages to them;
- `client_transactions` / `server_transactions`: the four state machines of Figures 5 to 8
  and `ack_for` (§17.1.1.3); `transaction_base`: their `State`, timers and outbox;
- `matching`: the transaction keys (§17.1.3, §17.2.3) and `LocalProtocolError`;
- `transaction_events`: the frozen events for the TU and `Outgoing` for the transport;
- `timers`: `TimerSettings` (T1, T2, T4) and the `Timer` names.

The registrar (RFC 3261 §10.3, §22), fed requests, `now`, device keys and a location store:

- `digest`: `DigestServer`, stateless expiring nonces and digest verification (RFC 2617, RFC 8760);
- `registrar`: `Registrar`, the `Bindings` protocol with `MemoryBindings`, `Device` and `Binding`;
  `Authenticator` (shared with the proxy) and `AuthLimits`, failed attempts per source and number.

The proxy (RFC 3261 §16) and the element the transport drives:

- `proxy`: `Proxy`, the stateful proxy (validation §16.3, Route §16.4, targets §16.5, forking
  §16.6, DEV-3 policy: only the service's own numbers, with VoIP on, authenticated with 407);
- `proxy_responses`: its response side (§16.7 to §16.10: best response, CANCEL, Timer C);
- `proxy_context`: response contexts and branches, `best_response`, `Wire`;
- `proxy_routing`: `Here`, Via/Route/Record-Route rewriting, loop detection, next hops, RFC 3581;
- `element`: `SipElement`, `ElementSettings`, `Transmission`: datagrams and framed messages in,
  bytes with destination and transport out; REGISTER to the registrar, the rest to the proxy.
"""

from __future__ import annotations

from privateline.edges.sip.core.address import WILDCARD, Address, Wildcard
from privateline.edges.sip.core.auth import Challenge, Credentials
from privateline.edges.sip.core.client_transactions import InviteClientTransaction, NonInviteClientTransaction, ack_for
from privateline.edges.sip.core.digest import DigestServer, Refusal, Refused, Verified
from privateline.edges.sip.core.element import ElementSettings, SipElement, Transmission
from privateline.edges.sip.core.errors import PartialMessage, SipParseError
from privateline.edges.sip.core.fields import CSeq, MediaType
from privateline.edges.sip.core.framer import Event, Ping, Pong, Received, Rejected, StreamFramer
from privateline.edges.sip.core.grammar import Param, Params
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.matching import ClientKey, LegacyServerKey, LocalProtocolError, ServerKey
from privateline.edges.sip.core.message import Message, Request, Response, serialize
from privateline.edges.sip.core.parse import DEFAULT_LIMITS, ParseLimits, is_keepalive, parse_message
from privateline.edges.sip.core.proxy import Proxy
from privateline.edges.sip.core.proxy_routing import Here
from privateline.edges.sip.core.registrar import (
    Authenticator,
    AuthFailure,
    AuthLimits,
    Binding,
    Bindings,
    Device,
    MemoryBindings,
    Registrar,
    RegistrarSettings,
)
from privateline.edges.sip.core.respond import answer_error, reason_phrase, response_to
from privateline.edges.sip.core.server_transactions import InviteServerTransaction, NonInviteServerTransaction
from privateline.edges.sip.core.timers import DEFAULT_TIMERS, Timer, TimerSettings
from privateline.edges.sip.core.transaction_base import State
from privateline.edges.sip.core.transaction_events import (
    BadMessage,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from privateline.edges.sip.core.transactions import TransactionLayer
from privateline.edges.sip.core.uri import AbsoluteUri, SipUri, Uri, parse_uri
from privateline.edges.sip.core.via import MAGIC_COOKIE, Via

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMERS",
    "MAGIC_COOKIE",
    "WILDCARD",
    "AbsoluteUri",
    "Address",
    "AuthFailure",
    "AuthLimits",
    "Authenticator",
    "BadMessage",
    "Binding",
    "Bindings",
    "CSeq",
    "Challenge",
    "ClientKey",
    "Credentials",
    "Device",
    "DigestServer",
    "ElementSettings",
    "Event",
    "Headers",
    "Here",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "LegacyServerKey",
    "LocalProtocolError",
    "MediaType",
    "MemoryBindings",
    "Message",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "Outgoing",
    "Param",
    "Params",
    "ParseLimits",
    "PartialMessage",
    "Ping",
    "Pong",
    "Proxy",
    "Received",
    "Refusal",
    "Refused",
    "Registrar",
    "RegistrarSettings",
    "Rejected",
    "Request",
    "RequestReceived",
    "Response",
    "ResponseReceived",
    "ServerKey",
    "SipElement",
    "SipParseError",
    "SipUri",
    "State",
    "StreamFramer",
    "Timer",
    "TimerSettings",
    "TransactionEvent",
    "TransactionLayer",
    "TransactionTerminated",
    "TransactionTimeout",
    "Transmission",
    "TransportError",
    "Uri",
    "Verified",
    "Via",
    "Wildcard",
    "ack_for",
    "answer_error",
    "is_keepalive",
    "parse_message",
    "parse_uri",
    "reason_phrase",
    "response_to",
    "serialize",
]
