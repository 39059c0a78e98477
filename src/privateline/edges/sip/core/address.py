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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.fields import delta_seconds
from privateline.edges.sip.core.grammar import TOKEN, WS, Params, Scanner, is_token, parse_params, quote, split_list
from privateline.edges.sip.core.uri import Uri, parse_uri


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


def parse_address(text: str, what: str, *, brackets_required: bool = False) -> Address:
    """One address (name-addr or addr-spec with parameters); SipParseError when malformed."""
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
    params = parse_params(scanner)
    scanner.expect_end()
    tag = params.find("tag")
    if tag is not None and (tag.quoted or tag.value is None or not is_token(tag.value)):
        raise scanner.error("tag must be a token")  # §25.1 tag-param = "tag" EQUAL token
    return Address(uri, display, params)


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
    items = [item for value in fields for item in split_list(value, "Contact")]
    if "*" in items:
        if len(items) != 1:
            # §10.3 step 6: "*" with other Contacts is an error.
            raise SipParseError("Malformed Contact: '*' must be the only Contact")
        return WILDCARD
    return tuple(parse_address(item, "Contact") for item in items)
