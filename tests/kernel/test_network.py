from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privateline.kernel.network import truncate_address


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
