"""The handsets' side of the information services: the Gigaset Info Center scheme and XHTML-GP.

Gigaset IP DECT base stations fetch the "Info Center" for their handsets over plain HTTP
(GET only) from `info.gigaset.net` and show the answer, written in the XHTML Gigaset
Profile (XHTML-GP), on the handset display.  Everything below was researched from these
sources (read for the facts only; no code or text was copied):

* "XHTML Gigaset Profile 2.0 Protocol Specification", Interactive Info Center, version
  1.0.10, 9 Oct 2008, and "XHTML Gigaset Profile 2.0 User Agent Specification" 1.0.6, both
  Gigaset Communications, published in github.com/threez/local-gigaset-info-center
  (docs/XHTML_Gigaset_Profile.pdf, docs/XHTML-GP_User_Agent_Specification.pdf).
* "Info Screensaver, XHTML Gigaset Profile 1.0 Protocol Specification" 1.1, 13 Mar 2009
  (same repository, docs/XHTML_Gigaset_Profile_1.0.pdf; version 1.2 of 2011 is on
  dokumen.tips): the idle-screen ("screensaver") subset.
* The Gigaset pro wiki, "FAQ RAP (XHTML)",
  https://pro-wiki.gigaset.com/bin/view/GPPPO/FAQ%20general/FAQ%20RAP%20%28XHTML%29/ :
  the URL parameters as current base stations send them.
* Replacement servers for the discontinued info.gigaset.net that people run with real
  handsets (C430A GO, SL750H PRO, N510 IP PRO): github.com/tvogel/local-gigaset-info-center
  and github.com/threez/local-gigaset-info-center (PHP),
  github.com/Vitaliy86/local-gigaset-info-center-openwrt (Go),
  github.com/uneubauer/GigasetRebirth (Node) and github.com/uneubauer/Gigaset-InfoDienst
  (JSP), github.com/BlackDragon-B/treininfogigaset (a form-based service).

Request scheme
--------------
The handset asks for `GET /info/menu.jsp?...` when the user opens the Info Center from
the menu, and for `GET /info/request.do?...` for the idle-screen ticker and the
"Info Center" screensaver (sometimes with `tick=true`).  Real requests look like
`/info/menu.jsp?lang=2&tz=120&mac=7C2F80XXXXXX&cc=49&handsetid=XXXXXXXXXX&provid=11`.
Every request, including those following a link or submitting a form, carries these
parameters, appended by the base station:

=========  ======================================================================
lang       display language of the handset as a number (spec 2.0, annex A):
           0 undefined, 1 US English, 2 German, 3 English (international),
           4 Spanish, 5 Portuguese, 6 Scandinavian, 7 Italian, 8 Greek, 9 French,
           10 Dutch, 11 Norwegian, ... 30 Bulgarian.  The screensaver profile 1.0 calls
           it `g_lang`.
tz         the handset's offset to UTC in minutes, daylight saving included, signed
           (`tz=60`, `tz=120`, `tz=-300`).
mac        the MAC address of the base station: twelve upper-case hex digits without
           separators as sent (`7C2F8052A48B`; spec 2.0 writes `01-23-45-67-89-ab`).
handsetid  the handset's IPUI in hex (`02B6EC8AA5`); identifies the handset among
           those registered to the base.
cc         the country calling code of the base (`49`), provid: a provider profile
           number (`1`, `11`), sipid: the SIP user (only when the base is configured to
           add it), ppid / dt / g_pnr: internal subscriber number, date and time, part
           number (spec 1.0/2.0).  privateline reads none of these.
=========  ======================================================================

Because the base station appends its parameters to every URL, a parameter that a link
already carries arrives twice (the replacement servers hit exactly this), and a value
typed on the handset may arrive percent-encoded as ISO-8859-1 rather than UTF-8 (the
handsets' character set).  `parse_query` and `HandsetRequest` therefore accept repeated
parameters (every copy must be valid and the MACs must agree; of the other parameters
the last copy, the base's own, wins), MACs in any usual spelling, numeric and two-letter
language codes (a language privateline does not speak falls back to English, as a
handset of an unsupported language must still get a page), parameter names in any case,
and both encodings.  They reject with 400 and a reason what no handset sends: a missing
or malformed MAC, a `lang` that is neither a code nor a language tag, a `tz` outside
UTC-12..UTC+14, a non-hex handset id, control characters, values over 256 characters,
more than 40 parameters or a query over 2048 bytes.

Markup (XHTML-GP 2.0)
---------------------
UTF-8, well-formed XML, lower-case tags, every element closed (`<br/>`), the XML
declaration and the XHTML Mobile 1.2 DOCTYPE, root `<html xmlns=...>` with one `<head>`
(one `<title>`, any `<meta>`) and one `<body>`.  The body holds either paragraphs ("info
display", scrollable), or exactly one `<ul>` (a menu: `<li>` with one `<a>` each are
selectable, `<li>` without are plain text), or exactly one `<form method="get">` (the
"multifield editor": text, `<input type="text">` with `maxlength` 1..32 and
`inputmode="digits"`, and exactly one `<input type="submit">` whose label the right
softkey shows, at most 8 characters).  Hidden inputs do not exist.  Other elements are
shown as paragraphs or ignored, so `ELEMENTS` below lists the only ones privateline
writes, with the attributes the specification allows for each (its table 1), and
`CHILDREN` the content each may hold.  Styles are inline only (`STYLES`).

Limits: the display has 6 to 8 lines of about 128 pixels in a proportional font (11 to 42
characters); a `<title>` longer than one line is cut; the handset's font covers
ISO-8859-1 only, so text is reduced to Latin-1 (`latin1`).  The specification names a
"max. page size" per base station but leaves the figure blank; privateline keeps every
page within `MAX_PAGE_BYTES` (2 KiB), a budget its tests check against the longest
possible content, because pages travel over the DECT link and the base keeps a history
of them.  `<meta name="expires" content="N">` asks the handset to reload after N
seconds (0 or 15..86400).

Pages are served as `application/xhtml+xml; charset=utf-8` (the XHTML-MP media type; the
specification's own example answers with text/xml, both are rendered).  Links are
root-relative (`/info/...`), as the replacement servers use successfully.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined

from privateline.register.i18n import package_translations
from privateline.services.devices.identifiers import IdentifierError, normalise_mac

PACKAGE = "privateline.services.devices.info"
CONTENT_TYPE = "application/xhtml+xml; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//OMA//DTD XHTML Mobile 1.2//EN" '
    '"http://www.openmobilealliance.org/tech/DTD/xhtml-mobile12.dtd">'
)
XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"

# The XHTML-GP 2.0 element set and each element's attributes (specification table 1).
ELEMENTS: Mapping[str, frozenset[str]] = {
    "html": frozenset({"xmlns"}),
    "head": frozenset(),
    "title": frozenset(),
    "meta": frozenset({"name", "content"}),
    "body": frozenset(),
    "p": frozenset({"style"}),
    "br": frozenset(),
    "a": frozenset({"href"}),
    "ul": frozenset(),
    "li": frozenset(),
    "form": frozenset({"action", "method"}),
    "input": frozenset({"type", "name", "value", "maxlength", "inputmode", "checked", "disabled"}),
    "select": frozenset({"name", "disabled"}),
    "option": frozenset({"value", "selected"}),
    "textarea": frozenset({"name"}),
}
# Which elements each element may contain (the "Contents" of each element in the specification).
CHILDREN: Mapping[str, frozenset[str]] = {
    "html": frozenset({"head", "body"}),
    "head": frozenset({"title", "meta"}),
    "title": frozenset(),
    "meta": frozenset(),
    "body": frozenset({"p", "ul", "form"}),
    "p": frozenset({"a", "br", "input", "select"}),
    "br": frozenset(),
    "a": frozenset({"p"}),
    "ul": frozenset({"li"}),
    "li": frozenset({"a", "p", "br"}),
    "form": frozenset({"p", "br", "input", "select", "textarea"}),
    "input": frozenset(),
    "select": frozenset({"option"}),
    "option": frozenset(),
    "textarea": frozenset(),
}
# Inline CSS the profile knows (specification table 2); everything else is ignored by the handset.
STYLES: Mapping[str, frozenset[str]] = {
    "text-align": frozenset({"left", "center", "right"}),
    "text-decoration": frozenset({"none", "blink"}),
    "font-weight": frozenset({"normal", "bold"}),
    "float": frozenset({"left", "center", "right"}),
    "margin": frozenset({"left", "center", "right"}),
}
INPUT_TYPES = frozenset({"text", "password", "checkbox", "radio", "submit"})
INPUT_MODES = frozenset({"text", "digits", "dialpad"})
MAX_INPUT_LENGTH = 32  # `maxlength` of a text field, 1..32
MAX_SUBMIT_LABEL = 8  # characters of the submit button's softkey label
MAX_PAGE_BYTES = 2048  # privateline's own budget, see the module doc
MAX_EXPIRES = 86400
SCREENSAVER_EXPIRES = 1800  # the idle screen refreshes its weather every half hour

# Gigaset display-language codes (specification 2.0 annex A) for the languages privateline speaks.
LANGUAGE_CODES: Mapping[int, str] = {1: "en", 2: "de", 3: "en", 10: "nl"}
SPOKEN = ("en", "de", "nl")
DEFAULT_LANGUAGE = "en"

# The parameters handsets send (see the module doc) and those of privateline's own forms and
# links; a refusal names one of these, any other name is only reported as "other".
KNOWN_PARAMETERS = frozenset(
    {"mac", "lang", "g_lang", "tz", "handsetid", "cc", "provid", "tick", "sipid", "ppid", "dt", "g_pnr"}
    | {"city", "day", "month", "year", "confirm", "days", "query", "name"}
)

MAX_QUERY_BYTES = 2048
MAX_PARAMETERS = 40
MAX_VALUE_CHARS = 256
MIN_TZ_MINUTES, MAX_TZ_MINUTES = -12 * 60, 14 * 60

_TZ = re.compile(r"[+-]?[0-9]{1,4}")
_LANG_NUMBER = re.compile(r"[0-9]{1,3}")
_LANG_TAG = re.compile(r"([A-Za-z]{2})([-_][A-Za-z0-9]{1,8})*")
_HANDSET_ID = re.compile(r"[0-9A-Fa-f]{1,20}")


class BadParameterError(ValueError):
    """A request no handset sends; `name` is the parameter, `reason` an English explanation."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"parameter {name!r} {reason}")
        self.name = name
        self.reason = reason

    @property
    def message(self) -> str:
        return f"parameter {self.name!r} {self.reason}"


