"""RFC 4475 torture cases: each message (see torture.py) judged as the RFC's section says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from privateline.edges.sip.core import (
    AbsoluteUri,
    Address,
    Request,
    Response,
    SipParseError,
    SipUri,
    StreamFramer,
    Wildcard,
    answer_error,
    parse_message,
)
from privateline.edges.sip.core.framer import Received
from tests.edges.sip.core import torture as t
from tests.edges.sip.core import torture_semantics as ts


def request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def response(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def rejected(data: bytes, *, status: int = 400, answerable: bool = True) -> SipParseError:
    """The message is refused with a reason; a request can still be answered from its partial fields."""
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    error = caught.value
    assert error.reason
    assert error.status == status
    answer = answer_error(error, to_tag="t0")
    if answerable:
        assert answer is not None and answer.status == status and answer.reason == error.reason
        assert answer.headers.get("Call-ID") is not None
    else:
        assert answer is None
    return error


def address(value: Address | None) -> Address:
    assert value is not None
    return value


def contacts(message: Request) -> tuple[Address, ...]:
    value = message.contact
    assert not isinstance(value, Wildcard)
    return value


def sip_uri(value: object) -> SipUri:
    assert isinstance(value, SipUri)
    return value


# --- §3.1.1 valid messages -------------------------------------------------------------


def test_wsinv_short_tortuous_invite() -> None:
    """§3.1.1.1: whitespace, case, folding, compact forms and escapes are all read as meant."""
    msg = request(t.WSINV)
    assert msg.method == "INVITE"
    assert sip_uri(msg.uri).has_param("oddparam")
    to = address(msg.to)
    assert sip_uri(to.uri).user == "carol" and to.tag == "8a7b6c"
    sender = address(msg.from_)
    assert sender.display_name == 'Dan "the" \\ Man' and sender.tag == "55xk1"
    assert msg.max_forwards == 42
    assert msg.cseq is not None and (msg.cseq.number, msg.cseq.method) == (17, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("TCP", "198.51.100.7", "z9hG4bKwsinv1"),
        ("UDP", "relay.example.test", "z9hG4bKrelay7"),
        ("TCP", "203.0.113.9", "z9hG4bKinner3"),
    ]
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("X-Folded-Thing") == "first part second part"
    assert msg.headers.get("X-Weird-Value") == ";;,,;,;"
    assert msg.content_type is not None and msg.content_type.mime == "application/sdp"
    (route,) = msg.route
    route_uri = sip_uri(route.uri)
    assert route_uri.lr and route_uri.param("flavour") == "mint" and route_uri.has_param("flagged")
    (contact,) = contacts(msg)
    assert contact.display_name == 'Quoted "name" here'
    assert contact.params.get("extra") == "thing" and "bare" in contact.params and contact.q == 0.7
    assert msg.body == t.SDP
    assert msg.missing_mandatory() == ()


def test_intmeth_wide_range_of_valid_characters() -> None:
    """§3.1.1.2: every character the grammar allows in tokens, user, password and words."""
    msg = request(t.INTMETH)
    assert msg.method == t.INTMETH_METHOD
    uri = sip_uri(msg.uri)
    assert (uri.user, uri.password, uri.host) == (t.INTMETH_USER, t.INTMETH_PASSWORD, "example.test")
    assert msg.cseq is not None and msg.cseq.method == t.INTMETH_METHOD
    assert msg.top_via is not None and msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert address(msg.to).display_name == "bell\x07 null\x00 delete\x7f"
    sender = address(msg.from_)
    assert sender.display_name == "tok1~` tok2'+_ tok3*%!.-"
    assert sender.params.get("odd''~+*_!.-%") == "привет мир"
    assert sender.tag == "_t~1'+`*%!-."
    assert msg.call_id == t.INTMETH_CALL_ID
    assert msg.max_forwards == 255
    assert msg.headers.get("x-ext-!.%*+_`'~") == "\ufeff東京の夜"


def test_esc01_valid_use_of_percent_escaping() -> None:
    """§3.1.1.3: escapes in user parts and URI parameters decode; the URI writes them back."""
    msg = request(t.ESC01)
    uri = sip_uri(msg.uri)
    assert (uri.user, uri.host) == ("sips:alice@example.test", "example.net")
    assert str(uri) == "sip:sips%3Aalice%40example.test@example.net"
    assert sip_uri(address(msg.to).uri).user == "bob"
    assert sip_uri(address(msg.from_).uri).user == "I am spacey"
    (contact,) = contacts(msg)
    contact_uri = sip_uri(contact.uri)
    assert contact_uri.user == "caller"
    assert contact_uri.lr
    assert contact_uri.param("flavour") == "vanilla%25"


def test_escnull_escaped_nulls_in_uris() -> None:
    """§3.1.1.4: %00 is a NUL in the user part; two Contacts differing only in NULs are distinct."""
    msg = request(t.ESCNULL)
    assert sip_uri(address(msg.to).uri).user == "nul-\x00-nul"
    users = [sip_uri(c.uri).user for c in contacts(msg)]
    assert users == ["\x00", "\x00\x00"]


def test_esc02_percent_that_is_not_an_escape() -> None:
    """§3.1.1.5: '%' in a method, display name, branch or field name is a plain character: the
    method is unknown (a UAS answers 501) and C%6Fntact is an unknown field, not a Contact."""
    msg = request(t.ESC02)
    assert msg.method == "RE%47IST%45R" and msg.method != "REGISTER"
    assert msg.cseq is not None and msg.cseq.method == "RE%47IST%45R"
    assert address(msg.to).display_name == "%Z%45"
    assert msg.top_via is not None and msg.top_via.branch == "z9hG4bK77%fq"
    assert len(contacts(msg)) == 2
    assert msg.headers.get("C%6Fntact") == "<sip:two@h2.example.test>"


def test_lwsdisp_no_whitespace_between_display_name_and_bracket() -> None:
    """§3.1.1.6: `caller<sip:...>` is a display name followed by a name-addr."""
    sender = address(request(t.LWSDISP).from_)
    assert sender.display_name == "caller"
    assert sip_uri(sender.uri).user == "caller" and sender.tag == "77"


def test_longreq_long_values_in_header_fields() -> None:
    """§3.1.1.7: long values, and Via fields under every spelling of their name."""
    msg = request(t.LONGREQ)
    to = address(msg.to)
    assert to.display_name == t.LONG_DISPLAY
    assert sip_uri(to.uri).port == 7000
    assert address(msg.from_).tag == t.LONG_TAG
    assert msg.call_id == t.LONG_CALL_ID
    assert len(msg.vias) == 40
    assert msg.vias[-1].branch == t.LONG_BRANCH and msg.vias[-1].received == "192.0.2.5"
    assert sip_uri(contacts(msg)[0].uri).user == t.LONG_USER
    assert msg.body == t.SDP


def test_dblreq_extra_trailing_octets_in_a_datagram() -> None:
    """§3.1.1.8: the datagram holds one REGISTER; the octets after its Content-Length are discarded."""
    msg = request(t.DBLREQ)
    assert msg.method == "REGISTER" and msg.body == b""
    assert msg.call_id == "dblreq.first@198.51.100.9"
    assert msg == parse_message(t.DBLREQ_FIRST)
    assert sip_uri(contacts(msg)[0].uri).user == "j.doe"


def test_semiuri_semicolons_in_the_user_part() -> None:
    """§3.1.1.9: the user part is `user;par=u@example.test`; the URI has no parameters."""
    msg = request(t.SEMIURI)
    uri = sip_uri(msg.uri)
    assert (uri.user, uri.host, uri.params) == ("user;par=u@example.test", "example.com", ())
    assert msg.accept is not None
    assert [m.mime for m in msg.accept] == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def test_transports_varied_and_unknown() -> None:
    """§3.1.1.10: any transport token is accepted (and compared case-insensitively)."""
    msg = request(t.TRANSPORTS)
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "NOSUCHTHING", "TCP"]
    assert msg.call_id == "transports.q8w7"


def test_mpart01_multipart_body_with_binary_octets() -> None:
    """§3.1.1.11: the body is exactly Content-Length octets, binary included."""
    msg = request(t.MPART01)
    assert msg.body == t.MPART_BODY and t.MPART_BINARY in msg.body
    assert msg.content_type is not None
    assert msg.content_type.mime == "multipart/mixed" and msg.content_type.params.get("boundary") == "boundary42"


def test_unreason_unusual_reason_phrase() -> None:
    """§3.1.1.12: a UTF-8 reason phrase is kept as sent."""
    msg = response(t.UNREASON)
    assert (msg.status, msg.reason) == (200, t.UNREASON_PHRASE)
    assert msg.body == t.SDP


def test_noreason_empty_reason_phrase() -> None:
    """§3.1.1.13: an empty reason phrase is valid."""
    msg = response(t.NOREASON)
    assert (msg.status, msg.reason) == (100, "")


def test_the_valid_messages_frame_the_same_on_a_stream() -> None:
    """The same messages fed byte by byte to a StreamFramer come out equal."""
    for name, data in t.VALID.items():
        framer = StreamFramer()
        events = []
        for index in range(len(data)):
            framer.feed(data[index : index + 1])
            while (event := framer.next_event()) is not None:
                events.append(event)
        assert events == [Received(parse_message(data))], name


# --- §3.1.2 invalid messages -----------------------------------------------------------


def test_badinv01_extraneous_header_field_separators() -> None:
    """§3.1.2.1: empty Via parameters or list elements, and empty Contact parameters: 400."""
    assert "Via" in rejected(t.BADINV01_VIA).reason
    assert "Contact" in rejected(t.BADINV01_CONTACT).reason


def test_clerr_content_length_larger_than_message() -> None:
    """§3.1.2.2: over UDP, 400; over a stream the receiver can only wait for more (then time out)."""
    assert "Content-Length" in rejected(t.CLERR).reason
    framer = StreamFramer()
    framer.feed(t.CLERR)
    assert framer.next_event() is None
    assert framer.in_message


def test_ncl_negative_content_length() -> None:
    """§3.1.2.3: 400 over UDP; on a stream the framing is lost, so the error is fatal."""
    rejected(t.NCL)
    framer = StreamFramer()
    framer.feed(t.NCL)
    with pytest.raises(SipParseError) as caught:
        framer.next_event()
    assert caught.value.fatal


def test_scalar02_request_scalar_fields_with_overlarge_values() -> None:
    """§3.1.2.4: the CSeq beyond 2**31 makes it a 400.  Max-Forwards alone beyond 255 is refused
    too (the RFC also allows ignoring it).  Expiry values alone do not stop the message: the
    registrar reads them, gets SipParseError and may answer 400 or use its default."""
    assert "CSeq" in rejected(t.SCALAR02).reason
    assert "Max-Forwards" in rejected(t.SCALAR02_MAX_FORWARDS_ONLY).reason
    msg = request(t.SCALAR02_EXPIRES_ONLY)
    with pytest.raises(SipParseError, match="Expires"):
        _ = msg.expires
    with pytest.raises(SipParseError, match="expires"):
        _ = contacts(msg)[0].expires


def test_scalarlg_response_scalar_fields_with_overlarge_values() -> None:
    """§3.1.2.5: the response is discarded (there is nothing to answer)."""
    assert "CSeq" in rejected(t.SCALARLG, answerable=False).reason


def test_quotbal_unterminated_quoted_string_in_display_name() -> None:
    """§3.1.2.6: 400."""
    assert "To" in rejected(t.QUOTBAL).reason


def test_ltgtruri_angle_brackets_around_the_request_uri() -> None:
    """§3.1.2.7: 400."""
    assert "Request-URI" in rejected(t.LTGTRURI).reason


def test_lwsruri_whitespace_inside_the_request_uri() -> None:
    """§3.1.2.8: 400."""
    assert "Request-Line" in rejected(t.LWSRURI).reason


def test_lwsstart_several_sp_between_request_line_elements() -> None:
    """§3.1.2.9: rejecting is acceptable, and this parser does."""
    assert "Request-Line" in rejected(t.LWSSTART).reason


def test_trws_sp_at_the_end_of_the_request_line() -> None:
    """§3.1.2.10: rejecting is acceptable, and this parser does."""
    assert "Request-Line" in rejected(t.TRWS).reason


def test_escruri_escaped_headers_in_the_request_uri() -> None:
    """§3.1.2.11: a Request-URI may not carry headers (RFC 3261 §19.1.1): 400."""
    assert "Request-URI" in rejected(t.ESCRURI).reason


def test_baddate_time_zone_other_than_gmt() -> None:
    """§3.1.2.12: the message is not rejected for a Date nobody needs; reading it fails."""
    msg = request(t.BADDATE)
    assert msg.headers.get("Date") == "Mon, 04 Mar 2030 09:30:00 CET"
    with pytest.raises(SipParseError, match="Date"):
        _ = msg.date


def test_regbadct_uri_with_headers_not_enclosed_in_brackets() -> None:
    """§3.1.2.13: 400 (a name-addr with '?' must use <>)."""
    assert "Contact" in rejected(t.REGBADCT).reason


def test_badaspec_spaces_within_addr_spec() -> None:
    """§3.1.2.14: 400."""
    assert "To" in rejected(t.BADASPEC).reason


def test_baddn_non_token_characters_in_an_unquoted_display_name() -> None:
    """§3.1.2.15: 400."""
    assert "display name" in rejected(t.BADDN).reason


def test_badvers_unknown_protocol_version() -> None:
    """§3.1.2.16: 505 Version Not Supported, answered with the request's Via."""
    error = rejected(t.BADVERS, status=505)
    answer = answer_error(error)
    assert answer is not None and answer.headers.get("Via") == "SIP/7.0/UDP c.example.test;branch=z9hG4bKbadvers"


