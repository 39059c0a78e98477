from __future__ import annotations

import pytest

from privateline.edges.sip.core import (
    Ping,
    Pong,
    Received,
    Rejected,
    Request,
    SipParseError,
    StreamFramer,
    parse_message,
)
from privateline.edges.sip.core.framer import Event
from privateline.edges.sip.core.parse import ParseLimits
from tests.edges.sip.core import torture as t

OPTIONS = t.request("OPTIONS sip:someone@example.test SIP/2.0", tail=("Call-ID: first@x",))
REGISTER = t.request("REGISTER sip:example.test SIP/2.0", tail=("Call-ID: second@x",))
INVITE = t.request("INVITE sip:someone@example.test SIP/2.0", "Content-Type: application/sdp", body=t.SDP)


def drain(framer: StreamFramer) -> list[Event]:
    events = []
    while (event := framer.next_event()) is not None:
        events.append(event)
    return events


def fed(data: bytes, *, chunk: int | None = None, expect_pongs: bool = False) -> list[Event]:
    framer = StreamFramer(expect_pongs=expect_pongs)
    size = chunk or len(data) or 1
    events: list[Event] = []
    for start in range(0, len(data), size):
        framer.feed(data[start : start + size])
        events += drain(framer)
    return events


def test_several_messages_in_one_read() -> None:
    events = fed(OPTIONS + REGISTER + INVITE)
    assert events == [Received(parse_message(m)) for m in (OPTIONS, REGISTER, INVITE)]


def test_a_message_split_byte_by_byte() -> None:
    framer = StreamFramer()
    for index in range(len(INVITE) - 1):
        framer.feed(INVITE[index : index + 1])
        assert framer.next_event() is None
        assert framer.in_message
    framer.feed(INVITE[-1:])
    assert framer.next_event() == Received(parse_message(INVITE))
    assert not framer.in_message
    assert framer.next_event() is None


def test_keepalive_pings_between_messages_rfc5626() -> None:
    """RFC 5626 §4.4.1: CRLFCRLF is a ping (answer CRLF), even when it arrives byte by byte."""
    data = b"\r\n\r\n" + OPTIONS + b"\r\n\r\n\r\n\r\n" + REGISTER
    expected = [Ping(), Received(parse_message(OPTIONS)), Ping(), Ping(), Received(parse_message(REGISTER))]
    assert fed(data) == expected
    assert fed(data, chunk=1) == expected


def test_a_single_crlf_is_a_pong_or_stray_and_is_skipped() -> None:
    """§7.5: CRLF before a start line is ignored; it is reported as a Pong (RFC 5626 §4.4.1)."""
    assert fed(b"\r\n" + OPTIONS) == [Pong(), Received(parse_message(OPTIONS))]


def test_a_lone_crlf_waits_for_more_unless_pongs_are_expected() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_event() is None
    assert not framer.in_message
    framer.feed(b"\r\n")
    assert framer.next_event() == Ping()
    assert fed(b"\r\n", expect_pongs=True) == [Pong()]


def test_a_body_split_across_reads() -> None:
    head_end = INVITE.index(b"\r\n\r\n") + 4
    framer = StreamFramer()
    framer.feed(INVITE[: head_end + 10])
    assert framer.next_event() is None and framer.in_message
    framer.feed(INVITE[head_end + 10 : -5])
    assert framer.next_event() is None
    framer.feed(INVITE[-5:] + OPTIONS[:7])
    event = framer.next_event()
    assert isinstance(event, Received) and event.message.body == t.SDP
    framer.feed(OPTIONS[7:])
    assert framer.next_event() == Received(parse_message(OPTIONS))


def test_a_too_large_content_length_is_refused_before_the_body() -> None:
    big = t.request("INVITE sip:someone@example.test SIP/2.0", "Content-Length: 70000", length=False)
    framer = StreamFramer()
    framer.feed(big)
    with pytest.raises(SipParseError) as caught:
        framer.next_event()
    assert caught.value.fatal and caught.value.status == 513
    framer.feed(OPTIONS)  # the stream is dead: the error stays
    with pytest.raises(SipParseError):
        framer.next_event()


def test_a_missing_content_length_on_a_stream_is_fatal() -> None:
    """RFC 3261 §18.3: Content-Length MUST be used on streams; without it framing is lost."""
    framer = StreamFramer()
    framer.feed(t.request("OPTIONS sip:someone@example.test SIP/2.0", length=False))
    with pytest.raises(SipParseError, match="Content-Length") as caught:
        framer.next_event()
    assert caught.value.fatal


def test_a_malformed_message_with_intact_framing_is_rejected_and_the_stream_goes_on() -> None:
    events = fed(t.MISMATCH01 + t.BADVERS + OPTIONS)
    assert [type(e) for e in events] == [Rejected, Rejected, Received]
    first, second = events[0], events[1]
    assert isinstance(first, Rejected) and not first.error.fatal and first.error.partial is not None
    assert isinstance(second, Rejected) and second.error.status == 505


def test_an_endless_header_section_is_refused() -> None:
    framer = StreamFramer(ParseLimits(max_message_size=1000))
    framer.feed(b"OPTIONS sip:x@example.test SIP/2.0\r\n")
    for _ in range(100):
        framer.feed(b"X-Filler: aaaaaaaaaa\r\n")
    with pytest.raises(SipParseError) as caught:
        framer.next_event()
    assert caught.value.status == 513


def test_an_endless_line_is_refused() -> None:
    framer = StreamFramer(ParseLimits(max_line_length=100))
    framer.feed(b"OPTIONS sip:x@example.test SIP/2.0\r\nX-Long: " + b"a" * 500)
    with pytest.raises(SipParseError, match="line too long"):
        framer.next_event()


def test_garbage_between_messages_is_fatal() -> None:
    framer = StreamFramer()
    framer.feed(OPTIONS + b"\x00\x01garbage\r\n\r\n")
    assert isinstance(framer.next_event(), Received)
    with pytest.raises(SipParseError) as caught:
        framer.next_event()
    assert caught.value.fatal


def test_the_message_of_a_received_event_is_typed() -> None:
    (event,) = fed(REGISTER)
    assert isinstance(event, Received) and isinstance(event.message, Request)
    assert event.message.call_id == "second@x"
