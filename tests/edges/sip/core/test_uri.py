from __future__ import annotations

import pytest

from privateline.edges.sip.core import AbsoluteUri, SipParseError, SipUri, parse_uri


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def test_all_the_parts_of_a_sip_uri() -> None:
    """RFC 3261 §19.1.1."""
    uri = sip("SIPS:alice:secret@[2001:db8::7]:5061;transport=TLS;lr;maddr=239.255.255.1?subject=hi&priority=urgent")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "secret",
        "[2001:db8::7]",
        5061,
    )
    assert uri.transport == "tls" and uri.lr and uri.maddr == "239.255.255.1"
    assert uri.headers == (("subject", "hi"), ("priority", "urgent"))
    assert (
        str(uri)
        == "sips:alice:secret@[2001:db8::7]:5061;transport=TLS;lr;maddr=239.255.255.1?subject=hi&priority=urgent"
    )


def test_escapes_decode_and_encode_back() -> None:
    """§19.1.2: escaped characters; only what the grammar does not allow raw is escaped on output."""
    uri = sip("sip:%61lice%20smith;x=1@example.test;na%6De=va%3Bl")
    assert uri.user == "alice smith;x=1" and uri.param("name") == "va;l"
    assert str(uri) == "sip:alice%20smith;x=1@example.test;name=va%3Bl"
    assert sip("sip:%E2%82%AC@example.test").user == "€"


def test_changing_parameters() -> None:
    uri = sip("sip:bob@example.test;transport=udp")
    assert str(uri.with_param("lr").with_param("transport", "tcp")) == "sip:bob@example.test;lr;transport=tcp"
    assert str(uri.without_param("TRANSPORT")) == "sip:bob@example.test"
    with pytest.raises(ValueError, match="unique"):
        SipUri(host="example.test", params=(("a", None), ("A", "1")))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("sip:bob@BIloxi.COM:5060;Transport=UDP", "sip:bob@biloxi.com:5060;transport=udp"),
        ("sip:carol@chicago.example;security=on", "sip:carol@chicago.example;newparam=5"),
        ("sip:%61lice@atlanta.example;transport=TCP", "sip:alice@ATLANTA.example;Transport=tcp"),
        ("sip:dave@h.example?subject=a&to=b", "sip:dave@h.example?to=b&subject=a"),
    ],
)
def test_equivalent_uris(left: str, right: str) -> None:
    """§19.1.4: host case, parameter name and value case, escapes, header order do not matter."""
    assert sip(left).equivalent(sip(right))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("sip:ALICE@atlanta.example", "sip:alice@atlanta.example"),
        ("sip:bob@biloxi.example", "sip:bob@biloxi.example:5060"),
        ("sip:bob@biloxi.example", "sip:bob@biloxi.example;transport=udp"),
        ("sip:carol@chicago.example;security=on", "sip:carol@chicago.example;security=off"),
        ("sip:dave@h.example", "sip:dave@h.example?subject=a"),
        ("sip:erin@h.example", "sips:erin@h.example"),
    ],
)
def test_uris_that_are_not_equivalent(left: str, right: str) -> None:
    """§19.1.4: user case, an explicit port, transport/user/ttl/method/maddr present on one side only."""
    assert not sip(left).equivalent(sip(right))
    assert not sip(left).equivalent(str(right))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sip:",
        "sip:@example.test",
        "sip:a@b@example.test",
        "sip:alice@exa mple.test",
        "sip:alice@-bad.example",
        "sip:alice@example.123",
        "sip:alice@256.1.1.1",
        "sip:alice@[2001:db8::zz]",
        "sip:alice@[fe80::1%25eth0]",
        "sip:alice@[::1",
        "sip:alice@[::1]x",
        "sip:alice@example.test:70000",
        "sip:alice@example.test:",
        "sip:al%2@example.test",
        "sip:al%FF@example.test",
        "sip:al<ice@example.test",
        "sip:alice@example.test;;x",
        "sip:alice@example.test;a=",
        "sip:alice@example.test;a=1;A=2",
        "sip:alice@example.test?noequals",
        "1sip:alice@example.test",
        "<sip:alice@example.test>",
        "mailto:a b",
        "tel:",
    ],
)
def test_malformed_uris_are_refused(text: str) -> None:
    with pytest.raises(SipParseError, match="URI"):
        parse_uri(text)


def test_other_schemes_stay_opaque() -> None:
    uri = parse_uri("urn:service:sos")
    assert uri == AbsoluteUri("urn", "service:sos") and str(uri) == "urn:service:sos"
    with pytest.raises(ValueError, match="scheme"):
        AbsoluteUri("sip", "x@y")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("sip:4000001@127.0.0.1:5060;transport=UDP", "sip:4000001@127.0.0.1:5060;transport=UDP"),
        ("SIP:alice@example.test", "sip:alice@example.test"),
        ("sip:alice@example.test:05060", "sip:alice@example.test:5060"),
        ("sIps:alice@example.test;lr", "sips:alice@example.test;lr"),
    ],
)
def test_a_uri_is_written_back_in_its_normal_form(text: str, written: str) -> None:
    """§19.1.1: the scheme is case-insensitive and the port a number; a URI is sent as its parts say."""
    uri = sip(text)
    assert str(uri) == written == uri.render()
