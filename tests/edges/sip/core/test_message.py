from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from privateline.edges.sip.core import (
    WILDCARD,
    Challenge,
    Credentials,
    Headers,
    Request,
    Response,
    SipParseError,
    SipUri,
    Via,
    parse_message,
    serialize,
)
from privateline.edges.sip.core.fields import format_date, parse_date
from tests.edges.sip.core import torture as t

REGISTER = "REGISTER sip:example.test SIP/2.0"


def parsed(*fields: str, start: str = REGISTER) -> Request:
    message = parse_message(t.request(start, *fields))
    assert isinstance(message, Request)
    return message


def test_via_parameters() -> None:
    """RFC 3261 §18.2.1 received/maddr/ttl, RFC 3581 rport with and without a value."""
    msg = parsed(
        "Via: SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bKv1;rport;received=2001:db8::10",
        'Via: SIP/2.0/tls proxy.example.test;branch=z9hG4bKv2;rport=5070;maddr=239.1.2.3;ttl=16;x="y"',
    )
    first, second = msg.vias
    assert first.sent_by == ("[2001:db8::9]", 5062) and first.has_rport and first.rport is None
    assert first.received == "2001:db8::10" and first.is_rfc3261
    assert second.transport == "TLS" and second.rport == 5070 and second.maddr == "239.1.2.3" and second.ttl == 16
    assert second.params.get("x") == "y"
    assert str(first.with_param("received", "192.0.2.1")) == (
        "SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bKv1;rport;received=192.0.2.1"
    )


@pytest.mark.parametrize(
    "via",
    [
        "SIP/2.0/UDP host;ttl=256",
        "SIP/2.0/UDP host;rport=99999",
        "SIP/2.0/UDP host;received=not..an.address",
        'SIP/2.0/UDP host;branch="quoted"',
        "SIP/2.0/UDPhost",
        "SIP/2.0 host",
        "SIP/2.0/UDP host:",
        "SIP/2.0/UDP host;branch=a;branch=b",
    ],
)
def test_malformed_vias_are_refused(via: str) -> None:
    with pytest.raises(SipParseError, match="Via"):
        parsed(f"Via: {via}")


def test_contacts_wildcard_q_and_expires() -> None:
    """§20.10: `*` stands alone; q is a qvalue; expires is delta-seconds."""
    assert parsed("Contact: *", "Expires: 0").contact == WILDCARD
    assert parsed().contact == ()
    with pytest.raises(SipParseError, match=r"\*"):
        parsed("Contact: *", "Contact: <sip:a@example.test>")
    msg = parsed("Contact: <sip:a@h1.example.test>;q=1.000;expires=0, <sip:b@h2.example.test>;q=0.")
    first, second = msg.contact  # type: ignore[misc]
    assert (first.q, first.expires, second.q, second.expires) == (1.0, 0, 0.0, None)
    for bad in ("1.5", "1.001", "0.1234", "2", "x"):
        (contact,) = parsed(f"Contact: <sip:a@example.test>;q={bad}").contact  # type: ignore[misc]
        with pytest.raises(SipParseError, match="q value"):
            _ = contact.q


@pytest.mark.parametrize(
    "to", ['<sip:a@example.test>;tag="x"', "<sip:a@example.test>;tag", "sip:a@example.test;tag=[::1]"]
)
def test_a_tag_is_a_token(to: str) -> None:
    """§25.1: tag-param = "tag" EQUAL token (dialogs are matched on it)."""
    with pytest.raises(SipParseError, match="tag"):
        parsed(f"To: {to}")


def test_route_and_record_route_need_angle_brackets() -> None:
    """§20.30, §20.34: only name-addr."""
    msg = parsed("Record-Route: <sip:p1.example.test;lr>, <sip:p2.example.test;lr>", "Route: <sip:p3.example.test>")
    assert [str(a.uri) for a in msg.record_route] == ["sip:p1.example.test;lr", "sip:p2.example.test;lr"]
    with pytest.raises(SipParseError, match="enclosed"):
        parsed("Route: sip:p3.example.test;lr")


def test_option_tags_methods_and_accept() -> None:
    msg = parsed("Allow: INVITE, ACK, BYE", "Supported:", "Require: outbound, path", "Accept:")
    assert msg.allow == ("INVITE", "ACK", "BYE") and msg.supported == () and msg.require == ("outbound", "path")
    assert msg.accept == () and parsed().accept is None
    with pytest.raises(SipParseError, match="Require"):
        _ = parsed("Require:").require
    with pytest.raises(SipParseError, match="Allow"):
        _ = parsed("Allow: INV ITE").allow


def test_a_settled_message_keeps_its_fields_and_parses_them_again_when_read() -> None:
    """`settle` (what a transaction does once it only absorbs retransmissions) lets go of the
    parsed objects, and nothing a reader sees changes."""
    msg = parsed(
        'Authorization: Digest username="1001", realm="r", nonce="n", uri="sip:example.test", response="abc"',
        "Expires: 60",
    )
    read = (msg.vias, msg.from_, msg.to, msg.cseq, msg.call_id, msg.contact, msg.authorization, msg.expires)
    wire = serialize(msg)
    assert len(msg.__dict__) > 5  # the parsed fields are kept in the instance
    msg.settle()
    assert set(msg.__dict__) == {"method", "uri", "headers", "body", "version"}
    again = (msg.vias, msg.from_, msg.to, msg.cseq, msg.call_id, msg.contact, msg.authorization, msg.expires)
    assert again == read and msg.vias is not read[0]  # parsed anew, equal to before
    assert serialize(msg) == wire