def test_mismatch01_cseq_method_differs_from_the_request_line() -> None:
    """§3.1.2.17: 400."""
    assert "CSeq" in rejected(t.MISMATCH01).reason


def test_mismatch02_unknown_method_with_cseq_method_mismatch() -> None:
    """§3.1.2.18: 400 (acceptable; a UAS preferring 501 finds the method in the partial message)."""
    error = rejected(t.MISMATCH02)
    assert error.partial is not None and error.partial.method == "NEWMETHOD"


def test_bigcode_overlarge_response_code() -> None:
    """§3.1.2.19: the response is discarded."""
    error = rejected(t.BIGCODE, answerable=False)
    assert error.partial is not None and not error.partial.is_request


# --- §3.2, §3.3, §3.4 ------------------------------------------------------------------


def test_badbranch_missing_transaction_identifier() -> None:
    """§3.2.1: the branch is only the magic cookie: not an RFC 3261 transaction id."""
    msg = request(ts.BADBRANCH)
    assert msg.top_via is not None and msg.top_via.branch == "z9hG4bK"
    assert not msg.top_via.is_rfc3261


def test_insuf_missing_required_header_fields() -> None:
    """§3.3.1: the message parses; the missing fields are named, so a UAS can answer 400."""
    msg = request(ts.INSUF)
    assert msg.missing_mandatory() == ("From", "To", "Call-ID")
    assert msg.from_ is None and msg.to is None and msg.call_id is None and msg.max_forwards is None


