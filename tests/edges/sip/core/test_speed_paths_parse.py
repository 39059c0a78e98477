"""The fast paths of the message layer give what the general code gives, on every input.

Each fast path takes only the plain shapes nearly every message has and hands anything else to
the general code (the scanner, the character loops).  These tests feed both the same inputs,
valid ones from `strategies` and their plain variants, and mutations of them (a character
inserted, deleted or replaced), and compare the outcomes: the same value, or the same error.
"""

from __future__ import annotations

import string
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core import address, auth, fields, grammar, parse, uri, via
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.grammar import Scanner
from privateline.edges.sip.core.headers import Headers, _key
from privateline.edges.sip.core.message import serialize
from privateline.edges.sip.core.parse import DEFAULT_LIMITS, ParseLimits

from .strategies import addresses, credentials, hosts, mutated, requests, responses, sip_uris, tokens, vias

Outcome = tuple[str, object]
# Generating whole messages is slow on a busy machine; the inputs matter, not the speed.
PATHS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(function: Callable[[], object]) -> Outcome:
    try:
        return "value", function()
    except SipParseError as error:
        return "error", (error.reason, error.status)


_plain_user = st.text(string.ascii_letters + string.digits + "-_.+", min_size=1, max_size=8)
_plain_param = st.tuples(tokens, st.none() | tokens).map(lambda p: p[0] if p[1] is None else f"{p[0]}={p[1]}")
_plain_params = st.lists(_plain_param, max_size=3).map(lambda items: "".join(f";{item}" for item in items))
_ipv4 = st.ip_addresses(v=4).map(str)
plain_uris = st.builds(
    lambda user, host, port, params: f"sip:{'' if user is None else user + '@'}{host}{port}{params}",
    st.none() | _plain_user,
    hosts | _ipv4,
    st.sampled_from(["", ":5060", ":0", ":65535", ":65536", ":050"]),
    _plain_params,
)
plain_addresses = st.builds(
    lambda display, target, params: f"{display}<{target}>{params}",
    st.sampled_from(["", '"Desk 12" ', "Desk  12 ", "Alice\t", '""', '"a\tb"']),
    plain_uris,
    _plain_params,
)
plain_vias = st.builds(
    lambda transport, host, port, params: f"SIP/2.0/{transport} {host}{port};branch=z9hG4bK{params}",
    st.sampled_from(["UDP", "tcp", "TLS"]),
    hosts | _ipv4,
    st.sampled_from(["", ":5060", ":99999", ":"]),
    _plain_params,
)


@PATHS
@given(st.one_of(hosts, _ipv4, mutated(hosts), mutated(_ipv4)))
def test_the_host_fast_path_accepts_only_hosts(host: str) -> None:
    if uri._PLAIN_HOST.fullmatch(host) is not None:
        assert uri._host_problem_general(host) is None


@PATHS
@given(st.one_of(sip_uris().map(str), plain_uris, mutated(plain_uris), mutated(sip_uris().map(str))))
def test_sip_uris_read_alike(text: str) -> None:
    rest = text.partition(":")[2]
    assert outcome(lambda: uri._parse_sip("sip", rest)) == outcome(lambda: uri._parse_sip_general("sip", rest))
    for scheme in ("sip", "SIPS", "sIp"):
        general = outcome(lambda: uri._parse_sip_general(scheme.lower(), rest))  # noqa: B023 (called at once)
        assert outcome(lambda: uri.parse_uri(f"{scheme}:{rest}")) == general  # noqa: B023


@PATHS
@given(st.one_of(_plain_params, mutated(_plain_params), st.text(";=ab \t\"'[]:", max_size=12)))
def test_parameters_read_alike(text: str) -> None:
    fast = grammar.plain_params_at(text, 0)
    if fast is not None:
        scanner = Scanner(text, "test")
        assert outcome(lambda: grammar._parse_params(scanner)) == ("value", fast)
        assert scanner.pos == len(text) or not text[scanner.pos :].strip(" \t")


@PATHS
@given(st.text(',<>"\\ab \t', max_size=14))
def test_lists_split_alike(text: str) -> None:
    if '"' not in text and text.strip(" \t"):
        assert outcome(lambda: grammar._split_unquoted(text, "test")) == outcome(
            lambda: grammar._split_quoted(text, "test")
        )


@PATHS
@given(st.one_of(vias().map(str), plain_vias, mutated(plain_vias), mutated(vias().map(str))))
def test_vias_read_alike(text: str) -> None:
    assert outcome(lambda: via._parse_via_parm(text)) == outcome(lambda: via._parse_via_scanned(text))


