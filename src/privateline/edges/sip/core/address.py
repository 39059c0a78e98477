"""Addresses: the value of From, To, Contact, Route and Record-Route (RFC 3261 §20.10, §20.20,
§20.30, §20.34, §20.39; grammar §25.1).

    ( name-addr / addr-spec ) *( SEMI param )
    name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    display-name = *(token LWS) / quoted-string

§20: when the URI is not in `<...>`, everything after its first `;` is a header parameter,
and a URI holding a comma, question mark or semicolon MUST be enclosed in angle brackets
(RFC 4475 §3.1.2.13 rejects `Contact: sip:u@h?Route=...`; §3.3.12 reads
`Contact: sip:u@h;unknownparam` as a contact parameter).  No whitespace is allowed inside
the brackets (RFC 4475 §3.1.2.14) and an unquoted display name is tokens only (§3.1.2.15).

The usual name-addr (a display name quoted without quoted-pairs, or of tokens, then `<URI>`)
is read by one regular expression up to the parameters; any other address goes through the
scanner, which alone decides what is an error and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import delta_seconds
from privateline.edges.sip.core.grammar import (
    PLAIN_PARAMS,
    TOKEN,
    WS,
    Params,
    Scanner,
    is_token,
    parse_params,
    plain_params_at,
    quote,
    split_list,
)
from privateline.edges.sip.core.uri import Uri, parse_uri, plainly_valid_sip_uri


@dataclass(frozen=True)
class Address:
    """A URI with an optional display name and header parameters (`tag`, `q`, `expires`, ...)."""

    uri: Uri
    display_name: str | None = None
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        if self.display_name is not None and ("\r" in self.display_name or "\n" in self.display_name):
            raise ValueError("a display name cannot hold CR or LF")

    @property
    def tag(self) -> str | None:
        """The tag parameter (§19.3) of a From or To."""
        return self.params.get("tag")

    @property
    def q(self) -> float | None:
        """A Contact's preference (§20.10 qvalue: 0 to 1, three decimals); SipParseError if malformed."""
        value = self.params.get("q")
        if value is None:
            return None
        # qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        whole, _, decimals = value.partition(".")
        digits_ok = len(decimals) <= 3 and all(c in "0123456789" for c in decimals)
        if whole not in ("0", "1") or not digits_ok or (whole == "1" and decimals.strip("0")):
            raise SipParseError("Malformed Contact: bad q value")
        return float(f"{whole}.{decimals or '0'}")

    @property
    def expires(self) -> int | None:
        """A Contact's expires parameter (§20.10 delta-seconds); SipParseError if malformed or over 2**32-1.

        A registrar may instead treat a bad value as its default (§20.19, RFC 4475 §3.1.2.4).
        """
        value = self.params.get("expires")
        if value is None:
            return None
        return delta_seconds(value, "Contact expires")

    def with_tag(self, tag: str) -> Address:
        return replace(self, params=self.params.set("tag", tag))

    def __str__(self) -> str:
        if self.display_name is None:
            return f"<{self.uri}>{self.params}"
        name = self.display_name
        shown = name if name and all(is_token(word) for word in name.split(" ")) else quote(name)
        return f"{shown} <{self.uri}>{self.params}"


@dataclass(frozen=True)
class Wildcard:
    """`Contact: *` (§10.2.2: remove all bindings; §20.10 STAR)."""

    def __str__(self) -> str:
        return "*"


WILDCARD = Wildcard()


_T = r"[A-Za-z0-9\-.!%*_+`'~]++"
# [ quoted-string without quoted-pairs or controls (but HTAB) / tokens ] "<" URI ">"
_NAME_ADDR = re.compile(
    rf'[ \t]*+(?:"([^"\\\x00-\x08\x0a-\x1f\x7f]*+)"[ \t]*+|({_T}(?:[ \t]++{_T})*+)[ \t]*+)?+<([^>]*+)>'
)


def plainly_valid_address(text: str) -> bool:
    """Whether `text` is a name-addr of the plain shape `parse_address` reads on its fast path,
    with a plain SIP URI and at most one parameter (so it certainly parses, brackets required
    or not); False says nothing: it may still be a valid address."""
    found = _NAME_ADDR.match(text)
    if found is None:
        return False
    inner = found.group(3)
    params = text[found.end() :]
    if not inner or inner != inner.strip(WS) or not plainly_valid_sip_uri(inner):
        return False
    if not params:
        return True
    if params.count(";") != 1 or not PLAIN_PARAMS.fullmatch(params):
        return False
    name, _, value = params[1:].partition("=")
    return name.lower() != "tag" or TOKEN.fullmatch(value) is not None  # §25.1 tag-param = "tag" EQUAL token