def test_unkscm_request_uri_with_unknown_scheme() -> None:
    """§3.3.2: the Request-URI is an absolute URI of another scheme: the UAS answers 416."""
    uri = request(ts.UNKSCM).uri
    assert isinstance(uri, AbsoluteUri)
    assert (uri.scheme, uri.opaque) == ("nobodyHasThisScheme", "entirely-opaque-stuff")


def test_novelsc_request_uri_with_known_but_atypical_scheme() -> None:
    """§3.3.3: likewise, 416 unless the element handles soap.beep."""
    uri = request(ts.NOVELSC).uri
    assert isinstance(uri, AbsoluteUri) and uri.scheme == "soap.beep" and str(uri) == "soap.beep://192.0.2.103:3002"


def test_unksm2_unknown_uri_schemes_in_header_fields() -> None:
    """§3.3.4: To, From and Contact with other schemes parse; the registrar decides what to do."""
    msg = request(ts.UNKSM2)
    assert str(address(msg.to).uri) == "isbn:2983792873"
    assert str(address(msg.from_).uri) == "http://www.example.test"
    assert isinstance(contacts(msg)[0].uri, AbsoluteUri)


def test_bext01_require_and_proxy_require_nobody_supports() -> None:
    """§3.3.5: the option tags are there for the 420 Bad Extension (with Unsupported)."""
    msg = request(ts.BEXT01)
    assert msg.require == ("nothingSupportsThis", "nothingSupportsThisEither")
    assert msg.proxy_require == ("noProxySupportsThis", "norThisOne")