class PageTooLargeError(RuntimeError):
    """A rendered page exceeds MAX_PAGE_BYTES: a template bug, found by the size tests."""


@dataclass(frozen=True)
class Query:
    """The query parameters of one request, in order, names in lower case, values decoded."""

    items: tuple[tuple[str, str], ...]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def last(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None


def _decode(text: str) -> str:
    """Bytes carried in a Latin-1 string, decoded as UTF-8 when they are valid UTF-8, else as ISO-8859-1."""
    raw = text.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def _printable(name: str, value: str) -> str:
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise BadParameterError(name, "contains control characters")
    if len(value) > MAX_VALUE_CHARS:
        raise BadParameterError(name, f"is longer than {MAX_VALUE_CHARS} characters")
    return value


def parse_query(raw: bytes) -> Query:
    """Parse a raw query string the way handsets send it (see the module doc)."""
    if len(raw) > MAX_QUERY_BYTES:
        raise BadParameterError("query", f"is longer than {MAX_QUERY_BYTES} bytes")
    # Latin-1 maps every byte to one character, so percent-decoding keeps the bytes intact
    # and `_decode` can then tell UTF-8 from ISO-8859-1 input.
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    if len(pairs) > MAX_PARAMETERS:
        raise BadParameterError("query", f"has more than {MAX_PARAMETERS} parameters")
    items = []
    for raw_name, raw_value in pairs:
        name = _printable("name", _decode(raw_name)).strip().lower()
        items.append((name, _printable(name, _decode(raw_value))))
    return Query(tuple(items))


def parse_mac(query: Query) -> str:
    """The base station's MAC, in the canonical form; every copy of the parameter must agree."""
    values = query.all("mac")
    if not values or not any(v.strip() for v in values):
        raise BadParameterError("mac", "is missing: the request does not name the base station")
    try:
        macs = {normalise_mac(v) for v in values}
    except IdentifierError:
        raise BadParameterError("mac", "is not a MAC address") from None
    if len(macs) > 1:
        raise BadParameterError("mac", "is given more than once with different values")
    return macs.pop()


def parse_lang(value: str | None) -> str:
    """en, de or nl from a handset's language code or a language tag; other languages get English."""
    if value is None or not value.strip():
        return DEFAULT_LANGUAGE
    text = value.strip()
    if _LANG_NUMBER.fullmatch(text):
        code = int(text)
        if code > 255:
            raise BadParameterError("lang", "is not a Gigaset language code (0 to 255)")
        return LANGUAGE_CODES.get(code, DEFAULT_LANGUAGE)
    match = _LANG_TAG.fullmatch(text)
    if match is None:
        raise BadParameterError("lang", "is neither a Gigaset language code nor a language tag")
    short = match.group(1).lower()
    return short if short in SPOKEN else DEFAULT_LANGUAGE


def parse_tz(value: str | None) -> timedelta:
    """The handset's offset to UTC; none given means UTC."""
    if value is None or not value.strip():
        return timedelta(0)
    text = value.strip()
    if not _TZ.fullmatch(text):
        raise BadParameterError("tz", "is not a whole number of minutes")
    minutes = int(text)
    if not MIN_TZ_MINUTES <= minutes <= MAX_TZ_MINUTES:
        raise BadParameterError("tz", "lies outside UTC-12:00 to UTC+14:00")
    return timedelta(minutes=minutes)


def parse_handset_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _HANDSET_ID.fullmatch(text):
        raise BadParameterError("handsetid", "is not a handset identity (IPUI) in hexadecimal")
    return text.upper()


@dataclass(frozen=True)
class HandsetRequest:
    """What privateline takes from a handset's request: the base station, language and time zone.

    The handset id is checked but not kept: the information profile belongs to the
    device (the base station), and nothing else needs to know which handset asked.
    """

    mac: str
    lang: str
    tz: timedelta
    # The validated values as the handset sent them, repeated in links and form targets so
    # that a base station which appends its own copy sends the same value twice.
    echo: tuple[tuple[str, str], ...]

    @classmethod
    def from_query(cls, query: Query) -> HandsetRequest:
        mac = parse_mac(query)
        # Every copy must be valid; of valid copies the last, the base station's own, wins.
        for value in query.all("lang") + query.all("g_lang"):
            parse_lang(value)
        for value in query.all("tz"):
            parse_tz(value)
        for value in query.all("handsetid"):
            parse_handset_id(value)
        raw_lang = query.last("lang")
        if raw_lang is None:
            raw_lang = query.last("g_lang")
        lang = parse_lang(raw_lang)
        raw_tz = query.last("tz")
        tz = parse_tz(raw_tz)
        echo = [("mac", mac)]
        if raw_lang is not None and raw_lang.strip():
            echo.append(("lang", raw_lang.strip()))
        if raw_tz is not None and raw_tz.strip():
            echo.append(("tz", raw_tz.strip()))
        return cls(mac=mac, lang=lang, tz=tz, echo=tuple(echo))

    def local_date(self, now: datetime) -> date:
        """Today as the handset's clock shows it."""
        return (now + self.tz).date()

    def link(self, path: str, **extra: str) -> str:
        """A root-relative URL of another page, carrying the request's identification."""
        return f"{path}?{urlencode([*self.echo, *extra.items()])}"


_REPLACEMENTS = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ħ": "H",
    "ħ": "h",
    "ı": "i",
    "Œ": "OE",
    "œ": "oe",
    "‐": "-",
    "‑": "-",
    "–": "-",
    "—": "-",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "“": '"',
    "”": '"',
    "„": '"',
    "€": "EUR",
}


