"""The whole-word search the leak checks rely on: it must still see a value where it really is."""

from tests.mentions import mentions


def test_a_number_inside_a_uri_or_a_field_is_found() -> None:
    assert mentions('{"contact": "sip:4031@192.0.2.1:5060"}', "4031")
    assert mentions('{"number": "4031"}', "4031")
    assert mentions("serial SN-PORTAL-00031.", "SN-PORTAL-00031")


def test_a_number_that_is_only_part_of_a_digest_or_a_longer_number_is_not() -> None:
    assert not mentions('{"hash": "d8d7c56a4031b2f5"}', "4031")
    assert not mentions('{"number": "40310"}', "4031")
