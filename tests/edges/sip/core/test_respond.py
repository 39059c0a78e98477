from __future__ import annotations

from privateline.edges.sip.core import (
    Headers,
    PartialMessage,
    Request,
    Response,
    SipParseError,
    SipUri,
    answer_error,
    parse_message,
    reason_phrase,
    response_to,
    serialize,
)
from privateline.edges.sip.core.respond import REASON_PHRASES
from tests.edges.sip.core import torture as t

INVITE = t.request(
    "INVITE sip:someone@example.test SIP/2.0",
    "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKa, SIP/2.0/UDP 198.51.100.2;branch=z9hG4bKb",
    "Via: SIP/2.0/TCP 198.51.100.3;branch=z9hG4bKc",
    "Timestamp: 54.3",
    "Subject: not copied",
)


def invite() -> Request:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    return message


def test_a_response_copies_via_from_to_call_id_cseq_and_tags_to() -> None:
    """RFC 3261 §8.2.6.2."""
    ok = response_to(invite(), 200, to_tag="uas1", headers=[("Contact", "<sip:uas@example.test>")])
    assert (ok.status, ok.reason) == (200, "OK")
    assert [name for name, _ in ok.headers] == ["Via", "Via", "To", "From", "Call-ID", "CSeq", "Contact"]
    assert ok.headers.get_all("Via") == invite().headers.get_all("Via")
    assert ok.to is not None and ok.to.tag == "uas1"
    assert ok.from_ == invite().from_ and ok.cseq == invite().cseq


def test_a_100_has_no_to_tag_but_copies_timestamp() -> None:
    """§8.2.6.1, §8.2.6.2."""
    trying = response_to(invite(), 100, to_tag="uas1")
    assert trying.to is not None and trying.to.tag is None and trying.headers.get("Timestamp") == "54.3"
    assert "Timestamp" not in response_to(invite(), 180, to_tag="x").headers


def test_an_existing_to_tag_is_kept() -> None:
    tagged = parse_message(t.request("BYE sip:x@example.test SIP/2.0", "To: <sip:x@example.test>;tag=mine"))
    assert isinstance(tagged, Request)
    assert response_to(tagged, 200, to_tag="other").headers.get("To") == "<sip:x@example.test>;tag=mine"


def test_answer_error_for_requests_only() -> None:
    headers = invite().headers
    answer = answer_error(
        SipParseError("Malformed Contact: x", partial=PartialMessage("INVITE sip:x SIP/2.0", headers))
    )
    assert answer is not None and (answer.status, answer.reason) == (400, "Malformed Contact: x")
    assert answer_error(SipParseError("x")) is None
    assert answer_error(SipParseError("x", partial=PartialMessage("ACK sip:x SIP/2.0", headers))) is None
    assert answer_error(SipParseError("x", partial=PartialMessage("SIP/2.0 200 OK", headers))) is None
    broken_to = Headers([("To", '"unterminated <sip:x>')])
    answer = answer_error(SipParseError("x", partial=PartialMessage("INVITE x", broken_to)), to_tag="t")
    assert answer is not None and answer.headers.get("To") == '"unterminated <sip:x>'


def test_serialize_always_writes_the_right_content_length() -> None:
    """§18.3, §20.14: replaced in place, duplicates dropped, appended when absent."""
    uri = SipUri(host="example.test")
    wrong = Request("OPTIONS", uri, Headers([("l", "99"), ("To", "<sip:x@y>"), ("Content-Length", "3")]), b"abcd")
    assert serialize(wrong) == b"OPTIONS sip:example.test SIP/2.0\r\nContent-Length: 4\r\nTo: <sip:x@y>\r\n\r\nabcd"
    bare = Response(200, "OK", Headers([("Subject", ""), ("Call-ID", "c")]))
    assert serialize(bare, compact=True) == b"SIP/2.0 200 OK\r\ns:\r\ni: c\r\nl: 0\r\n\r\n"


def test_reason_phrases() -> None:
    """§21: the table; an unknown code takes its class's x00 phrase (§8.1.3.2)."""
    assert (
        reason_phrase(200) == "OK"
        and reason_phrase(430) == "Flow Failed"
        and reason_phrase(423) == "Interval Too Brief"
    )
    assert reason_phrase(499) == "Bad Request" and reason_phrase(299) == "OK"
    assert all(100 <= code <= 699 and phrase for code, phrase in REASON_PHRASES.items())
