from __future__ import annotations

import pytest

from privateline.edges.sip.core import (
    AbsoluteUri,
    Request,
    Response,
    SipParseError,
    is_keepalive,
    parse_message,
)
from privateline.edges.sip.core.parse import ParseLimits
from tests.edges.sip.core import torture as t

OPTIONS = "OPTIONS sip:someone@example.test SIP/2.0"


def refused(data: bytes, limits: ParseLimits | None = None) -> SipParseError:
    with pytest.raises(SipParseError) as caught:
        parse_message(data) if limits is None else parse_message(data, limits)
    return caught.value


def test_folded_lines_are_one_field_and_names_are_case_insensitive() -> None:
    """RFC 3261 §7.3.1: a fold is one SP; names compare case-insensitively; §7.3.3 compact forms."""
    msg = parse_message(t.request(OPTIONS, "x-folded: one,", "\t two", "   ", "  three", "SUBJECT: hi"))
    assert msg.headers.get("X-Folded") == "one, two three"
    assert msg.headers.get("s") == "hi" and msg.headers.get("subject") == "hi"
    assert "Subject" in [name for name, _ in msg.headers]


def test_without_content_length_a_datagram_body_runs_to_its_end() -> None:
    """RFC 3261 §18.3."""
    msg = parse_message(t.request(OPTIONS, body=b"the rest\r\n", length=False))
    assert msg.body == b"the rest\r\n" and msg.content_length is None


def test_leading_crlfs_are_skipped_and_keepalives_recognised() -> None:
    """§7.5; RFC 5626 keep-alives are only CRLFs."""
    assert isinstance(parse_message(b"\r\n\r\n" + t.LWSDISP), Request)
    assert is_keepalive(b"\r\n\r\n") and is_keepalive(b"\r\n")
    assert not is_keepalive(b"") and not is_keepalive(b"\r\n\r\nX") and not is_keepalive(b"\n")
    assert "empty" in refused(b"\r\n\r\n").reason
    assert refused(b"").partial is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (t.request(OPTIONS).replace(b"\r\n\r\n", b"\r\n"), "no empty line"),
        (t.request(OPTIONS).replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n"), "CRLF"),
        (t.request(OPTIONS).replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r \r\n"), "CRLF"),
        (t.request(OPTIONS).replace(b"Max-Forwards", b"Max Forwards"), "not a token"),
        (t.request(OPTIONS, "No colon here"), "colon"),
        (t.request(OPTIONS, "X-Control: a\x01b"), "control character"),
        (t.request(OPTIONS, 'X-Control: "a\\\x0cb" \x0c'), "control character"),
        (t.sip(OPTIONS, " continued before any field"), "continuation"),
        (t.request("OPTIONS sip:someone@example.test\tx SIP/2.0"), "Request-URI"),
        (t.request("OPTIONS sip:someone@example.test SIP/2"), "version"),
        (t.request("OPT@ONS sip:someone@example.test SIP/2.0"), "token"),
        (t.sip("SIP/2.0 099 Too Low", "Via: SIP/2.0/UDP h;branch=z9hG4bKx"), "status code"),
        (t.sip("SIP/2.0 700 Too High", "Via: SIP/2.0/UDP h;branch=z9hG4bKx"), "status code"),
        (t.sip("SIP/2.0  200 OK"), "status code"),
        (t.sip("SIP/2.0 200 O\x07K"), "reason phrase"),
        (t.sip("SIP/3.0 200 OK"), "Version Not Supported"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    error = refused(data)
    assert reason in error.reason and error.status in (400, 505)


def test_header_sections_that_are_not_utf8_are_refused() -> None:
    """§25.1: TEXT-UTF8."""
    assert "UTF-8" in refused(t.request(OPTIONS, "X-Name: caf").replace(b"caf", b"caf\xe9")).reason


def test_the_version_is_case_insensitive_and_normalised() -> None:
    msg = parse_message(t.request("OPTIONS sip:someone@example.test sip/2.0"))
    assert msg.version == "SIP/2.0"


def test_a_status_line_without_reason_phrase_is_tolerated() -> None:
    msg = parse_message(t.sip("SIP/2.0 180", "Via: SIP/2.0/UDP h;branch=z9hG4bKx"))
    assert isinstance(msg, Response) and (msg.status, msg.reason) == (180, "")


def test_a_tel_request_uri_is_an_absolute_uri() -> None:
    msg = parse_message(t.request("INVITE tel:+49-30-1234567 SIP/2.0"))
    assert isinstance(msg, Request) and isinstance(msg.uri, AbsoluteUri) and msg.uri.scheme == "tel"


def test_limits_refuse_with_513() -> None:
    """§21.4.11 Message Too Large."""
    small = ParseLimits(max_message_size=300, max_header_count=6, max_line_length=60)
    assert refused(t.request(OPTIONS, body=b"x" * 400), small).status == 513
    assert refused(t.request(OPTIONS), ParseLimits(max_header_count=4)).status == 513
    assert refused(t.request(OPTIONS, "X-Long: " + "a" * 100), ParseLimits(max_line_length=60)).status == 513
    folded = t.request(OPTIONS, "X-Long: " + "a" * 40, " " + "b" * 40)
    assert refused(folded, ParseLimits(max_line_length=60)).status == 513
    assert isinstance(parse_message(t.request(OPTIONS), ParseLimits(max_header_count=7)), Request)


def test_huge_numbers_are_refused_not_crashed_on() -> None:
    """int() refuses digit strings over 4300 digits; the parser must say 400, not raise ValueError."""
    wide = ParseLimits(max_line_length=6000)
    for field in ("Max-Forwards: " + "9" * 5000, "CSeq: " + "9" * 5000 + " OPTIONS"):
        assert refused(t.request(OPTIONS, field), wide).status == 400
    msg = parse_message(t.request(OPTIONS, "Max-Forwards: " + "0" * 5000 + "7", "Expires: 1" + "0" * 5000), wide)
    assert msg.max_forwards == 7
    with pytest.raises(SipParseError, match="out of range"):
        _ = msg.expires


def test_errors_after_the_header_section_carry_the_partial_message() -> None:
    error = refused(t.request("INVITE <sip:x@example.test> SIP/2.0"))
    assert error.partial is not None and error.partial.is_request and error.partial.method == "INVITE"
    assert error.partial.headers.get("Call-ID") == "default.a1b2@198.51.100.20"
    assert refused(t.request(OPTIONS, "No colon here")).partial is None
