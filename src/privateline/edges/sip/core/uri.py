"""SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1) and other absolute URIs.

`parse_uri` gives a `SipUri` for `sip:`/`sips:` and an `AbsoluteUri` (scheme plus opaque
rest, RFC 2396 §3) for any other scheme, so that a Request-URI or a To header with an unknown
scheme still parses and the caller can answer 416 (RFC 4475 §3.3.2, §3.3.4).

A `SipUri` holds its user, password, parameters and headers *decoded* (§19.1.2: `%75se%72`
is `user`, RFC 4475 §3.1.1.3; `%00` is a NUL, §3.1.1.4) and escapes on the way out exactly the
characters the grammar does not allow raw, so `parse_uri(str(uri)) == uri`.  The host is kept
as written (an IPv6 reference with its brackets); hosts compare case-insensitively in
`equivalent` (§19.1.4), not in `==`.

The usual parts take fast paths: a part without escapes is checked by one regular expression
of its allowed characters, and a host by one of a strict subset of the §25.1 host grammar
(possessive, so it cannot backtrack); what they do not take the general code checks.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, replace
from typing import TypeAlias

from privateline.edges.sip.core.errors import SipParseError

_ALNUM = frozenset(string.ascii_letters + string.digits)
_HEX = frozenset(string.hexdigits)
# unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
_UNRESERVED = _ALNUM | frozenset("-_.!~*'()")
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_CHARS = _UNRESERVED | frozenset("&=+$,;?/")
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD_CHARS = _UNRESERVED | frozenset("&=+$,")
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAM_CHARS = _UNRESERVED | frozenset("[]/:&+$")
# hname / hvalue = *( hnv-unreserved / unreserved / escaped ); hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
HEADER_CHARS = _UNRESERVED | frozenset("[]/?:+$")
# uric = reserved / unreserved / escaped (RFC 2396 §2), plus "[" "]" of IPv6 literals (RFC 2732).
_URIC = _UNRESERVED | frozenset(";/?:@&=+$,[]")
_SCHEME_CHARS = _ALNUM | frozenset("+-.")
_HOST_CHARS = _ALNUM | frozenset("-.")
MAX_PORT = 65535

# Fast paths: a part made only of these characters decodes to itself.
_PLAIN = {
    allowed: re.compile("[" + "".join(sorted(re.escape(char) for char in allowed)) + "]*+")
    for allowed in (USER_CHARS, PASSWORD_CHARS, PARAM_CHARS, HEADER_CHARS)
}
# A subset of the hosts `host_problem` accepts: dotted quads without leading zeros, and host
# names whose labels are alphanumerics joined by inner hyphens, the last starting with a letter.
_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
PLAIN_HOST_PATTERN = (
    rf"{_IPV4_OCTET}\.{_IPV4_OCTET}\.{_IPV4_OCTET}\.{_IPV4_OCTET}"
    rf"|(?:{_LABEL}\.)*+[A-Za-z][A-Za-z0-9]*+(?:-++[A-Za-z0-9]++)*+\.?"
)
_PLAIN_HOST = re.compile(PLAIN_HOST_PATTERN)


def _chars(allowed: frozenset[str], but: str = "") -> str:
    return "[" + "".join(sorted(re.escape(char) for char in allowed - frozenset(but))) + "]"


# The usual SIP URI after the scheme: [ user "@" ] host [ ":" port ] *( ";" name [ "=" value ] ),
# no escapes, password or headers; the general code reads the others.
_PLAIN_SIP = re.compile(
    rf"(?:({_chars(USER_CHARS)}++)@)?+({PLAIN_HOST_PATTERN})(?::([0-9]{{1,5}}+))?+"
    rf"((?:;{_chars(PARAM_CHARS)}++(?:={_chars(PARAM_CHARS)}++)?+)*+)"
)
# The same with its scheme, for `parse_uri` to read the usual URI in one match.
_PLAIN_SIP_URI = re.compile(rf"([Ss][Ii][Pp][Ss]?+):{_PLAIN_SIP.pattern}")

# RFC 3261 §19.1.4: these parameters must match whenever either URI carries them.
_ALWAYS_COMPARED = ("user", "ttl", "method", "maddr", "transport")


def _decode(text: str, allowed: frozenset[str], what: str) -> str:
    """Undo %HH escapes (§19.1.2); any other character must be in `allowed`; the octets must be UTF-8."""
    plain = _PLAIN.get(allowed)
    if plain is not None and plain.fullmatch(text) is not None:
        return text  # no escape: every character is an allowed ASCII one
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "%":
            if i + 2 >= n:
                raise SipParseError(f"Malformed URI: truncated escape in {what}")
            high, low = text[i + 1], text[i + 2]
            if high not in _HEX or low not in _HEX:
                raise SipParseError(f"Malformed URI: bad escape in {what}")
            out.append(int(high + low, 16))
            i += 3
        elif char in allowed:
            out.append(ord(char))
            i += 1
        else:
            raise SipParseError(f"Malformed URI: character not allowed in {what}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError(f"Malformed URI: escaped {what} is not UTF-8") from None


def _encode(text: str, allowed: frozenset[str]) -> str:
    """Escape every character outside `allowed` as %HH of its UTF-8 octets (§19.1.2)."""
    if all(char in allowed for char in text):
        return text
    return "".join(char if char in allowed else "".join(f"%{b:02X}" for b in char.encode("utf-8")) for char in text)


def host_problem(host: str) -> str | None:
    """Why `host` is not a host of §25.1 (hostname / IPv4address / IPv6reference), or None if it is."""
    if _PLAIN_HOST.fullmatch(host) is not None:
        return None
    return _host_problem_general(host)


def _host_problem_general(host: str) -> str | None:
    if host.startswith("["):
        inner = host[1:-1] if host.endswith("]") else ""
        if not inner or not all(c in _HEX or c in ":." for c in inner):
            return "bad IPv6 reference"
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return "bad IPv6 reference"
        return None
    if not host or not all(c in _HOST_CHARS for c in host):
        return "bad host"
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(labels) == 4 and all(label.isdigit() for label in labels):
        # IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
        if host.endswith(".") or any(len(label) > 3 or int(label) > 255 for label in labels):
            return "bad IPv4 address"
        return None
    # hostname = *( domainlabel "." ) toplabel [ "." ]; a label is alphanum, inner "-" allowed;
    # toplabel starts with ALPHA.
    for label in labels:
        if not label or label[0] == "-" or label[-1] == "-":
            return "bad host name"
    if not labels[-1][0].isalpha():
        return "bad host name"
    return None


def parse_port(text: str, what: str) -> int:
    if not text or not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > MAX_PORT:
        raise SipParseError(f"Malformed {what}: bad port")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class SipUri:
    """`sip:` or `sips:` URI (§19.1.1); user, password, parameters and headers decoded."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.scheme not in ("sip", "sips"):
            raise ValueError("scheme must be 'sip' or 'sips'")
        problem = host_problem(self.host)
        if problem:
            raise ValueError(f"{problem}: {self.host!r}")
        if self.port is not None and not 0 <= self.port <= MAX_PORT:
            raise ValueError("port out of range")
        if self.user == "" or (self.password is not None and self.user is None):
            raise ValueError("a password needs a non-empty user")
        names = [name.lower() for name, _ in self.params]
        if len(set(names)) != len(names) or "" in names or any(v == "" for _, v in self.params):
            raise ValueError("parameter names must be unique and non-empty, values non-empty")
        if any(not name for name, _ in self.headers):
            raise ValueError("header names must be non-empty")

    def param(self, name: str) -> str | None:
        """The value of uri-parameter `name` (case-insensitive); None if absent or valueless."""
        key = name.lower()
        return next((value for pname, value in self.params if pname.lower() == key), None)

    def has_param(self, name: str) -> bool:
        key = name.lower()
        return any(pname.lower() == key for pname, _ in self.params)

    @property
    def transport(self) -> str | None:
        value = self.param("transport")
        return None if value is None else value.lower()

    @property
    def lr(self) -> bool:
        """Loose routing (§19.1.1, §16.12): the `lr` parameter is present."""
        return self.has_param("lr")

    @property
    def maddr(self) -> str | None:
        return self.param("maddr")

    def with_param(self, name: str, value: str | None = None) -> SipUri:
        kept = tuple(p for p in self.params if p[0].lower() != name.lower())
        return replace(self, params=(*kept, (name, value)))

    def without_param(self, name: str) -> SipUri:
        return replace(self, params=tuple(p for p in self.params if p[0].lower() != name.lower()))

    def without_headers(self) -> SipUri:
        return replace(self, headers=())

    def equivalent(self, other: object) -> bool:
        """URI comparison of RFC 3261 §19.1.4 (not `==`, which compares exactly)."""
        if not isinstance(other, SipUri):
            return False
        if (self.scheme, self.user, self.password, self.port) != (other.scheme, other.user, other.password, other.port):
            return False
        if self.host.lower() != other.host.lower():
            return False
        mine = {name.lower(): value for name, value in self.params}
        theirs = {name.lower(): value for name, value in other.params}
        for name in set(mine) | set(theirs):
            in_both = name in mine and name in theirs
            if not in_both and name not in _ALWAYS_COMPARED:
                continue
            left, right = mine.get(name), theirs.get(name)
            if not in_both or (left or "").lower() != (right or "").lower():
                return False
        return sorted((n.lower(), v) for n, v in self.headers) == sorted((n.lower(), v) for n, v in other.headers)

    def __str__(self) -> str:
        # Immutable, so written once: a bound Contact is written into the 200, the location
        # store and the forwarded INVITE's Request-URI (`parse_uri` sets it for what it reads
        # on its fast path, which writes back as it was written).
        text: str | None = self.__dict__.get("_text")
        if text is None:
            text = self.__dict__["_text"] = self.render()
        return text

    def render(self) -> str:
        """The URI written out from its parts (§19.1.1, escaping what needs it, §19.1.2)."""
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(_encode(self.user, USER_CHARS))
            if self.password is not None:
                out += [":", _encode(self.password, PASSWORD_CHARS)]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        for name, value in self.params:
            out += [";", _encode(name, PARAM_CHARS)]
            if value is not None:
                out += ["=", _encode(value, PARAM_CHARS)]
        for index, (name, value) in enumerate(self.headers):
            out += ["?" if index == 0 else "&", _encode(name, HEADER_CHARS), "=", _encode(value, HEADER_CHARS)]
        return "".join(out)


