"""The 401 to a plain REGISTER without credentials, written straight from its datagram.

Every registration starts with a REGISTER that carries no Authorization field and is answered
with a challenge (RFC 3261 §22.1, §10.2.1; statelessly, §8.2.7, see element.py).  Through the
general code that costs a whole parse (`parse_message` with `check()`), a stamped copy of the
request (`stamp_source`), the registrar's steps and a `Response` object: about a quarter of a
registration's CPU, for an answer that depends only on the copied fields, the source address
and a nonce.

`PlainRegisters.read` takes only the plain shape nearly every phone sends; for anything else
it returns None, and the element hands the datagram to the general code, which then gives
every answer (400, 404, 420, 505, 513, the challenge to anything else).  The plain shape:

- the datagram starts `REGISTER sip:host[:port] SIP/2.0` (no CRLFs first, no URI parameters,
  no user part) and the host is one the registrar serves (§10.3 step 1; otherwise 404);
- its header section is one `read_head` reads, and no body follows it;
- Via, From, To, Call-ID and CSeq are there (§8.1.1), none of the single-valued fields twice
  (RFC 4475 §3.3.8), no Authorization (then it is not this case), no Route or Record-Route,
  no Require (§10.3 step 2 would ask about it);
- each field `Message.check` parses is of a form certain to pass it: every Via line one
  via-parm `SIP/2.0/UDP host[:port]` with a token `branch` and at most an empty `rport`
  (RFC 3581 §4), From and Contact (one value) `plainly_valid_address`, To the plain
  `[display-name] <sip:user@host[:port]>[;tag=token]`, CSeq `number REGISTER`, Call-ID,
  Max-Forwards and Content-Length (zero) as their own parsers take them.

`PlainRegisters.challenge` then writes the 401 byte for byte as the general code sends it: the
status line, the request's Via (its top value stamped with `received` and `rport` as
`stamp_source` does, §18.2.1, RFC 3581 §4), From, To (with the tag `new_tag` gives when it has
none, §8.2.6.2), Call-ID and CSeq in their order, one WWW-Authenticate per algorithm with one
fresh nonce (`DigestServer.challenge_values`), and `Content-Length: 0`.  test_plain_register.py
holds it to the general code on generated and mutated registrations: the same bytes sent, the
same bindings stored.

The second REGISTER, with credentials, is left to the general code: read this way it cost as
much as the parse it spared, because the registrar then parses the fields the parse would have
(bench/sip/element.py, docs/SIP.md "Performance").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from privateline.edges.sip.core.address import plainly_valid_address
from privateline.edges.sip.core.digest import DigestServer
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import MAX_MAX_FORWARDS, number, parse_call_id
from privateline.edges.sip.core.message import MANDATORY, SINGLE_VALUED
from privateline.edges.sip.core.parse import ParseLimits, read_head

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"  # noqa: S105 - token of RFC 3261 §25.1, not a secret
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
# RFC 3261 §25.1 hostname: labels of alphanumerics and inner hyphens, the last starting with a letter.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOSTNAME = rf"(?:{_LABEL}\.)*[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?"
_HOST = rf"(?:{_IPV4}|{_HOSTNAME})"
_PORT = r"[1-9][0-9]{0,4}"
_USER = r"[A-Za-z0-9\-_.!~*'()+]+"

_REQUEST_LINE = re.compile(rf"REGISTER sip:({_HOST})(?::({_PORT}))? SIP/2\.0")
# sent-by and params; IPv6 and every other parameter go to the general code.
_VIA = re.compile(rf"SIP/2\.0/UDP ({_HOST})(?::({_PORT}))?((?:;{_TOKEN}(?:={_TOKEN})?)*)")
_VIA_PARAM = re.compile(rf";({_TOKEN})(?:=({_TOKEN}))?")
_TO = re.compile(rf'(?:"[A-Za-z0-9 ._\-]*" ?)?<sip:{_USER}@{_HOST}(?::{_PORT})?>(;tag={_TOKEN})?')
_CSEQ = re.compile(r"(?:0|[1-9][0-9]{0,8}) REGISTER")

# What makes a REGISTER not plain, beyond the fields above: the general code must look at it.
_NOT_PLAIN = frozenset({"Authorization", "Route", "Record-Route", "Require"})
_SINGLE = frozenset(SINGLE_VALUED)
_EMPTY_RPORT = re.compile(r";rport(?=;|$)", re.IGNORECASE)
_MAX_PORT = 65535


def _port_ok(port: str | None) -> bool:
    return port is None or int(port) <= _MAX_PORT


def _plain_via(value: str) -> tuple[str, bool] | None:
    """The sent-by host of a plain Via value and whether it asks for `rport`; None when not plain."""
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
    return found.group(1), wants_port


def _stamped(value: str, host: str, wants_port: bool, source: tuple[str, int]) -> str:
    """The top Via as `stamp_source` leaves it (§18.2.1, RFC 3581 §4)."""
    address, port = source
    if not wants_port and host == address:
        return value
    if wants_port:
        # The empty rport gets the port where it stands; received goes last (`Params.set`).
        value = _EMPTY_RPORT.sub(f";rport={port}", value, count=1)
    return f"{value};received={address}"


@dataclass(frozen=True, slots=True)
class PlainRegister:
    """A plain REGISTER without credentials, read (see the module docstring)."""

    copied: tuple[tuple[str, str, bool], ...]  # what a response copies; False: a To without tag


class PlainRegisters:
    """Reads plain REGISTERs without credentials and writes the registrar's challenge to them
    (see the module docstring)."""

    def __init__(
        self,
        *,
        serves: Callable[[str], bool],
        digest: DigestServer,
        new_tag: Callable[[], str],
        limits: ParseLimits,
    ) -> None:
        self._serves = serves
        self._digest = digest
        self._new_tag = new_tag
        self._limits = limits

    def read(self, data: bytes, source: tuple[str, int]) -> PlainRegister | None:
        """The plain REGISTER without credentials in a datagram from `source`, or None when it is
        not one (the general code reads it then)."""
        if not data.startswith(b"REGISTER ") or len(data) > self._limits.max_message_size:
            return None
        if b"Authorization" in data:
            return None  # the second REGISTER of a registration, spared the reading below
        end = data.find(b"\r\n\r\n")
        if end < 0 or len(data) != end + 4:
            return None  # a body, or no end of the header section: the general code decides
        if ":" in source[0]:
            return None  # an IPv6 source: `ip_literal` compares such addresses, not this
        try:
            head = read_head(data[:end], self._limits)
        except SipParseError:
            return None
        line = _REQUEST_LINE.fullmatch(head.start_line)
        if line is None or not _port_ok(line.group(2)) or not self._serves(line.group(1)):
            return None
        return _plain(head.headers.fields, source)

    def challenge(self, register: PlainRegister, now: datetime) -> bytes:
        """The registrar's 401 to a plain REGISTER without credentials (§22.1)."""
        tag = self._new_tag()  # taken as the registrar takes it: one per answer
        lines = ["SIP/2.0 401 Unauthorized"]
        for name, value, tagged in register.copied:
            lines.append(f"{name}: {value}" if tagged else f"{name}: {value};tag={tag}")
        for challenge in self._digest.challenge_values(now.timestamp()):
            lines.append(f"WWW-Authenticate: {challenge}")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _plain(fields: tuple[tuple[str, str], ...], source: tuple[str, int]) -> PlainRegister | None:
    """The plain REGISTER of these fields, or None when one is not of the plain shape."""
    seen: set[str] = set()
    copied: list[tuple[str, str, bool]] = []
    for name, value in fields:
        if name in _NOT_PLAIN or (name in _SINGLE and name in seen):
            return None
        if name == "Via":
            via = _plain_via(value)
            if via is None:
                return None
            # Only the top value is stamped; the others stay as they came.
            copied.append((name, value if name in seen else _stamped(value, *via, source), True))
        elif name == "To":
            to = _TO.fullmatch(value)
            if to is None:
                return None
            copied.append((name, value, to.group(1) is not None))
        elif name in {"From", "Contact"}:
            # One Contact value only: `check()` takes no other without parsing it.
            if "," in value or name in seen or not plainly_valid_address(value):
                return None
            if name == "From":
                copied.append((name, value, True))
        elif name == "CSeq":
            if _CSEQ.fullmatch(value) is None:
                return None
            copied.append((name, value, True))
        elif name == "Call-ID":
            try:
                parse_call_id(value)
            except SipParseError:
                return None
            copied.append((name, value, True))
        elif name in {"Max-Forwards", "Content-Length"}:
            try:
                found = number(value, name, MAX_MAX_FORWARDS)
            except SipParseError:
                return None
            if name == "Content-Length" and found != 0:
                return None
        seen.add(name)
    if any(name not in seen for name in MANDATORY):
        return None
    return PlainRegister(tuple(copied))


__all__ = ["PlainRegister", "PlainRegisters"]