def parse_address(text: str, what: str, *, brackets_required: bool = False) -> Address:
    """One address (name-addr or addr-spec with parameters); SipParseError when malformed."""
    found = _NAME_ADDR.match(text)
    if found is not None:
        quoted, words, inner = found.groups()
        params = plain_params_at(text, found.end())
        if params is not None and inner and inner == inner.strip(WS):
            uri = _uri(inner, what)
            display = quoted if quoted is not None else None if words is None else " ".join(words.split())
            return _address(uri, display, params, what)
    return _parse_address_scanned(text, what, brackets_required=brackets_required)


def _parse_address_scanned(text: str, what: str, *, brackets_required: bool) -> Address:
    scanner = Scanner(text, what)
    scanner.skip_ws()
    display: str | None = None
    if scanner.peek() == '"':
        display = scanner.quoted_string()
        scanner.skip_ws()
        if scanner.peek() != "<":
            raise scanner.error("a quoted display name must be followed by <URI>")
    else:
        start = scanner.pos
        words: list[str] = []
        while (found := TOKEN.match(text, scanner.pos)) is not None:
            words.append(found.group())
            scanner.pos = found.end()
            scanner.skip_ws()
        if scanner.peek() == "<":
            display = " ".join(words) if words else None
        else:
            scanner.pos = start
    if scanner.peek() == "<":
        scanner.pos += 1
        close = text.find(">", scanner.pos)
        if close < 0:
            raise scanner.error("'<' without '>'")
        inner = text[scanner.pos : close]
        if not inner or inner != inner.strip(WS):
            raise scanner.error("whitespace inside <URI>")
        uri = _uri(inner, what)
        scanner.pos = close + 1
    else:
        if brackets_required:
            raise scanner.error("the URI must be enclosed in <>")
        end = text.find(";", scanner.pos)
        end = len(text) if end < 0 else end
        uri_text = text[scanner.pos : end].rstrip(WS)
        if "<" in uri_text or '"' in uri_text:
            raise scanner.error("a display name must be tokens or a quoted string")
        if "," in uri_text or "?" in uri_text:
            raise scanner.error("a URI with ',' or '?' must be enclosed in <>")
        uri = _uri(uri_text, what)
        scanner.pos = end
    return _with_params(scanner, uri, display)


def _with_params(scanner: Scanner, uri: Uri, display: str | None) -> Address:
    """The address of `uri` and `display` with the parameters at the scanner's cursor."""
    params = parse_params(scanner)
    scanner.expect_end()
    return _address(uri, display, params, scanner.what)


def _address(uri: Uri, display: str | None, params: Params, what: str) -> Address:
    tag = params.find("tag")
    if tag is not None and (tag.quoted or tag.value is None or not is_token(tag.value)):
        raise SipParseError(f"Malformed {what}: tag must be a token")  # §25.1 tag-param = "tag" EQUAL token
    address = object.__new__(Address)  # the display name comes from a field value: no CR or LF
    fields = address.__dict__
    fields["uri"] = uri
    fields["display_name"] = display
    fields["params"] = params
    return address


def _uri(text: str, what: str) -> Uri:
    try:
        return parse_uri(text)
    except SipParseError as error:
        raise SipParseError(f"Malformed {what}: {error.reason.removeprefix('Malformed ')}") from None


def parse_address_list(fields: Iterable[str], what: str, *, brackets_required: bool = False) -> tuple[Address, ...]:
    """Every address of the comma-separated field values `fields` (Contact, Route, Record-Route)."""
    return tuple(
        parse_address(item, what, brackets_required=brackets_required)
        for value in fields
        for item in split_list(value, what)
    )


def parse_contacts(fields: Iterable[str]) -> tuple[Address, ...] | Wildcard:
    """The Contact fields of a message (§20.10): addresses, or the wildcard standing alone."""
    values = tuple(fields)
    if len(values) == 1 and "," not in values[0] and plainly_valid_address(values[0]):
        return (parse_address(values[0], "Contact"),)  # one plain address: `split_list` gives it whole
    items = [item for value in values for item in split_list(value, "Contact")]
    if "*" in items:
        if len(items) != 1:
            # §10.3 step 6: "*" with other Contacts is an error.
            raise SipParseError("Malformed Contact: '*' must be the only Contact")
        return WILDCARD
    return tuple(parse_address(item, "Contact") for item in items)