@dataclass(frozen=True)
class AbsoluteUri:
    """A URI of any other scheme (RFC 2396 absoluteURI): kept opaque, as written."""

    scheme: str
    opaque: str

    def __post_init__(self) -> None:
        if not _scheme_ok(self.scheme) or self.scheme.lower() in ("sip", "sips"):
            raise ValueError(f"bad scheme {self.scheme!r}")
        if not _opaque_ok(self.opaque):
            raise ValueError("bad characters after the scheme")

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


Uri: TypeAlias = SipUri | AbsoluteUri


def _scheme_ok(scheme: str) -> bool:
    # scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    return bool(scheme) and scheme[0] in string.ascii_letters and all(c in _SCHEME_CHARS for c in scheme)


def _opaque_ok(rest: str) -> bool:
    if not rest:
        return False
    i = 0
    while i < len(rest):
        char = rest[i]
        if char == "%":
            if rest[i + 1 : i + 2] not in _HEX or rest[i + 2 : i + 3] not in _HEX:
                return False
            i += 3
        elif char in _URIC:
            i += 1
        else:
            return False
    return True


def parse_uri(text: str) -> Uri:
    """A SIP/SIPS URI (§19.1.1) or another absolute URI; SipParseError when it is neither."""
    found = _PLAIN_SIP_URI.fullmatch(text)
    if found is not None:
        scheme, user, host, port_text, raw_params = found.groups()
        port = None if port_text is None else int(port_text)
        if port is None or port <= MAX_PORT:
            params = _plain_params(raw_params)
            if params is not None:
                lower = scheme.lower()
                uri = _checked_sip_uri(lower, user, None, host, port, params, ())
                # Nothing here is escaped, so the text is what `render` writes, unless the scheme
                # or the port was spelt otherwise (`SIP:`, `:05060`).
                if scheme == lower and (port_text is None or port_text == str(port)):
                    uri.__dict__["_text"] = text
                return uri
    colon = text.find(":")
    scheme = text[:colon] if colon > 0 else ""
    lower = scheme.lower()
    if lower in ("sip", "sips"):
        return _parse_sip(lower, text[colon + 1 :])
    if not _scheme_ok(scheme):
        raise SipParseError("Malformed URI: bad scheme")
    if scheme.lower() not in ("sip", "sips"):
        if not _opaque_ok(text[colon + 1 :]):
            raise SipParseError("Malformed URI: bad characters")
        return AbsoluteUri(scheme, text[colon + 1 :])
    return _parse_sip(scheme.lower(), text[colon + 1 :])


