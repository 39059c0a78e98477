"""The Global Privacy Control signal as an automated objection (Art. 21(5) GDPR, R-8)."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from privateline.register.loader import load_register
from privateline.services.privacy.signals import gpc_activities, gpc_objects
from tests.services.privacy.registers import MISUSE, QUALITY, TIPS, register_with_device_choices


@pytest.mark.promise("R-8")
@pytest.mark.parametrize(
    ("headers", "objects"),
    [
        ({"Sec-GPC": "1"}, True),
        ({"sec-gpc": "1"}, True),
        ({"SEC-GPC": " 1 "}, True),
        ({"Accept": "text/html", "Sec-GPC": "1"}, True),
        ({}, False),
        ({"Sec-GPC": "0"}, False),
        ({"Sec-GPC": ""}, False),
        ({"Sec-GPC": "true"}, False),  # the specification defines "1" only
        ({"DNT": "1"}, False),  # Do Not Track is not GPC
        ({"X-Sec-GPC": "1"}, False),
    ],
)
def test_only_sec_gpc_1_is_the_signal(headers: dict[str, str], objects: bool) -> None:
    assert gpc_objects(headers) is objects


def test_a_starlette_requests_headers_can_be_passed_as_they_are() -> None:
    assert gpc_objects(Headers(raw=[(b"sec-gpc", b"1")]))
    assert not gpc_objects(Headers(raw=[(b"accept", b"*/*")]))


@pytest.mark.promise("R-8")
def test_the_signal_covers_optional_marketing_and_analytics_and_nothing_else() -> None:
    register = load_register().register
    # Website visitors: analytics on legitimate interests; analytics on consent needs no
    # objection (it never starts without consent), the access log is not open to objection.
    assert gpc_activities(register, "website_visitor") == ["event_analytics"]
    # Customers: direct marketing and analytics, not the helpdesk (legitimate interests, but neither).
    assert gpc_activities(register, "customer") == [
        "product_optimisation",
        "marketing_customer_relations",
        "newsletter_existing_customers",
    ]
    assert gpc_activities(register, "app_user") == ["app_analytics"]
    # The shipped device cloud has neither.
    assert gpc_activities(register, "device_owner") == []
    other = register_with_device_choices().register
    covered = gpc_activities(other, "device_owner")
    assert covered == [TIPS]
    assert MISUSE not in covered and QUALITY not in covered