def test_digest_credentials_rfc2617_and_rfc8760() -> None:
    msg = parsed(
        'Authorization: Digest username="1001", realm="phones.example.test", nonce="bm9uY2U=",'
        ' uri="sip:example.test", response="6629fae49393a05397450978507c4ef1", algorithm=SHA-256,'
        ' cnonce="0a4f113b", opaque="5ccc", qop=auth, nc=00000001',
        'Proxy-Authorization: Digest username="x", realm="r", nonce="n", uri="sip:x", response="r"',
    )
    (credentials,) = msg.authorization
    assert credentials.is_digest and credentials.username == "1001" and credentials.realm == "phones.example.test"
    assert (credentials.nonce, credentials.uri, credentials.algorithm) == ("bm9uY2U=", "sip:example.test", "SHA-256")
    assert (credentials.cnonce, credentials.opaque, credentials.qop, credentials.nc) == (
        "0a4f113b",
        "5ccc",
        "auth",
        "00000001",
    )
    assert credentials.response == "6629fae49393a05397450978507c4ef1"
    assert msg.proxy_authorization[0].algorithm == "MD5"
    built = Credentials.digest(
        username="1001", realm="r", nonce="n", uri="sip:x", response="abc", qop="auth", nc="00000001"
    )
    assert (
        str(built) == 'Digest username="1001", realm="r", nonce="n", uri="sip:x", response="abc", qop=auth, nc=00000001'
    )
    for bad in ("Digest", "Digest username", 'Digest username="a",', 'Digest a="1", a="2"', "Digest a=b c"):
        with pytest.raises(SipParseError, match="Authorization"):
            _ = parsed(f"Authorization: {bad}").authorization


def test_digest_challenges() -> None:
    challenge = Challenge.digest(realm="phones.example.test", nonce="abc", algorithm="SHA-256", opaque="o", stale=True)
    text = str(challenge)
    assert (
        text == 'Digest realm="phones.example.test", nonce="abc", opaque="o", stale=TRUE, algorithm=SHA-256, qop="auth"'
    )
    response = parse_message(
        t.sip(
            "SIP/2.0 401 Unauthorized",
            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc",
            f"WWW-Authenticate: {text}",
            'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth,auth-int"',
        )
    )
    first, second = response.www_authenticate
    assert first == challenge and first.stale and first.algorithm == "SHA-256" and first.realm == "phones.example.test"
    assert second.qop_options == ("auth", "auth-int") and not second.stale and second.algorithm == "MD5"


def test_expires_min_expires_date_and_user_agent() -> None:
    msg = parsed("Expires: 3600", "Min-Expires: 60", "Date: Tue, 15 Nov 1994 08:12:31 GMT", "User-Agent: Phone/1.0 (x)")
    assert (msg.expires, msg.min_expires, msg.user_agent) == (3600, 60, "Phone/1.0 (x)")
    assert msg.date == datetime(1994, 11, 15, 8, 12, 31, tzinfo=UTC)
    assert format_date(datetime(1994, 11, 15, 8, 12, 31, tzinfo=UTC)) == "Tue, 15 Nov 1994 08:12:31 GMT"
    for bad in ("Tue, 31 Feb 1994 08:12:31 GMT", "Tue, 15 Nov 1994 25:12:31 GMT", "Xyz, 15 Nov 1994 08:12:31 GMT"):
        with pytest.raises(SipParseError, match="Date"):
            parse_date(bad)
    with pytest.raises(SipParseError, match="more than one"):
        _ = parsed("Expires: 1", "Expires: 2").expires


def test_a_date_is_written_for_its_own_second_whatever_was_written_before() -> None:
    """format_date keeps the last second's text (a registrar writes one per 200): a moment in the
    same second, in another zone, or a second apart must still get its own date."""
    base = datetime(2026, 12, 1, 23, 59, 59, 900_000, tzinfo=UTC)
    moments = [
        base,
        base.replace(microsecond=100),
        base.astimezone(timezone(timedelta(hours=1))),
        base + timedelta(milliseconds=200),  # the next second, the next day
        base,
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
    ]
    for moment in moments:
        assert parse_date(format_date(moment)) == moment.astimezone(UTC).replace(microsecond=0)


def test_content_type_parameters() -> None:
    msg = parsed('Content-Type: Application/SDP ; charset="utf-8"')
    assert msg.content_type is not None and msg.content_type.mime == "application/sdp"
    assert msg.content_type.params.get("charset") == "utf-8"


def test_missing_mandatory_fields_of_a_response() -> None:
    response = parse_message(t.sip("SIP/2.0 200 OK", "Call-ID: x"))
    assert isinstance(response, Response) and response.missing_mandatory() == ("Via", "From", "To", "CSeq")
    assert response.is_provisional is False


def test_messages_refuse_what_cannot_be_sent() -> None:
    uri = SipUri(host="example.test")
    with pytest.raises(ValueError, match="token"):
        Request("BAD METHOD", uri)
    with pytest.raises(ValueError, match="version"):
        Request("OPTIONS", uri, version="HTTP/1.1")
    with pytest.raises(ValueError, match="100 to 699"):
        Response(99, "Low")
    with pytest.raises(ValueError, match="CR or LF"):
        Response(200, "O\r\nK")
    with pytest.raises(ValueError, match="host"):
        Via("bad host")


def test_check_finds_what_a_built_message_gets_wrong() -> None:
    request = Request("OPTIONS", SipUri(host="example.test"), Headers([("CSeq", "1 INVITE")]))
    with pytest.raises(SipParseError, match="CSeq"):
        request.check()
    Request("OPTIONS", SipUri(host="example.test"), Headers([("CSeq", "1 OPTIONS")])).check()