def plainly_valid_sip_uri(text: str) -> bool:
    """Whether `text` is a SIP or SIPS URI of the plain shape `parse_uri` reads on its fast path
    (so it certainly parses); False says nothing: it may still be a valid URI."""
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return False
    found = _PLAIN_SIP.fullmatch(rest)
    if found is None:
        return False
    port = found.group(3)
    return (port is None or int(port) <= MAX_PORT) and found.group(4).count(";") <= 1  # one name cannot repeat


def _parse_sip(scheme: str, rest: str) -> SipUri:
    found = _PLAIN_SIP.fullmatch(rest)
    if found is not None:
        user, host, port_text, raw_params = found.groups()
        port = None if port_text is None else int(port_text)
        if port is None or port <= MAX_PORT:
            params = _plain_params(raw_params)
            if params is not None:
                return _checked_sip_uri(scheme, user, None, host, port, params, ())
    return _parse_sip_general(scheme, rest)


def _plain_params(text: str) -> tuple[tuple[str, str | None], ...] | None:
    """The uri-parameters of `text` (`;name[=value]...`, nothing to decode); None if a name repeats."""
    if not text:
        return ()
    if text.count(";") == 1:  # one parameter: no name to repeat
        name, equals, value = text[1:].partition("=")
        return ((name, value if equals else None),)
    params: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for raw in text[1:].split(";"):
        name, equals, value = raw.partition("=")
        key = name.lower()
        if key in seen:
            return None
        seen.add(key)
        params.append((name, value if equals else None))
    return tuple(params)