@PATHS
@given(
    st.one_of(addresses().map(str), plain_addresses, mutated(plain_addresses), mutated(addresses().map(str))),
    st.booleans(),
)
def test_addresses_read_alike(text: str, brackets: bool) -> None:
    assert outcome(lambda: address.parse_address(text, "To", brackets_required=brackets)) == outcome(
        lambda: address._parse_address_scanned(text, "To", brackets_required=brackets)
    )


@PATHS
@given(st.one_of(addresses().map(str), plain_addresses, mutated(plain_addresses), mutated(addresses().map(str))))
def test_a_plainly_valid_address_parses(text: str) -> None:
    """`check()` leaves a plainly valid From, To or Contact to be parsed when read: it must parse."""
    if address.plainly_valid_address(text):
        address.parse_address(text, "To", brackets_required=False)  # no SipParseError
        address.parse_address(text, "Route", brackets_required=True)
        items = grammar.split_list(text, "Contact")
        assert address.parse_contacts([text]) == tuple(address.parse_address(item, "Contact") for item in items)


@PATHS
@given(st.one_of(sip_uris().map(str), plain_uris, mutated(plain_uris)))
def test_a_plainly_valid_uri_parses(text: str) -> None:
    if uri.plainly_valid_sip_uri(text):
        uri.parse_uri(text)  # no SipParseError


plain_credentials = st.lists(
    st.tuples(tokens, st.one_of(tokens, st.text(string.ascii_letters + " :@/.=,", max_size=8).map(lambda v: f'"{v}"'))),
    min_size=1,
    max_size=5,
).map(lambda items: "Digest " + ", ".join(f"{name}={value}" for name, value in items))


@PATHS
@given(st.one_of(credentials.map(str), plain_credentials, mutated(plain_credentials)))
def test_credentials_read_alike(text: str) -> None:
    assert outcome(lambda: auth._parse(text, "Authorization")) == outcome(
        lambda: auth._parse_scanned(text, "Authorization")
    )


@PATHS
@given(mutated(st.builds(lambda n, m: f"{n} {m}", st.integers(0, 2**32).map(str), tokens)))
def test_cseqs_read_alike(text: str) -> None:
    assert outcome(lambda: fields.parse_cseq(text)) == outcome(lambda: fields._parse_cseq_scanned(text))


def _section(message_bytes: bytes) -> bytes:
    return message_bytes.split(b"\r\n\r\n", 1)[0]


@st.composite
def sections(draw: st.DrawFn) -> bytes:
    message = draw(st.one_of(requests(), responses()))
    section = _section(serialize(message, compact=draw(st.booleans())))
    if draw(st.booleans()):
        text = section.decode("utf-8")
        for _ in range(draw(st.integers(1, 2))):
            at = draw(st.integers(0, len(text)))
            insert = draw(st.sampled_from(["\r\n", "\r\n ", " ", "\t", "\r", "\n", ":", "\x01", "\r\nX:", " \r\n"]))
            text = text[:at] + insert + text[at:]
        section = text.encode("utf-8")
    return section


@PATHS
@given(sections(), st.sampled_from([DEFAULT_LIMITS, ParseLimits(max_header_count=4, max_line_length=60)]))
def test_header_sections_read_alike(section: bytes, limits: ParseLimits) -> None:
    text = section.decode("utf-8")
    fast = parse._read_plain_head(text, limits)
    if fast is not None:
        general = parse._read_head(text, limits)
        assert (fast.start_line, fast.headers.fields) == (general.start_line, general.headers.fields)


_names = st.sampled_from(["Via", "v", "VIA", "To", "t", "Contact", "m", "X-Foo", "x-foo", "CSeq", "cseq", "Route"])


@PATHS
@given(st.lists(st.tuples(_names, st.sampled_from(["a", "b", ""])), max_size=8), _names)
def test_the_header_index_answers_as_a_scan_would(items: list[tuple[str, str]], name: str) -> None:
    headers = Headers(items)
    scanned = tuple(value for field, value in headers.fields if _key(field) == _key(name))
    assert headers.get_all(name) == scanned
    assert headers.get(name) == (scanned[0] if scanned else None)
    assert headers.count(name) == len(scanned)
    assert (name in headers) == bool(scanned)
    repeated = [n for n in ("Via", "To", "Contact", "X-Foo") if headers.count(n) > 1]
    assert headers.first_repeated(("Via", "To", "Contact", "X-Foo")) == (repeated[0] if repeated else None)
