"""Hypothesis strategies for valid SIP values and messages (RFC 3261 §25 grammar)."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from privateline.edges.sip.core import (
    AbsoluteUri,
    Address,
    Challenge,
    Credentials,
    CSeq,
    Headers,
    MediaType,
    Param,
    Params,
    Request,
    Response,
    SipUri,
    Uri,
    Via,
)

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-.!%*_+`'~"
WORD_ALPHABET = TOKEN_ALPHABET + '()<>:\\"/[]?{}'
URIC_ALPHABET = string.ascii_letters + string.digits + "-_.!~*'();/?:@&=+$,"

tokens = st.text(TOKEN_ALPHABET, min_size=1, max_size=10)
# Any text at all (no surrogates), for what a URI escapes.
anything = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)
# Text that fits on one line: a quoted string, a display name.
one_line = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
# Text a header value may hold as is: no control characters but HTAB.
field_text = st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t"), max_size=30).map(
    lambda text: text.strip(" \t")
)

_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
_toplabel = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
hostnames = st.builds(
    lambda labels, top, dot: ".".join([*labels, top]) + ("." if dot else ""),
    st.lists(_label, max_size=3),
    _toplabel,
    st.booleans(),
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
hosts = st.one_of(hostnames, ipv4, ipv6.map(lambda address: f"[{address}]"))
ports = st.none() | st.integers(0, 65535)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    user = draw(st.none() | anything)
    password = draw(st.none() | st.text(st.characters(codec="utf-8"), max_size=6)) if user else None
    params = draw(st.lists(st.tuples(anything, st.none() | anything), max_size=3, unique_by=lambda p: p[0].lower()))
    headers = draw(st.lists(st.tuples(anything, st.text(max_size=6)), max_size=2))
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password,
        host=draw(hosts),
        port=draw(ports),
        params=tuple(params),
        headers=tuple(headers),
    )


absolute_uris = st.builds(
    AbsoluteUri,
    st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,6}", fullmatch=True).filter(lambda s: s.lower() not in ("sip", "sips")),
    st.text(URIC_ALPHABET, min_size=1, max_size=20),
)
uris: st.SearchStrategy[Uri] = st.one_of(sip_uris(), absolute_uris)

_RESERVED = {"tag", "q", "expires", "branch", "ttl", "rport", "maddr", "received"}
param_values = st.one_of(
    st.none().map(lambda _: (None, False)),
    st.one_of(tokens, hosts).map(lambda value: (value, False)),
    one_line.map(lambda value: (value, True)),
)


@st.composite
def params(draw: st.DrawFn, *, extra: tuple[Param, ...] = ()) -> Params:
    taken = {p.name.lower() for p in extra} | _RESERVED
    names = draw(st.lists(tokens.filter(lambda n: n.lower() not in taken), max_size=3, unique_by=str.lower))
    items = [Param(name, *draw(param_values)) for name in names]
    return Params((*extra, *items))


@st.composite
def addresses(draw: st.DrawFn, *, tag: bool | None = None) -> Address:
    with_tag = draw(st.booleans()) if tag is None else tag
    extra = (Param("tag", draw(tokens)),) if with_tag else ()
    return Address(draw(uris), draw(st.none() | one_line), draw(params(extra=extra)))


@st.composite
def vias(draw: st.DrawFn) -> Via:
    extra: list[Param] = [Param("branch", "z9hG4bK" + draw(tokens))]
    if draw(st.booleans()):
        extra.append(Param("received", draw(st.one_of(ipv4, ipv6))))
    if draw(st.booleans()):
        extra.append(Param("rport", draw(st.none() | st.integers(0, 65535).map(str))))
    if draw(st.booleans()):
        extra.append(Param("maddr", draw(hosts)))
    if draw(st.booleans()):
        extra.append(Param("ttl", str(draw(st.integers(0, 255)))))
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]) | tokens.map(str.upper))
    return Via(draw(hosts), draw(ports), transport, draw(params(extra=tuple(extra))))


call_ids = st.builds(
    lambda left, right: left if right is None else f"{left}@{right}",
    st.text(WORD_ALPHABET, min_size=1, max_size=16),
    st.none() | st.text(WORD_ALPHABET, min_size=1, max_size=16),
)
media_types = st.builds(MediaType, tokens, tokens, params())

_auth_value = st.one_of(tokens.map(lambda v: (v, False)), one_line.map(lambda v: (v, True)))


@st.composite
def auth_params(draw: st.DrawFn) -> Params:
    names = draw(st.lists(tokens, min_size=1, max_size=4, unique_by=str.lower))
    return Params(tuple(Param(name, *draw(_auth_value)) for name in names))


credentials = st.builds(Credentials, tokens, auth_params())
challenges = st.builds(Challenge, tokens, auth_params())


@st.composite
def _fields(draw: st.DrawFn, method: str) -> list[tuple[str, str]]:
    via_values = draw(st.lists(vias(), min_size=1, max_size=3))
    split = draw(st.integers(1, len(via_values)))
    fields = [("Via", ", ".join(map(str, via_values[:split])))]
    if via_values[split:]:
        fields.append(("v", ", ".join(map(str, via_values[split:]))))
    fields += [
        ("From", str(draw(addresses(tag=True)))),
        (draw(st.sampled_from(["To", "t", "TO"])), str(draw(addresses()))),
        (draw(st.sampled_from(["Call-ID", "i", "call-id"])), draw(call_ids)),
        ("CSeq", str(CSeq(draw(st.integers(0, 2**31 - 1)), method))),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
    ]
    contact = draw(st.lists(addresses(tag=False), max_size=2))
    if contact:
        fields.append(("Contact", ", ".join(map(str, contact))))
    for _ in range(draw(st.integers(0, 3))):
        fields.append((f"X-{draw(tokens)}", draw(field_text)))
    shuffled = draw(st.permutations(fields))
    return list(shuffled)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE", "ACK"]) | tokens)
    uri = draw(sip_uris().map(SipUri.without_headers) | absolute_uris)
    body = draw(st.binary(max_size=64))
    fields = [*draw(_fields(method)), ("Content-Length", str(len(body)))]
    return Request(method, uri, Headers(fields), body)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    method = draw(tokens)
    body = draw(st.binary(max_size=64))
    fields = [*draw(_fields(method)), ("l", str(len(body)))]
    reason = draw(st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20))
    return Response(draw(st.integers(100, 699)), reason, Headers(fields), body)


# Inputs: a text, or a text with one character inserted, deleted or replaced, from an
# alphabet of the characters that matter to the grammars (and a few that never may appear).
_SPECIAL = ' \t;:=,@<>"\\/?%[]&.-!+_x0Z9\x00\x7f\u00e9'


@st.composite
def mutated(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    text = draw(texts)
    for _ in range(draw(st.integers(0, 2))):
        if not text:
            break
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(_SPECIAL))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        if kind == "insert":
            text = text[:at] + char + text[at:]
        elif kind == "delete" or at == len(text):
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text
