"""Fuzzing: whatever bytes arrive, only SipParseError escapes, from `parse_message`, from the
typed fields of what it accepts, and from `StreamFramer` fed in chunks of any size."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core import (
    Message,
    Request,
    Response,
    SipParseError,
    StreamFramer,
    Wildcard,
    answer_error,
    parse_message,
    parse_uri,
    response_to,
    serialize,
)
from privateline.edges.sip.core.address import parse_address
from privateline.edges.sip.core.auth import parse_challenge, parse_credentials
from privateline.edges.sip.core.fields import parse_media_type
from privateline.edges.sip.core.parse import ParseLimits
from privateline.edges.sip.core.via import parse_via
from tests.edges.sip.core import strategies as s
from tests.edges.sip.core import torture, torture_semantics

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each example frames up to four messages in up to a dozen chunks: fewer examples, same reach.
FRAMES = settings(FUZZ, max_examples=100)
SEEDS = [*torture.VALID.values(), *torture.INVALID.values(), *torture.ACCEPTED.values()]
SEEDS += torture_semantics.SEMANTIC.values()

# Fields `parse_message` has checked: reading them never fails.
CHECKED = (
    "vias",
    "from_",
    "to",
    "call_id",
    "cseq",
    "max_forwards",
    "content_length",
    "contact",
    "route",
    "record_route",
)
# Fields read on demand: they may refuse their value, with SipParseError only.
ON_DEMAND = (
    "path", "content_type", "expires", "min_expires", "authorization", "proxy_authorization",
    "www_authenticate", "proxy_authenticate", "user_agent", "server", "allow", "supported", "require",
    "proxy_require", "unsupported", "accept", "date",
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed (a torture message or a generated one) with a few byte flips, cuts and insertions."""
    generated = st.one_of(s.requests(), s.responses()).map(serialize)
    data = bytearray(draw(st.sampled_from(SEEDS) | generated))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete", "crlf"]))
        if action == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[where : where + draw(st.integers(1, 16))]
        else:
            data[where:where] = draw(st.sampled_from([b"\r\n", b"\r\n ", b"\r", b"\n", b",", b";", b'"', b"<"]))
    return bytes(data)


_NOISE = st.text(s.TOKEN_ALPHABET + ' <>"\\;:,=?@[]/\t%é', max_size=30) | st.text(max_size=4)
_FRAGMENTS = {
    "Via": ["SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx", "SIP / 2.0 / TCP [::1]:5060", ""],
    "From": ['"A" <sip:a@example.test>;tag=1', "sip:a@example.test;tag=", "<sip:a@[::1]:5060;lr>", ""],
    "To": ["<sip:b@example.test>", "b <tel:+1234>", "sip:b@example.test"],
    "Call-ID": ["x@y", "abc"],
    "CSeq": ["1 INVITE", "2 OPTIONS", "007 "],
    "Max-Forwards": ["70", "0"],
    "Contact": ["*", "<sip:c@example.test>;expires=60;q=0.5", "sip:c@h, <sip:d@h>"],
    "Route": ["<sip:p@example.test;lr>", "<sip:p>"],
    "Content-Type": ["application/sdp", "multipart/mixed;boundary="],
    "Expires": ["3600", "99999999999"],
    "Authorization": ['Digest username="a", realm="r", nonce="n"', "Digest "],
    "WWW-Authenticate": ['Digest realm="r", nonce="n", qop="auth"', "Basic "],
    "Require": ["100rel", "a, b"],
    "Accept": ["application/sdp", ""],
    "Date": ["Mon, 01 Jan 2024 00:00:00 GMT", "Mon, "],
    "X-Other": ["", "x"],
}


@st.composite
def sip_shaped(draw: st.DrawFn) -> bytes:
    """A start line and fields, each value a plausible start and then noise: input that reaches the
    field parsers rather than stopping at the first line."""
    start = draw(st.sampled_from(["INVITE sip:a@example.test SIP/2.0", "SIP/2.0 200 OK", "ACK sip:x SIP/2.0"]))
    lines = []
    for name in draw(st.lists(st.sampled_from(sorted(_FRAGMENTS)), max_size=12, unique=True)):
        noise = draw(st.sampled_from(["", "", ";", ",", " "]) | _NOISE)
        lines.append(f"{name}: {draw(st.sampled_from(_FRAGMENTS[name]))}{noise}")
    body = draw(st.binary(max_size=20))
    return ("\r\n".join([start, *lines]) + "\r\n\r\n").encode() + body


def parsed_or_refused(data: bytes) -> Message | SipParseError:
    try:
        return parse_message(data)
    except SipParseError as error:
        return error


def exercise(data: bytes) -> None:
    """Parse; if accepted, read every field, answer it, and check it writes back the same."""
    message = parsed_or_refused(data)
    if isinstance(message, SipParseError):
        # The reason goes on a status line: short, ASCII, no line breaks.
        assert message.reason and message.reason.isascii() and "\r" not in message.reason and "\n" not in message.reason
        answer_error(message, to_tag="fz")
        return
    for name in CHECKED:
        getattr(message, name)
    for name in ON_DEMAND:
        with suppress(SipParseError):
            getattr(message, name)
    if not isinstance(message.contact, Wildcard):
        for contact in message.contact:
            for name in ("q", "expires"):
                with suppress(SipParseError):
                    getattr(contact, name)
    if isinstance(message, Request):
        response_to(message, 200, to_tag="fz")
    again = parse_message(serialize(message), ParseLimits(max_message_size=2**20))
    assert without_length(again) == without_length(message)


def without_length(message: Request | Response) -> Request | Response:
    return replace(message, headers=message.headers.remove("Content-Length"))


def frame(data: bytes, chunks: list[int]) -> None:
    framer = StreamFramer(expect_pongs=len(chunks) % 2 == 0)
    position = 0
    for size in [*chunks, len(data)]:
        framer.feed(data[position : position + size])
        position += size
        fatal: SipParseError | None = None
        try:
            while framer.next_event() is not None:
                pass
        except SipParseError as error:
            fatal = error
        if fatal is not None:
            assert fatal.fatal
            return


@FUZZ
@given(st.binary(max_size=600) | sip_shaped())
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    exercise(data)


@FUZZ
@given(mutated())
def test_mutated_messages_only_raise_sip_parse_error(data: bytes) -> None:
    exercise(data)


@FRAMES
@given(st.lists(mutated() | st.sampled_from([b"\r\n", b"\r\n\r\n"]), min_size=1, max_size=4), st.data())
def test_the_stream_framer_only_raises_sip_parse_error(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    chunks = data.draw(st.lists(st.integers(1, max(1, len(stream))), max_size=12))
    frame(stream, chunks)


@FUZZ
@given(st.text(s.TOKEN_ALPHABET + '<>"\\;:,=?@[]/ \t%\x00é', max_size=60))
def test_the_field_parsers_only_raise_sip_parse_error(text: str) -> None:
    for parse in (
        parse_uri,
        lambda v: parse_address(v, "To"),
        parse_via,
        parse_credentials,
        parse_challenge,
        parse_media_type,
    ):
        with suppress(SipParseError):
            parse(text)
