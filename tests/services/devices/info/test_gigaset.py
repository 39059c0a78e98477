"""The handsets' request parameters as real base stations send them, and the Latin-1 display text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from privateline.services.devices.info.gigaset import (
    CHILDREN,
    ELEMENTS,
    BadParameterError,
    HandsetRequest,
    fit,
    latin1,
    parse_lang,
    parse_query,
    parse_tz,
)

# Requests as the Gigaset pro wiki and the replacement servers record them.
REAL_REQUESTS = [
    b"lang=2&tz=120&mac=7C2F8052A48B&cc=49&handsetid=02B6EC8AA5&provid=11",
    b"lang=2&tz=120&tick=true&mac=7C2F8052A48B&cc=49&provid=11&handsetid=02B6EC8AA5",
    b"lang=3&tz=60&mac=7C2F8052A48B&handsetid=02B6EC8AA5&sipid=1014&provid=1",
    b"g_lang=2&mac=7c-2f-80-52-a4-8b&g_pnr=S30852-S1713-B121-9",
]


@pytest.mark.parametrize("raw", REAL_REQUESTS)
def test_real_requests_are_understood(raw: bytes) -> None:
    handset = HandsetRequest.from_query(parse_query(raw))
    assert handset.mac == "7C2F8052A48B"
    assert handset.lang in ("de", "en")


def test_a_base_station_appending_its_parameters_to_a_link_is_accepted() -> None:
    link = b"mac=7C2F8052A48B&lang=2&tz=120"
    appended = link + b"&lang=2&tz=120&mac=7C2F8052A48B&cc=49&handsetid=02B6EC8AA5&provid=11"
    handset = HandsetRequest.from_query(parse_query(appended))
    assert (handset.mac, handset.lang, handset.tz) == ("7C2F8052A48B", "de", timedelta(minutes=120))
    # The handset's own value, appended last, wins for the language and the time zone.
    changed = HandsetRequest.from_query(parse_query(link + b"&lang=10&tz=60&mac=7C:2F:80:52:A4:8B"))
    assert (changed.lang, changed.tz) == ("nl", timedelta(minutes=60))


def test_two_different_macs_are_refused() -> None:
    with pytest.raises(BadParameterError) as raised:
        HandsetRequest.from_query(parse_query(b"mac=7C2F8052A48B&mac=7C2F8052A48C"))
    assert raised.value.name == "mac"


@pytest.mark.parametrize(
    ("value", "lang"),
    [
        ("1", "en"),
        ("3", "en"),
        ("2", "de"),
        ("10", "nl"),
        ("010", "nl"),
        ("9", "en"),  # French: not spoken, English instead of an error
        ("0", "en"),
        ("255", "en"),
        ("de", "de"),
        ("nl-BE", "nl"),
        ("EN_gb", "en"),
        ("fr", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_languages(value: str | None, lang: str) -> None:
    assert parse_lang(value) == lang


@pytest.mark.parametrize("value", ["256", "1000", "deutsch!", "d", "<script>", "2;3"])
def test_garbage_languages_are_refused(value: str) -> None:
    with pytest.raises(BadParameterError):
        parse_lang(value)


@pytest.mark.parametrize(
    ("value", "minutes"), [("60", 60), ("+120", 120), ("-300", -300), ("0", 0), (None, 0), ("840", 840), ("-720", -720)]
)
def test_time_zones(value: str | None, minutes: int) -> None:
    assert parse_tz(value) == timedelta(minutes=minutes)


@pytest.mark.parametrize("value", ["841", "-721", "1.5", "GMT", "60min", "99999"])
def test_garbage_time_zones_are_refused(value: str) -> None:
    with pytest.raises(BadParameterError):
        parse_tz(value)


def test_the_local_date_follows_the_handset_time_zone() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert HandsetRequest.from_query(parse_query(b"mac=7C2F8052A48B&tz=60")).local_date(late) == date(2026, 3, 2)
    assert HandsetRequest.from_query(parse_query(b"mac=7C2F8052A48B&tz=-300")).local_date(late) == date(2026, 3, 1)


def test_typed_text_arrives_as_utf_8_or_latin_1() -> None:
    assert parse_query(b"city=M%C3%BCnchen").last("city") == "München"
    assert parse_query(b"city=M%FCnchen").last("city") == "München"
    assert parse_query(b"city=K\xf6ln").last("city") == "Köln"  # not even percent-encoded
    assert parse_query(b"city=Den+Haag").last("city") == "Den Haag"
    assert parse_query(b"CITY=Utrecht&Mac=7C2F8052A48B").last("mac") == "7C2F8052A48B"


@pytest.mark.parametrize(
    "raw",
    [
        b"city=a%00b",
        b"city=%1b%5b",
        b"city=%C2%85",  # a C1 control character
        b"city=" + b"x" * 300,
        b"&".join(b"p%d=1" % n for n in range(41)),
        b"x=" + b"y" * 2100,
    ],
)
def test_garbage_queries_are_refused(raw: bytes) -> None:
    with pytest.raises(BadParameterError):
        parse_query(raw)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"lang=2", "mac"),
        (b"mac=", "mac"),
        (b"mac=hello", "mac"),
        (b"mac=0123456789AB", "mac"),  # a group address is no device's
        (b"mac=7C2F8052A48B&handsetid=xyz", "handsetid"),
        (b"mac=7C2F8052A48B&handsetid=" + b"A" * 21, "handsetid"),
    ],
)
def test_bad_identification_names_the_parameter(raw: bytes, name: str) -> None:
    with pytest.raises(BadParameterError) as raised:
        HandsetRequest.from_query(parse_query(raw))
    assert raised.value.name == name


def test_links_repeat_the_identification_as_received() -> None:
    handset = HandsetRequest.from_query(parse_query(b"lang=2&tz=-60&mac=7c2f8052a48b&handsetid=02b6ec8aa5&cc=49"))
    assert handset.link("/info/weather.jsp") == "/info/weather.jsp?mac=7C2F8052A48B&lang=2&tz=-60"
    assert handset.link("/info/delete.jsp", confirm="yes").endswith("&confirm=yes")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Köln", "Köln"),
        ("Łódź", "Lódz"),
        ("Kraków", "Kraków"),
        ("Zürich – Oerlikon", "Zürich - Oerlikon"),
        ("東京", "??"),
        ("Ærøskøbing", "Ærøskøbing"),
        ("Škofja Loka", "Skofja Loka"),
    ],
)
def test_text_is_reduced_to_the_handset_font(text: str, shown: str) -> None:
    assert latin1(text) == shown
    latin1(text).encode("latin-1")


def test_long_lines_are_cut() -> None:
    assert fit("  Frankfurt   am Main ", 40) == "Frankfurt am Main"
    assert fit("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch", 12) == "Llanfairp..."


def test_the_content_model_only_names_known_elements() -> None:
    assert set(CHILDREN) == set(ELEMENTS)
    assert set().union(*CHILDREN.values()) <= set(ELEMENTS)
