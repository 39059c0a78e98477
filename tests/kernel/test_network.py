from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privateline.kernel.network import source_key, truncate_address


@pytest.mark.promise("WEB-7")
@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234::"),
        ("::ffff:198.51.100.23", "198.51.100.0"),
        ("fe80::1%eth0", "fe80::"),
        ("not an address", None),
    ],
)
def test_web_7_addresses_are_shortened_to_their_network(address: str, stored: str | None) -> None:
    assert truncate_address(address) == stored


@given(st.ip_addresses())
def test_a_shortened_address_never_keeps_the_host_part(ip: object) -> None:
    text = str(ip)
    stored = truncate_address(text)
    assert stored is not None
    if ":" in text and "." not in stored:
        assert stored.endswith("::") or stored == "::"
    else:
        assert stored.endswith(".0")


def test_a_source_is_an_ipv4_address_or_an_ipv6_slash_64() -> None:
    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7"  # a mapped address is not a new source
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key(None) == "unknown"
