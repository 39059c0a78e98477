"""The Via header field (RFC 3261 §20.42, §18.2.1; rport from RFC 3581).

    Via        = ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
    via-parm   = sent-protocol LWS sent-by *( SEMI via-params )
    sent-protocol = protocol-name SLASH protocol-version SLASH transport    (SLASH = SWS "/" SWS)
    sent-by    = host [ COLON port ]                                        (COLON = SWS ":" SWS)
    via-params = via-ttl / via-maddr / via-received / via-branch / response-port / via-extension

Several values may share one field line (RFC 4475 §3.1.1.1); empty parameters or list elements
are errors (§3.1.2.1).  A branch that does not start with the magic cookie `z9hG4bK`, or is
only the cookie, comes from an RFC 2543 element (§8.1.1.7, RFC 4475 §3.2.1, §3.4.1): the
transaction layer then matches by the older rules, so `is_rfc3261` tells it which.

The usual via-parm (`SIP/2.0/UDP host:port;params`, no whitespace but the one before sent-by)
is read by one regular expression; any other goes through the scanner, which alone decides
what is an error and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.grammar import (
    TOKEN,
    WS,
    Param,
    Params,
    Scanner,
    is_token,
    parse_params,
    plain_params_at,
    split_list,
)
from privateline.edges.sip.core.uri import MAX_PORT, host_problem, parse_port

MAGIC_COOKIE = "z9hG4bK"  # §8.1.1.7
_HOST = re.compile(r"\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9.\-]+")
_PORT = re.compile(r"[0-9]+")
_T = r"[A-Za-z0-9\-.!%*_+`'~]++"
# The fast path: sent-protocol without whitespace, one or more SP/HTAB, sent-by without
# whitespace, then either the end or the ";" of the parameters.
_PLAIN_VIA = re.compile(rf"({_T})/({_T})/({_T})[ \t]++(\[[0-9A-Fa-f:.]*+\]|[A-Za-z0-9.\-]++)(?::([0-9]++))?+(?=;|$)")


@dataclass(frozen=True)
class Via:
    """One via-parm: sent protocol, sent-by and parameters."""

    host: str
    port: int | None = None
    transport: str = "UDP"
    params: Params = field(default_factory=Params)
    protocol: str = "SIP"
    version: str = "2.0"

    def __post_init__(self) -> None:
        if not (is_token(self.protocol) and is_token(self.version) and is_token(self.transport)):
            raise ValueError("protocol, version and transport must be tokens")
        problem = host_problem(self.host)
        if problem:
            raise ValueError(f"{problem}: {self.host!r}")

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def is_rfc3261(self) -> bool:
        """Whether the branch is an RFC 3261 transaction id: the magic cookie and something after it."""
        branch = self.branch
        return branch is not None and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE)

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        """RFC 3581 §3: the client asks for the source port in `rport`."""
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        return None if value is None else int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return None if value is None else int(value)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def with_param(self, name: str, value: str | None = None) -> Via:
        return replace(self, params=self.params.set(name, value))

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.version}/{self.transport} {self.host}{port}{self.params}"


def parse_via(value: str) -> tuple[Via, ...]:
    """The via-parms of one Via field value, top first; SipParseError when malformed."""
    if not ("," in value or "<" in value or '"' in value) and value.strip(WS):
        return (_parse_via_parm(value.strip(WS)),)  # what `split_list` gives for one element
    return tuple(_parse_via_parm(item) for item in split_list(value, "Via"))


def _parse_via_parm(text: str) -> Via:
    found = _PLAIN_VIA.match(text)
    if found is None:
        return _parse_via_scanned(text)
    protocol, version, transport, host, port_text = found.groups()
    port = None if port_text is None or len(port_text) > 5 else int(port_text)
    params = plain_params_at(text, found.end())
    if params is None or (port_text is not None and (port is None or port > MAX_PORT)) or host_problem(host):
        return _parse_via_scanned(text)  # the scanner reads it, or says what is wrong
    if not _plain_params_ok(params):
        _check_params(params)
    via = object.__new__(Via)  # its parts checked as `Via.__post_init__` would
    fields = via.__dict__
    fields["host"] = host
    fields["port"] = port
    fields["transport"] = transport.upper()
    fields["params"] = params
    fields["protocol"] = protocol
    fields["version"] = version
    return via


def _parse_via_scanned(text: str) -> Via:
    scanner = Scanner(text, "Via")
    protocol = scanner.token("a protocol name")
    scanner.skip_ws()
    scanner.expect("/")
    scanner.skip_ws()
    version = scanner.token("a protocol version")
    scanner.skip_ws()
    scanner.expect("/")
    scanner.skip_ws()
    transport = scanner.token("a transport")
    if not scanner.skip_ws():
        raise scanner.error("expected whitespace before sent-by")
    host = scanner.match(_HOST, "a host")
    problem = host_problem(host)
    if problem:
        raise scanner.error(problem)
    scanner.skip_ws()
    port: int | None = None
    if scanner.accept(":"):
        scanner.skip_ws()
        port = parse_port(scanner.match(_PORT, "a port"), "Via")
    params = parse_params(scanner)
    scanner.expect_end()
    _check_params(params)
    return Via(host, port, transport.upper(), params, protocol, version)


def _plain_params_ok(params: Params) -> bool:
    """Whether unquoted parameters certainly pass `_check_params` (False: let it decide)."""
    for param in params.items:
        name = param.name.lower()
        if name == "branch":
            if param.value is None or TOKEN.fullmatch(param.value) is None:
                return False
        elif name == "rport":
            value = param.value
            if value is not None and not (0 < len(value) <= 5 and value.isdigit() and int(value) <= MAX_PORT):
                return False
        elif name in ("ttl", "maddr", "received"):
            return False
    return True


def _check_params(params: Params) -> None:
    named: dict[str, Param] = {param.name.lower(): param for param in params}  # names are distinct
    for name in ("branch", "ttl", "rport", "maddr", "received"):
        found = named.get(name)
        if found is not None and found.quoted:
            raise SipParseError(f"Malformed Via: {name} cannot be quoted")
    if "branch" in named:
        branch = named["branch"].value
        if branch is None or not is_token(branch):
            raise SipParseError("Malformed Via: branch must be a token")
    if "ttl" in named:
        ttl = named["ttl"].value or ""
        # ttl = 1*3DIGIT ; 0 to 255
        if not (ttl.isascii() and ttl.isdigit() and len(ttl) <= 3 and int(ttl) <= 255):
            raise SipParseError("Malformed Via: bad ttl")
    rport = named["rport"].value if "rport" in named else None
    if rport is not None:
        parse_port(rport, "Via rport")  # RFC 3581 §3: response-port = "rport" [EQUAL 1*DIGIT]
    for name in ("maddr", "received"):
        if name in named:
            value = named[name].value or ""
            # received = IPv4address / IPv6address (no brackets); maddr = host.
            candidate = f"[{value}]" if ":" in value and not value.startswith("[") else value
            if host_problem(candidate):
                raise SipParseError(f"Malformed Via: bad {name}")