def test_invut_unknown_content_type() -> None:
    """§3.3.6: parses; the UAS answers 415 from the Content-Type."""
    msg = request(ts.INVUT)
    assert msg.content_type is not None and msg.content_type.mime == "application/unknownformat"
    assert msg.body == ts.INVUT_BODY


def test_regaut01_unknown_authorization_scheme() -> None:
    """§3.3.7: the credentials parse as another scheme; the registrar answers 401 with its challenge."""
    msg = request(ts.REGAUT01)
    (credentials,) = msg.authorization
    assert credentials.scheme == "NobodyKnowsThisScheme" and not credentials.is_digest
    assert credentials.param("opaque-data") == "here"
    assert msg.content_length == 0


def test_multi01_multiple_values_in_single_value_fields() -> None:
    """§3.3.8: 400."""
    assert "more than one" in rejected(ts.MULTI01).reason


def test_mcl01_multiple_content_length_values() -> None:
    """§3.3.9: 400 over UDP; on a stream the framing is lost (fatal)."""
    assert "Content-Length" in rejected(ts.MCL01).reason
    framer = StreamFramer()
    framer.feed(ts.MCL01)
    with pytest.raises(SipParseError) as caught:
        framer.next_event()
    assert caught.value.fatal


def test_bcast_response_with_broadcast_via() -> None:
    """§3.3.10: parses; the proxy sees the broadcast sent-by and must not send there."""
    msg = response(ts.BCAST)
    assert msg.vias[1].sent_by == ("255.255.255.255", None)