def latin1(text: str) -> str:
    """`text` with only characters the handset font has (ISO-8859-1); others become their base letter or '?'."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x80 or 0xA0 <= code <= 0xFF:
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 0x80 or 0xA0 <= ord(c) <= 0xFF)
            out.append(base if base and not unicodedata.combining(base[0]) else "?")
    return "".join(out)


def fit(text: str, limit: int) -> str:
    """Latin-1 text of at most `limit` characters, cut with '...' where longer."""
    shown = latin1(" ".join(text.split()))
    return shown if len(shown) <= limit else shown[: max(limit - 3, 1)].rstrip() + "..."


class Renderer:
    """The XHTML-GP templates of the information services, in English, German and Dutch."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader(PACKAGE, "templates"),
            autoescape=True,  # every template is XML
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["latin1"] = latin1
        self.env.filters["fit"] = fit

    def render(self, template: str, lang: str, **context: Any) -> bytes:
        translations = package_translations(PACKAGE, lang)
        context.setdefault("expires", None)
        text = self.env.get_template(template).render(
            lang=lang,
            _=translations.gettext,
            xml_declaration=XML_DECLARATION,
            doctype=DOCTYPE,
            namespace=XHTML_NAMESPACE,
            **context,
        )
        body = text.encode("utf-8")
        if len(body) > MAX_PAGE_BYTES:
            raise PageTooLargeError(f"{template} renders to {len(body)} bytes, more than {MAX_PAGE_BYTES}")
        return body
