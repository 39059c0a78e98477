from __future__ import annotations

import pytest

from privateline.edges.sip.core import Headers, SipParseError
from privateline.edges.sip.core.headers import COMPACT_FORMS, canonical_name, compact_name


def test_names_are_canonical_and_compact_forms_expanded() -> None:
    """RFC 3261 §7.3.1 (case-insensitive) and §7.3.3 (compact forms)."""
    headers = Headers([("v", "a"), ("VIA", "b"), ("i", "x@y"), ("www-authenticate", "c"), ("X-Mine", "d")])
    assert [name for name, _ in headers] == ["Via", "Via", "Call-ID", "WWW-Authenticate", "X-Mine"]
    assert headers.get_all("v") == ("a", "b") and headers.get("call-id") == "x@y" and "x-mine" in headers
    assert canonical_name("cseq") == "CSeq" and canonical_name("X-Unknown-Thing") == "X-Unknown-Thing"
    assert compact_name("Contact") == "m" and compact_name("CSeq") == "CSeq"
    assert all(len(short) == 1 and canonical_name(short) == long for short, long in COMPACT_FORMS.items())


def test_values_split_on_commas_outside_quotes_and_brackets() -> None:
    headers = Headers([("Contact", '"Doe, J." <sip:j@h;x=a,b>, <sip:k@h>'), ("Contact", "<sip:l@h>")])
    assert headers.values("m") == ('"Doe, J." <sip:j@h;x=a,b>', "<sip:k@h>", "<sip:l@h>")
    with pytest.raises(SipParseError, match="empty element"):
        Headers([("Allow", "INVITE,,BYE")]).values("Allow")
    assert Headers([("Allow", "")]).values("Allow", allow_empty=True) == ()


def test_changes_return_new_headers_in_order() -> None:
    base = Headers([("Via", "1"), ("To", "t"), ("Via", "2"), ("Route", "r1"), ("Route", "r2")])
    assert base.prepend("Via", "0").get_all("Via") == ("0", "1", "2")
    assert base.add("X-A", "a").fields[-1] == ("X-A", "a")
    assert base.set("via", "only").fields[:2] == (("Via", "only"), ("To", "t"))
    assert base.set("Max-Forwards", "69").fields[-1] == ("Max-Forwards", "69")
    assert base.remove("Route").count("Route") == 0
    assert base.remove_first("Route").get_all("Route") == ("r2",)
    assert base.remove_first("X-None") is base
    assert base.get_all("Via") == ("1", "2") and len(base) == 5


def test_equality_ignores_name_spelling_and_values_are_trimmed() -> None:
    assert Headers([("t", " x ")]) == Headers([("TO", "x")])
    assert hash(Headers([("t", "x")])) == hash(Headers([("To", "x")]))
    assert Headers([("To", "x"), ("From", "y")]) != Headers([("From", "y"), ("To", "x")])


def test_values_that_cannot_be_sent_are_refused() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        Headers([("Subject", "two\r\nlines")])
    with pytest.raises(ValueError, match="token"):
        Headers([("Bad Name", "x")])