def test_zeromf_max_forwards_of_zero() -> None:
    """§3.3.11: parses with 0 (a proxy answers 483; the addressed UAS answers normally)."""
    assert request(ts.ZEROMF).max_forwards == 0


def test_cparam01_contact_parameter_without_brackets() -> None:
    """§3.3.12: without <>, `unknownparam` belongs to the Contact, not to its URI."""
    msg = request(ts.CPARAM01)
    (contact,) = contacts(msg)
    assert "unknownparam" in contact.params and sip_uri(contact.uri).params == ()


def test_cparam02_uri_parameter_in_brackets() -> None:
    """§3.3.13: inside <>, `unknownparam` belongs to the URI."""
    msg = request(ts.CPARAM02)
    (contact,) = contacts(msg)
    assert len(contact.params) == 0 and sip_uri(contact.uri).has_param("unknownparam")


def test_regescrt_register_with_escaped_header_in_contact() -> None:
    """§3.3.14: the Contact URI keeps its (decoded) header, to be stored with the binding."""
    msg = request(ts.REGESCRT)
    uri = sip_uri(contacts(msg)[0].uri)
    assert uri.headers == (("Route", "<sip:sip.example.test>"),)
    assert str(uri) == "sip:user@example.test?Route=%3Csip:sip.example.test%3E"
    assert msg.content_length == 0


def test_sdp01_unacceptable_accept_offering() -> None:
    """§3.3.15: parses; the UAS answers 406 from Accept."""
    msg = request(ts.SDP01)
    assert msg.accept is not None and [m.mime for m in msg.accept] == ["text/nobodyknowsthis"]


def test_inv2543_invite_with_rfc_2543_syntax() -> None:
    """§3.4.1: accepted: no branch (match the old way), no Max-Forwards, body to the datagram's end,
    and `user=phone` after an addr-spec is a parameter of the To field."""
    msg = request(ts.INV2543)
    assert msg.missing_mandatory() == ()
    assert msg.top_via is not None and msg.top_via.branch is None and not msg.top_via.is_rfc3261
    assert msg.max_forwards is None and msg.content_length is None and msg.body == t.SDP
    to = address(msg.to)
    assert to.params.get("user") == "phone" and sip_uri(to.uri).params == ()
    assert sip_uri(address(msg.from_).uri).param("user") == "phone"
    assert sip_uri(msg.record_route[0].uri).maddr == "ss1.example.test"


def test_a_date_in_gmt_parses() -> None:
    """The counterpart of §3.1.2.12."""
    msg = request(t.request("OPTIONS sip:x@example.test SIP/2.0", "Date: Sat, 13 Nov 2010 23:29:00 GMT"))
    assert msg.date == datetime(2010, 11, 13, 23, 29, tzinfo=UTC)