def _parse_sip_general(scheme: str, rest: str) -> SipUri:
    # "@" appears only as the end of userinfo: host, port, parameters and headers cannot hold it raw.
    if rest.count("@") > 1:
        raise SipParseError("Malformed URI: more than one '@'")
    user: str | None = None
    password: str | None = None
    userinfo, at, hostpart = rest.partition("@")
    if not at:
        hostpart = rest
    else:
        raw_user, colon, raw_password = userinfo.partition(":")
        if not raw_user:
            raise SipParseError("Malformed URI: empty user")
        user = _decode(raw_user, USER_CHARS, "user")
        if colon:
            password = _decode(raw_password, PASSWORD_CHARS, "password")
    hostpart, question, raw_headers = hostpart.partition("?")
    hostport, *raw_params = hostpart.split(";")
    host, port = _split_hostport(hostport)
    params: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for raw in raw_params:
        raw_name, equals, raw_value = raw.partition("=")
        name = _decode(raw_name, PARAM_CHARS, "parameter")
        value = _decode(raw_value, PARAM_CHARS, "parameter") if equals else None
        if not name or value == "":
            raise SipParseError("Malformed URI: empty parameter")
        if name.lower() in seen:
            # §19.1.1: "Any given parameter name MUST NOT appear more than once."
            raise SipParseError("Malformed URI: parameter repeated")
        seen.add(name.lower())
        params.append((name, value))
    headers: list[tuple[str, str]] = []
    if question:
        for raw in raw_headers.split("&"):
            raw_name, equals, raw_value = raw.partition("=")
            if not equals or not raw_name:
                raise SipParseError("Malformed URI: bad header")
            headers.append((_decode(raw_name, HEADER_CHARS, "header"), _decode(raw_value, HEADER_CHARS, "header")))
    return _checked_sip_uri(scheme, user, password, host, port, tuple(params), tuple(headers))


def _checked_sip_uri(
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    params: tuple[tuple[str, str | None], ...],
    headers: tuple[tuple[str, str], ...],
) -> SipUri:
    """A SipUri from parts `_parse_sip` has checked as `SipUri.__post_init__` would (not again)."""
    uri = object.__new__(SipUri)
    fields = uri.__dict__
    fields["scheme"] = scheme
    fields["user"] = user
    fields["password"] = password
    fields["host"] = host
    fields["port"] = port
    fields["params"] = params
    fields["headers"] = headers
    return uri


def _split_hostport(hostport: str) -> tuple[str, int | None]:
    """hostport = host [ ":" port ] (§25.1)."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise SipParseError("Malformed URI: bad IPv6 reference")
        host, after = hostport[: close + 1], hostport[close + 1 :]
        if after and not after.startswith(":"):
            raise SipParseError("Malformed URI: junk after host")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_raw = hostport.partition(":")
        port_text = port_text_raw if colon else None
    problem = host_problem(host)
    if problem:
        raise SipParseError(f"Malformed URI: {problem}")
    return host, None if port_text is None else parse_port(port_text, "URI")
