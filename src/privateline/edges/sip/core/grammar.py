"""The lexical rules of RFC 3261 §25.1 that the header grammars share.

tokens, words, quoted strings with quoted-pairs, generic parameters (`;name=value`), and the
split of a header field value into its comma-separated elements (RFC 3261 §7.3.1), which
ignores commas inside quoted strings and inside `<...>`.  Everything works on text that the
parser has already unfolded (§7.3.1: a fold is equivalent to one SP), so the only whitespace
left is SP and HTAB.

No regular expression here can backtrack: each is one character class, matched at a position,
or a sequence of them held by possessive quantifiers (`*+`, `++`: Python 3.11), which never
give back what they took.

`split_list` and `parse_params` first try a fast path for the plain shapes nearly every
message has (no quoted strings; parameters without whitespace); anything else goes through
the general code, which alone decides what is an error and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from privateline.edges.sip.core.errors import SipParseError

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" /
#           "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
WORD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+")
# gen-value = token / host / quoted-string (§25.1); a host adds ":" "[" "]" for IPv6 references.
GEN_VALUE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~\[\]:]+")
# Characters no header value may hold outside a quoted-pair: the CTLs except HTAB (§25.1 TEXT-UTF8char).
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
WS = " \t"
# `*( ";" token [ "=" gen-value ] )` without whitespace or quoted strings: the plain parameters.
PLAIN_PARAMS = re.compile(r"(?:;[A-Za-z0-9\-.!%*_+`'~]++(?:=[A-Za-z0-9\-.!%*_+`'~\[\]:]++)?+)*+")


def is_token(text: str) -> bool:
    return TOKEN.fullmatch(text) is not None


def is_word(text: str) -> bool:
    return WORD.fullmatch(text) is not None


def quote(text: str) -> str:
    """`text` as a quoted-string (§25.1): '"' and '\\' and the CTLs other than HTAB become quoted-pairs.

    CR and LF cannot be written at all (quoted-pair excludes %x0A and %x0D): ValueError.
    """
    if "\r" in text or "\n" in text:
        raise ValueError("a quoted-string cannot hold CR or LF")
    out = ['"']
    for char in text:
        if char in '"\\' or (char != "\t" and (char < " " or char == "\x7f")):
            out.append("\\")
        out.append(char)
    out.append('"')
    return "".join(out)


def has_bad_controls(value: str) -> bool:
    """Whether `value` holds a CTL that is not the second half of a quoted-pair inside a quoted-string."""
    if _CTL.search(value) is None:
        return False
    in_quote = False
    i = 0
    while i < len(value):
        char = value[i]
        if in_quote and char == "\\" and i + 1 < len(value):
            i += 2
            continue
        if char == '"':
            in_quote = not in_quote
        elif _CTL.match(char):
            return True
        i += 1
    return False


def split_list(value: str, what: str, *, allow_empty: bool = False) -> list[str]:
    """The elements of a comma-separated header field value (RFC 3261 §7.3.1), each stripped.

    Commas inside quoted strings and inside `<...>` do not separate.  An empty element
    (RFC 4475 §3.1.2.1: `;;,;,,`) is an error; an empty value is an error unless the header's
    grammar allows an empty list (Allow, Supported, Accept: `[ ... ]`).
    """
    if not value.strip(WS):
        if allow_empty:
            return []
        raise SipParseError(f"Malformed {what}: empty value")
    items = _split_unquoted(value, what) if '"' not in value else _split_quoted(value, what)
    if any(not item for item in items):
        raise SipParseError(f"Malformed {what}: empty element in list")
    return items


def _in_angle(text: str) -> bool:
    """Whether a `<` is still open at the end of `text` (no quotes in it): a `<` opens one
    unless already open, a `>` closes one, so one is open iff a `<` follows the last `>`."""
    return text.rfind("<") > text.rfind(">")


def _split_unquoted(value: str, what: str) -> list[str]:
    """`split_list` of a value without quotes: the commas outside `<...>` separate."""
    if "," not in value:
        if _in_angle(value):
            raise SipParseError(f"Malformed {what}: '<' without '>'")
        return [value.strip(WS)]
    pieces = value.split(",")
    if "<" not in value:
        return [piece.strip(WS) for piece in pieces]
    items: list[str] = []
    current: str | None = None
    for piece in pieces:
        current = piece if current is None else f"{current},{piece}"
        if not _in_angle(current):
            items.append(current.strip(WS))
            current = None
    if current is not None:
        raise SipParseError(f"Malformed {what}: '<' without '>'")
    return items


def _split_quoted(value: str, what: str) -> list[str]:
    items: list[str] = []
    start = 0
    in_quote = in_angle = False
    i = 0
    n = len(value)
    while i < n:
        char = value[i]
        if in_quote:
            if char == "\\":
                i += 1
            elif char == '"':
                in_quote = False
        elif in_angle:
            if char == ">":
                in_angle = False
        elif char == '"':
            in_quote = True
        elif char == "<":
            in_angle = True
        elif char == ",":
            items.append(value[start:i].strip(WS))
            start = i + 1
        i += 1
    if in_quote:
        raise SipParseError(f"Malformed {what}: unterminated quoted string")
    if in_angle:
        raise SipParseError(f"Malformed {what}: '<' without '>'")
    items.append(value[start:].strip(WS))
    return items


class Scanner:
    """A cursor over one header value (or one element of it) with the §25.1 building blocks."""

    __slots__ = ("pos", "text", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.pos = 0

    def error(self, problem: str) -> SipParseError:
        return SipParseError(f"Malformed {self.what}: {problem}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> bool:
        """Skip SP and HTAB (SWS after unfolding); whether there was any."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in WS:
            self.pos += 1
        return self.pos > start

    def accept(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.accept(char):
            raise self.error(f"expected '{char}'")

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise self.error(f"expected {what}")
        self.pos = found.end()
        return found.group()

    def token(self, what: str = "a token") -> str:
        return self.match(TOKEN, what)

    def quoted_string(self) -> str:
        """A quoted-string (§25.1) at the cursor, its quoted-pairs resolved."""
        self.expect('"')
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                # quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F); CR and LF are gone after unfolding.
                if self.pos + 1 >= len(text) or text[self.pos + 1] > "\x7f":
                    raise self.error("bad quoted-pair")
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char != "\t" and (char < " " or char == "\x7f"):
                raise self.error("control character in quoted string")
            out.append(char)
            self.pos += 1
        raise self.error("unterminated quoted string")

    def expect_end(self) -> None:
        self.skip_ws()
        if not self.at_end():
            raise self.error("unexpected characters")


@dataclass(frozen=True)
class Param:
    """One generic parameter (§25.1 generic-param): `name`, `name=value` or `name="quoted value"`."""

    name: str
    value: str | None = None
    quoted: bool = False

    def __post_init__(self) -> None:
        if not is_token(self.name):
            raise ValueError(f"parameter name {self.name!r} is not a token")
        if self.value is None:
            if self.quoted:
                raise ValueError("a parameter without value cannot be quoted")
        elif self.quoted:
            if "\r" in self.value or "\n" in self.value:
                raise ValueError("a quoted parameter value cannot hold CR or LF")
        elif GEN_VALUE.fullmatch(self.value) is None:
            raise ValueError(f"parameter value {self.value!r} must be a token or host, or quoted")

    def __str__(self) -> str:
        if self.value is None:
            return self.name
        return f"{self.name}={quote(self.value) if self.quoted else self.value}"


@dataclass(frozen=True)
class Params:
    """An ordered set of parameters; names compare case-insensitively (§7.3.1) and appear once."""

    items: tuple[Param, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name.lower() for p in self.items]
        if len(set(names)) != len(names):
            raise ValueError("a parameter name appears twice")

    def find(self, name: str) -> Param | None:
        """The parameter called `name` (any case), or None."""
        key = name.lower()
        for param in self.items:
            if param.name == key or param.name.lower() == key:
                return param
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def get(self, name: str) -> str | None:
        """The value of parameter `name`; None when it is absent or has no value (test with `in`)."""
        found = self.find(name)
        return None if found is None else found.value

    def set(self, name: str, value: str | None = None, *, quoted: bool = False) -> Params:
        """These parameters with `name` set (replaced in place, or appended)."""
        new = Param(name, value, quoted)
        # Names stay distinct by construction (replaced in place or new), so not checked again.
        if name in self:
            key = name.lower()
            return checked_params(tuple(new if p.name.lower() == key else p for p in self.items))
        return checked_params((*self.items, new))

    def remove(self, name: str) -> Params:
        key = name.lower()
        return checked_params(tuple(p for p in self.items if p.name.lower() != key))

    def __iter__(self) -> Iterator[Param]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __str__(self) -> str:
        return "".join(f";{p}" for p in self.items)

    @classmethod
    def of(cls, *pairs: tuple[str, str | None]) -> Params:
        return cls(tuple(Param(name, value) for name, value in pairs))


def checked_param(name: str, value: str | None, quoted: bool) -> Param:
    """A Param whose parts a parser has checked as `Param` would (no `__post_init__` again)."""
    param = object.__new__(Param)
    fields = param.__dict__
    fields["name"] = name
    fields["value"] = value
    fields["quoted"] = quoted
    return param


def checked_params(items: tuple[Param, ...]) -> Params:
    """Params whose names a parser has checked are distinct (no `__post_init__` again)."""
    params = object.__new__(Params)
    params.__dict__["items"] = items
    return params


def plain_params_at(text: str, pos: int) -> Params | None:
    """The parameters from `pos` to the end of `text` when they are plain (no whitespace, no
    quoted string, no repeated name), as `parse_params` would read them; None otherwise."""
    if pos == len(text):
        return _NO_PARAMS
    if text[pos] != ";":
        return None
    found = PLAIN_PARAMS.match(text, pos)
    if found is None or found.end() != len(text):
        return None
    return _plain_params(text[pos:])


def parse_params(scanner: Scanner) -> Params:
    """`*( SEMI generic-param )` at the cursor (SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS, §25.1)."""
    plain = plain_params_at(scanner.text, scanner.pos)
    if plain is not None:
        scanner.pos = len(scanner.text)
        return plain
    return _parse_params(scanner)


def _plain_params(text: str) -> Params | None:
    """The parameters of `text`, which matches `PLAIN_PARAMS`; None when a name repeats (the
    general code then says which)."""
    items: list[Param] = []
    seen: set[str] = set()
    new = object.__new__
    for piece in text[1:].split(";"):
        name, equals, value = piece.partition("=")
        key = name.lower()
        if key in seen:
            return None
        seen.add(key)
        param = new(Param)  # as `checked_param`, inline: this runs for every parameter of every message
        fields = param.__dict__
        fields["name"] = name
        fields["value"] = value if equals else None
        fields["quoted"] = False
        items.append(param)
    return checked_params(tuple(items))


def _parse_params(scanner: Scanner) -> Params:
    items: list[Param] = []
    seen: set[str] = set()
    while True:
        scanner.skip_ws()
        if not scanner.accept(";"):
            break
        scanner.skip_ws()
        name = scanner.token("a parameter name")
        scanner.skip_ws()
        value: str | None = None
        quoted = False
        if scanner.accept("="):
            scanner.skip_ws()
            if scanner.peek() == '"':
                value = scanner.quoted_string()
                quoted = True
            else:
                value = scanner.match(GEN_VALUE, "a parameter value")
        key = name.lower()
        if key in seen:
            raise scanner.error(f"parameter {name} repeated")
        seen.add(key)
        items.append(Param(name, value, quoted))
    return Params(tuple(items))


_NO_PARAMS = Params()
