"""The challenge to a plain request without credentials, written straight from its datagram.

Every registration starts with a REGISTER without an Authorization field, answered with 401
(RFC 3261 §22.1, §10.2.1), and every call with an INVITE without Proxy-Authorization, answered
with 407 (§22.3); both statelessly (§8.2.7, see element.py).  Through the general code each
costs a whole parse (`parse_message` with `check()`), a stamped copy of the request
(`stamp_source`), the registrar's or the proxy's steps and a `Response` object, for an answer
that depends only on the copied fields, the source address and a nonce.

`PlainChallenges.answer` takes only the plain shape nearly every phone sends; for anything else
it returns None, and the element hands the datagram to the general code, which then gives every
answer (400, 404, 420, 482, 483, 505, 513, the challenge to anything else).  The plain shape:

- the datagram starts `REGISTER sip:host[:port] SIP/2.0` with a host the registrar serves
  (§10.3 step 1; otherwise 404), or `INVITE` or `MESSAGE` with `sip:user@host[:port]`
  (§16.3 item 2); no CRLFs first, no URI parameters;
- its header section is one `read_head` reads; a body after it (an INVITE's SDP) is exactly
  as long as Content-Length says, when there is one (§18.3);
- Via, From, To, Call-ID and CSeq are there (§8.1.1), none of the single-valued fields twice
  (RFC 4475 §3.3.8), no credentials of any kind, no Route or Record-Route, no Require or
  Proxy-Require (§10.3 step 2, §16.3 item 5 would ask about them);
- each field `Message.check` parses is of a form certain to pass it: every Via line one
  via-parm `SIP/2.0/UDP host[:port]` with a token `branch` and at most an empty `rport`
  (RFC 3581 §4), From and Contact (one value) `plainly_valid_address`, To the plain
  `[display-name] <sip:user@host[:port]>[;tag=token]`, CSeq `number METHOD` of the request's
  method, Call-ID, Max-Forwards and Content-Length as their own parsers take them;
- for the proxy, what would keep it from challenging: the request is out of dialog (To without
  tag), Max-Forwards is not 0 (§16.3 item 3: 483) and no Via is ours (item 4: a loop, 482).

The answer is then byte for byte what the general code sends: the status line, the request's
Via (its top value stamped with `received` and `rport` as `stamp_source` does, §18.2.1, RFC 3581
§4), From, To (with the tag `new_tag` gives when it has none, §8.2.6.2), Call-ID and CSeq in
their order, one WWW-Authenticate or Proxy-Authenticate per algorithm with one fresh nonce
(`DigestServer.challenge_values`), and `Content-Length: 0`.  test_plain_challenge.py holds it
to the general code on generated and mutated registrations and calls: the same bytes sent, the
same bindings stored.

The second request, with credentials, is left to the general code: a REGISTER read this way
cost as much as the parse it spared, because the registrar then parses the fields the parse
would have (bench/sip/element.py, docs/SIP.md "Performance").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from privateline.edges.sip.core.address import plainly_valid_address
from privateline.edges.sip.core.digest import DigestServer
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import MAX_MAX_FORWARDS, number, parse_call_id
from privateline.edges.sip.core.grammar import TOKEN
from privateline.edges.sip.core.message import MANDATORY, MAX_CONTENT_LENGTH, SINGLE_VALUED
from privateline.edges.sip.core.parse import ParseLimits, read_head
from privateline.edges.sip.core.uri import MAX_PORT, PLAIN_HOST_PATTERN

_TOKEN = TOKEN.pattern
_HOST = f"(?:{PLAIN_HOST_PATTERN})"  # what `parse_uri` reads as a plain host: no IPv6, no leading zeros
_PORT = r"[1-9][0-9]{0,4}"
_USER = r"[A-Za-z0-9\-_.!~*'()+]+"

_METHODS = (b"REGISTER ", b"INVITE ", b"MESSAGE ")
_REQUEST_LINE = re.compile(rf"(REGISTER|INVITE|MESSAGE) sip:(?:({_USER})@)?({_HOST})(?::({_PORT}))? SIP/2\.0")
# sent-by and params; IPv6 and every other parameter go to the general code.
_VIA = re.compile(rf"SIP/2\.0/UDP ({_HOST})(?::({_PORT}))?((?:;{_TOKEN}(?:={_TOKEN})?)*)")
_VIA_PARAM = re.compile(rf";({_TOKEN})(?:=({_TOKEN}))?")
_TO = re.compile(rf'(?:"[A-Za-z0-9 ._\-]*" ?)?<sip:{_USER}@{_HOST}(?::{_PORT})?>(;tag={_TOKEN})?')
_CSEQ = re.compile(r"(?:0|[1-9][0-9]{0,8}) ([A-Z]+)")

# What makes a request not plain, beyond the fields above: the general code must look at it.
_NOT_PLAIN = frozenset({"Route", "Record-Route", "Require", "Proxy-Require"})
_SINGLE = frozenset(SINGLE_VALUED)
_EMPTY_RPORT = re.compile(r";rport(?=;|$)", re.IGNORECASE)


def _port_ok(port: str | None) -> bool:
    return port is None or int(port) <= MAX_PORT


class _PlainVia:
    """A plain Via value (`_VIA`): its sent-by and whether it asks for `rport`."""

    __slots__ = ("host", "port", "wants_port")

    def __init__(self, host: str, port: int | None, wants_port: bool) -> None:
        self.host, self.port, self.wants_port = host, port, wants_port


def _plain_via(value: str) -> _PlainVia | None:
    """A Via value of the plain shape (one via-parm, a token branch, at most an empty rport), or None."""
    found = _VIA.fullmatch(value)
    if found is None or not _port_ok(found.group(2)):
        return None
    names = []
    wants_port = False
    for name, param_value in _VIA_PARAM.findall(found.group(3)):
        folded = name.lower()
        if folded == "rport" and not param_value:
            wants_port = True
        elif folded != "branch" or not param_value:
            return None  # received, maddr, ttl, an rport with a value, anything else: general code
        names.append(folded)
    if len(set(names)) != len(names) or "branch" not in names:
        return None
    port = found.group(2)
    return _PlainVia(found.group(1), None if port is None else int(port), wants_port)


def _stamped(value: str, via: _PlainVia, source: tuple[str, int]) -> str:
    """The top Via as `stamp_source` leaves it (§18.2.1, RFC 3581 §4)."""
    address, port = source
    if not via.wants_port and via.host == address:
        return value
    if via.wants_port:
        # The empty rport gets the port where it stands; received goes last (`Params.set`).
        value = _EMPTY_RPORT.sub(f";rport={port}", value, count=1)
    return f"{value};received={address}"


class PlainChallenges:
    """The registrar's 401 and the proxy's 407 to plain requests without credentials (see the
    module docstring)."""

    def __init__(
        self,
        *,
        serves: Callable[[str], bool],
        is_me: Callable[[str, int | None], bool],
        digest: DigestServer,
        new_tag: Callable[[], str],
        limits: ParseLimits,
    ) -> None:
        self._serves = serves  # the registrar's domains (§10.3 step 1)
        self._is_me = is_me  # the proxy's own address (§16.3 item 4)
        self._digest = digest
        self._new_tag = new_tag
        self._limits = limits

    def answer(self, data: bytes, source: tuple[str, int], now: datetime) -> bytes | None:
        """The challenge to send back to `source`, or None when the datagram is not a plain
        request without credentials (the general code answers it then)."""
        if not data.startswith(_METHODS) or len(data) > self._limits.max_message_size:
            return None
        if b"Authorization" in data:
            return None  # the second request, with credentials (or Proxy-): the general code's
        end = data.find(b"\r\n\r\n")
        if end < 0 or ":" in source[0]:
            return None  # no end of the header section; an IPv6 source (`ip_literal` compares those)
        try:
            head = read_head(data[:end], self._limits)
        except SipParseError:
            return None
        line = _REQUEST_LINE.fullmatch(head.start_line)
        if line is None or not _port_ok(line.group(4)):
            return None
        method, user, host = line.group(1), line.group(2), line.group(3)
        registrar = method == "REGISTER"
        if registrar and (user is not None or not self._serves(host)):
            return None  # a user part (§10.2 forbids it) or another domain (404): the general code's
        if not registrar and user is None:
            return None  # a request for the proxy itself, not for a phone
        copied = self._copied(method, head.headers.fields, source, len(data) - end - 4)
        if copied is None:
            return None
        tag = self._new_tag()  # taken as the registrar and the proxy take it: one per answer
        lines = ["SIP/2.0 401 Unauthorized" if registrar else "SIP/2.0 407 Proxy Authentication Required"]
        for name, value, tagged in copied:
            lines.append(f"{name}: {value}" if tagged else f"{name}: {value};tag={tag}")
        field = "WWW-Authenticate" if registrar else "Proxy-Authenticate"
        for challenge in self._digest.challenge_values(now.timestamp()):
            lines.append(f"{field}: {challenge}")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def _copied(
        self, method: str, fields: tuple[tuple[str, str], ...], source: tuple[str, int], body: int
    ) -> list[tuple[str, str, bool]] | None:
        """The fields the answer copies (name, value, whether it needs no To tag), or None when a
        field is not of the plain shape (`body`: the octets after the header section)."""
        proxied = method != "REGISTER"
        seen: set[str] = set()
        copied: list[tuple[str, str, bool]] = []
        for name, value in fields:
            if name in _NOT_PLAIN or (name in _SINGLE and name in seen):
                return None
            if name == "Via":
                via = _plain_via(value)
                if via is None or (proxied and self._is_me(via.host, via.port)):
                    return None
                # Only the top value is stamped; the others stay as they came.
                copied.append((name, value if name in seen else _stamped(value, via, source), True))
            elif name == "To":
                to = _TO.fullmatch(value)
                if to is None or (proxied and to.group(1) is not None):
                    return None  # a To tag: a request in a dialog, not challenged (proxy.only_refused)
                copied.append((name, value, to.group(1) is not None))
            elif name in {"From", "Contact"}:
                # One Contact value only: `check()` takes no other without parsing it.
                if "," in value or name in seen or not plainly_valid_address(value):
                    return None
                if name == "From":
                    copied.append((name, value, True))
            elif name == "CSeq":
                cseq = _CSEQ.fullmatch(value)
                if cseq is None or cseq.group(1) != method:
                    return None
                copied.append((name, value, True))
            elif name == "Call-ID":
                try:
                    parse_call_id(value)
                except SipParseError:
                    return None
                copied.append((name, value, True))
            elif name == "Max-Forwards":
                try:
                    hops = number(value, name, MAX_MAX_FORWARDS)
                except SipParseError:
                    return None
                if proxied and hops == 0:
                    return None  # §16.3 item 3: 483, the general code's answer
            elif name == "Content-Length":
                try:
                    length = number(value, name, MAX_CONTENT_LENGTH)
                except SipParseError:
                    return None
                if length != body:
                    return None  # a body cut short (400) or longer than said: the general code decides
            seen.add(name)
        if any(name not in seen for name in MANDATORY) or ("Content-Length" not in seen and body):
            return None
        return copied


__all__ = ["PlainChallenges"]
