"""Property tests: what this layer writes, it reads back as the same value."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from privateline.edges.sip.core import (
    Address,
    Challenge,
    Credentials,
    MediaType,
    Request,
    Response,
    SipUri,
    Uri,
    Via,
    parse_message,
    parse_uri,
    serialize,
)
from privateline.edges.sip.core.address import parse_address
from privateline.edges.sip.core.auth import parse_challenge, parse_credentials
from privateline.edges.sip.core.fields import parse_media_type
from privateline.edges.sip.core.via import parse_via
from tests.edges.sip.core import strategies as s

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(s.uris)
def test_uris_round_trip(uri: Uri) -> None:
    assert parse_uri(str(uri)) == uri


@SETTINGS
@given(s.uris)
def test_a_parsed_uri_is_written_as_its_parts_say(uri: Uri) -> None:
    """What `parse_uri` remembers as a URI's text is what writing its parts gives."""
    parsed = parse_uri(str(uri))
    assert str(parsed) == (parsed.render() if isinstance(parsed, SipUri) else str(uri))


@SETTINGS
@given(s.addresses())
def test_addresses_round_trip(address: Address) -> None:
    assert parse_address(str(address), "To") == address


@SETTINGS
@given(s.vias())
def test_vias_round_trip(via: Via) -> None:
    assert parse_via(str(via)) == (via,)


@SETTINGS
@given(s.media_types)
def test_media_types_round_trip(media_type: MediaType) -> None:
    assert parse_media_type(str(media_type)) == media_type


@SETTINGS
@given(s.credentials, s.challenges)
def test_credentials_and_challenges_round_trip(credentials: Credentials, challenge: Challenge) -> None:
    assert parse_credentials(str(credentials)) == credentials
    assert parse_challenge(str(challenge)) == challenge


@settings(SETTINGS, max_examples=100)
@given(st.one_of(s.requests(), s.responses()), st.booleans())
def test_messages_round_trip(message: Request | Response, compact: bool) -> None:
    parsed = parse_message(serialize(message, compact=compact))
    assert parsed == message
    assert parsed.vias and parsed.from_ is not None and parsed.cseq is not None
    assert parsed.missing_mandatory() == ()
