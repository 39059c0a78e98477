"""Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate
(RFC 3261 §20.7, §20.27, §20.28, §20.44, §22.4; Digest of RFC 2617 §3.2 with the SHA-2
algorithms of RFC 8760 §2).

    credentials = ("Digest" LWS digest-response) / other-response
    challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
    auth-param  = auth-param-name EQUAL ( token / quoted-string )

This module only reads and writes the fields; computing and checking responses is the
registrar's business.  An unknown scheme still parses (RFC 4475 §3.3.7), so the registrar can
answer with a challenge of its own.  Each challenge is its own field line (SIP never joins
them with commas; RFC 8760 §2.4 sends one per algorithm).

The usual field (quoted values without quoted-pairs, no whitespace inside a parameter) is
read by regular expressions; any other goes through the scanner, which alone decides what is
an error and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from privateline.edges.sip.core.grammar import (
    TOKEN,
    Param,
    Params,
    Scanner,
    checked_params,
    is_token,
)

# RFC 8760 §2.1 (and RFC 2617 §3.2.1 for MD5): what a SIP registrar may offer.
DIGEST_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")


_T = r"[A-Za-z0-9\-.!%*_+`'~]++"
_QUOTED = r'"([^"\\\x00-\x08\x0a-\x1f\x7f]*+)"'
# auth-param = token "=" ( token / quoted-string ), here without quoted-pairs or controls but HTAB
_PARAM = rf"({_T})=(?:{_QUOTED}|({_T}))"
_PLAIN_PARAM = rf"{_T}=(?:{_QUOTED.replace('(', '(?:', 1)}|{_T})"
_PLAIN_AUTH = re.compile(rf"({_T})[ \t]++({_PLAIN_PARAM}(?:[ \t]*+,[ \t]*+{_PLAIN_PARAM})*+)")
_AUTH_PARAM = re.compile(_PARAM)


def _parse(value: str, what: str) -> tuple[str, Params]:
    found = _PLAIN_AUTH.fullmatch(value)
    if found is None:
        return _parse_scanned(value, what)
    items: list[Param] = []
    seen: set[str] = set()
    new = object.__new__
    for name, quoted, token in _AUTH_PARAM.findall(found.group(2)):
        seen.add(name.lower())
        param = new(Param)  # as `checked_param`, inline: a digest response has ten or so
        fields = param.__dict__
        fields["name"] = name
        fields["value"] = token or quoted
        fields["quoted"] = not token
        items.append(param)
    if len(seen) != len(items):
        return _parse_scanned(value, what)  # let it say which parameter repeats
    return found.group(1), checked_params(tuple(items))


def _parse_scanned(value: str, what: str) -> tuple[str, Params]:
    scanner = Scanner(value, what)
    scheme = scanner.token("an authentication scheme")
    if not scanner.skip_ws():
        raise scanner.error("expected parameters after the scheme")
    items: list[Param] = []
    seen: set[str] = set()
    while True:
        name = scanner.token("a parameter name")
        scanner.skip_ws()
        scanner.expect("=")
        scanner.skip_ws()
        if scanner.peek() == '"':
            item = Param(name, scanner.quoted_string(), quoted=True)
        else:
            item = Param(name, scanner.match(TOKEN, "a token or quoted string"))
        if name.lower() in seen:
            raise scanner.error(f"parameter {name} repeated")
        seen.add(name.lower())
        items.append(item)
        scanner.skip_ws()
        if scanner.at_end():
            return scheme, Params(tuple(items))
        scanner.expect(",")
        scanner.skip_ws()


def _render(scheme: str, params: Params) -> str:
    return f"{scheme} " + ", ".join(str(p) for p in params)


def _digest_params(pairs: list[tuple[str, str | None, bool]]) -> Params:
    return Params(tuple(Param(name, value, quoted) for name, value, quoted in pairs if value is not None))


@dataclass(frozen=True)
class _AuthField:
    """What credentials and challenges share (§25.1: a scheme and auth-params, name=value each)."""

    scheme: str
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        if not is_token(self.scheme) or not self.params or any(p.value is None for p in self.params):
            raise ValueError(self._invalid)

    _invalid = "an authentication field needs a token scheme and name=value parameters"

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    def param(self, name: str) -> str | None:
        # Each parameter's value by its folded name (unique, `Params`), built on the first
        # read: a digest check reads a dozen of them, each a scan of the ten or so parameters
        # otherwise.  Kept in `__dict__` by hand: `functools.cached_property` takes a lock on
        # every first read (Python 3.11), which cost more than the scans it saved.
        values: dict[str, str | None] | None = self.__dict__.get("_values")
        if values is None:
            values = self.__dict__["_values"] = {param.name.lower(): param.value for param in self.params}
        return values.get(name.lower())

    @property
    def realm(self) -> str | None:
        return self.param("realm")

    @property
    def nonce(self) -> str | None:
        return self.param("nonce")

    @property
    def opaque(self) -> str | None:
        return self.param("opaque")

    @property
    def algorithm(self) -> str:
        """The algorithm; MD5 when absent (RFC 2617 §3.2.1)."""
        return self.param("algorithm") or "MD5"

    def __str__(self) -> str:
        return _render(self.scheme, self.params)


@dataclass(frozen=True)
class Credentials(_AuthField):
    """What a client sends in Authorization or Proxy-Authorization."""

    _invalid = "credentials need a token scheme and name=value parameters"

    @property
    def username(self) -> str | None:
        return self.param("username")

    @property
    def uri(self) -> str | None:
        """The digest-uri as the client wrote it (RFC 2617 §3.2.2: the Request-URI)."""
        return self.param("uri")

    @property
    def response(self) -> str | None:
        return self.param("response")

    @property
    def cnonce(self) -> str | None:
        return self.param("cnonce")

    @property
    def qop(self) -> str | None:
        return self.param("qop")

    @property
    def nc(self) -> str | None:
        return self.param("nc")

    @classmethod
    def digest(
        cls,
        *,
        username: str,
        realm: str,
        nonce: str,
        uri: str,
        response: str,
        algorithm: str | None = None,
        cnonce: str | None = None,
        opaque: str | None = None,
        qop: str | None = None,
        nc: str | None = None,
    ) -> Credentials:
        """Digest credentials quoted as RFC 3261 §25.1 writes them (qop, nc, algorithm as tokens)."""
        pairs = [
            ("username", username, True),
            ("realm", realm, True),
            ("nonce", nonce, True),
            ("uri", uri, True),
            ("response", response, True),
            ("algorithm", algorithm, False),
            ("cnonce", cnonce, True),
            ("opaque", opaque, True),
            ("qop", qop, False),
            ("nc", nc, False),
        ]
        return cls("Digest", _digest_params(pairs))


@dataclass(frozen=True)
class Challenge(_AuthField):
    """What a server sends in WWW-Authenticate (401) or Proxy-Authenticate (407)."""

    _invalid = "a challenge needs a token scheme and name=value parameters"

    @property
    def stale(self) -> bool:
        """stale = "stale" EQUAL ( "true" / "false" ), case-insensitive (RFC 2617 §3.2.1)."""
        return (self.param("stale") or "").lower() == "true"

    @property
    def qop_options(self) -> tuple[str, ...]:
        """qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT."""
        value = self.param("qop")
        return () if value is None else tuple(item.strip(" \t") for item in value.split(",") if item.strip(" \t"))

    @classmethod
    def digest(
        cls,
        *,
        realm: str,
        nonce: str,
        algorithm: str = "MD5",
        qop: tuple[str, ...] = ("auth",),
        opaque: str | None = None,
        stale: bool = False,
    ) -> Challenge:
        pairs = [
            ("realm", realm, True),
            ("nonce", nonce, True),
            ("opaque", opaque, True),
            ("stale", "TRUE" if stale else None, False),
            ("algorithm", algorithm, False),
            ("qop", ",".join(qop) if qop else None, True),
        ]
        return cls("Digest", _digest_params(pairs))


def parse_credentials(value: str, what: str = "Authorization") -> Credentials:
    scheme, params = _parse(value, what)
    credentials = object.__new__(Credentials)  # a token scheme and name=value parameters, as parsed
    credentials.__dict__["scheme"] = scheme
    credentials.__dict__["params"] = params
    return credentials


def parse_challenge(value: str, what: str = "WWW-Authenticate") -> Challenge:
    scheme, params = _parse(value, what)
    return Challenge(scheme, params)
