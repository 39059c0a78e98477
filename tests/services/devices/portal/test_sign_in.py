"""Signing in to the portal: the device password, the failure limit, sessions and signing out."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from privateline.kernel.clock import FakeClock
from privateline.services.devices.portal.http import COOKIE
from privateline.services.devices.records import set_in_service
from privateline.storage.audit_log import AuditLog
from tests.services.devices.portal.conftest import PortalServer, add_device, audit_kinds, csrf_of, signed_in

WRONG = "The number or the device password is wrong."
_ERROR = re.compile(r'<p id="error"[^>]*>(.*?)</p>', re.S)


def error_of(page: str) -> str:
    found = _ERROR.search(page)
    assert found is not None, page
    return found.group(1)


def is_overview(page: str) -> bool:
    return 'id="services"' in page and 'id="sign-in"' not in page


def test_the_right_password_signs_in_and_a_wrong_one_or_a_wrong_number_does_not(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system, password="right-pw-77")
    browser = portal.browser()

    wrong_password = browser.sign_in(record.number, "wrong-pw-77")
    assert wrong_password.status_code == 401
    assert error_of(wrong_password.text) == WRONG
    assert not is_overview(browser.get("/device").text)

    unknown_number = browser.sign_in("99999", "right-pw-77")
    assert unknown_number.status_code == 401
    # The same answer for an unknown number: the portal does not tell which numbers exist.
    assert error_of(unknown_number.text) == error_of(wrong_password.text)
    assert not is_overview(browser.get("/device").text)

    answer = browser.sign_in(record.number, "right-pw-77")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device?lang=en&done=signed_in"
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200 and is_overview(page.text)
    assert f"Signed in with the number {record.number}." in page.text
    assert "You are signed in." in page.text
    assert page.headers["cache-control"] == "no-store"

    # Only the sign-in is recorded: a failed attempt writes nothing, so a known number answers
    # as fast as an unknown one.
    assert audit_kinds(system, record) == ["device.portal.signed_in"]
    with system.database.reading() as connection:
        entries = list(AuditLog(connection).entries())
    assert [e.kind for e in entries] == ["device.portal.signed_in"]
    for entry in entries:  # no number, password or address in the trail, only the pseudonym
        assert entry.detail == {}
        assert entry.subject == system.pseudonymizer.pseudonym("device_owner", record.number)


def test_sign_in_is_limited_per_source_and_the_limit_lifts_after_the_window(
    portal: PortalServer, clock: FakeClock
) -> None:
    record = add_device(portal.system, password="right-pw-1")
    other = add_device(portal.system, password="right-pw-2")
    browser = portal.browser(source="198.51.100.20")
    for _ in range(5):
        assert browser.sign_in(record.number, "guess-123").status_code == 401
    blocked = browser.sign_in(record.number, "right-pw-1")  # even the right password waits
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins. Please try again in 15 minutes." in blocked.text
    # The whole source waits, whichever number it tries.
    assert browser.sign_in(other.number, "right-pw-2").status_code == 429
    # Another source is not affected.
    assert portal.browser(source="198.51.100.21").sign_in(other.number, "right-pw-2").status_code == 303

    clock.advance(timedelta(minutes=14, seconds=59))
    assert browser.sign_in(record.number, "right-pw-1").status_code == 429
    clock.advance(timedelta(seconds=1))
    answer = browser.sign_in(record.number, "right-pw-1")
    assert answer.status_code == 303
    assert is_overview(browser.get("/device").text)


def test_a_number_is_protected_against_guesses_from_many_sources(portal: PortalServer, clock: FakeClock) -> None:
    record = add_device(portal.system, password="right-pw-1")
    other = add_device(portal.system, password="right-pw-2")
    for n in range(5):
        assert portal.browser(source=f"192.0.2.{n + 1}").sign_in(record.number, "guess-123").status_code == 401
    fresh = portal.browser(source="192.0.2.77")
    assert fresh.sign_in(record.number, "right-pw-1").status_code == 429
    assert fresh.sign_in(other.number, "right-pw-2").status_code == 303  # only that number waits
    clock.advance(timedelta(minutes=15))
    assert portal.browser(source="192.0.2.78").sign_in(record.number, "right-pw-1").status_code == 303


def test_ipv6_clients_are_counted_per_64_network(portal: PortalServer) -> None:
    record = add_device(portal.system, password="right-pw-1")
    for n in range(5):
        browser = portal.browser(source=f"2001:db8:1:2::{n + 1:x}")
        assert browser.sign_in(record.number + "0", "guess-123").status_code == 401
    assert portal.browser(source="2001:db8:1:2::99").sign_in(record.number, "right-pw-1").status_code == 429
    assert portal.browser(source="2001:db8:1:3::1").sign_in(record.number, "right-pw-1").status_code == 303


def test_a_phone_taken_out_of_service_cannot_sign_in_and_its_session_ends(portal: PortalServer) -> None:
    system = portal.system
    retired = add_device(system, password="right-pw-1", in_service=False)
    browser = portal.browser()
    answer = browser.sign_in(retired.number, "right-pw-1")
    assert answer.status_code == 403
    assert "taken out of service" in answer.text
    assert not is_overview(browser.get("/device").text)
    assert "device.portal.signed_in" not in audit_kinds(system, retired)

    active = add_device(system)
    browser = signed_in(portal, active)
    assert is_overview(browser.get("/device").text)
    with system.database.unit_of_work() as uow:
        set_in_service(uow.connection, active.id, False)
        uow.commit()
    page = browser.get("/device")
    assert not is_overview(page.text) and "Your session has ended" in page.text
    assert browser.get("/device/export.json").status_code == 401


def test_a_session_ends_after_30_idle_minutes_and_12_hours_at_most(portal: PortalServer, clock: FakeClock) -> None:
    record = add_device(portal.system)
    browser = signed_in(portal, record)
    clock.advance(timedelta(minutes=29))
    assert is_overview(browser.get("/device").text)  # and the use renews the idle time
    clock.advance(timedelta(minutes=29))
    assert is_overview(browser.get("/device").text)
    clock.advance(timedelta(minutes=30))
    assert not is_overview(browser.get("/device").text)

    browser = signed_in(portal, record)
    for _ in range(35):  # busy all day: 35 × 20 minutes = 11 h 40 min
        clock.advance(timedelta(minutes=20))
        assert is_overview(browser.get("/device").text)
    clock.advance(timedelta(minutes=20))  # 12 hours after signing in
    assert not is_overview(browser.get("/device").text)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    copied = browser.cookie
    answer = browser.submit("/device/sign-out")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device?lang=en&done=signed_out"
    assert browser.cookie is None  # the cookie was deleted
    page = browser.get(answer.headers["location"])
    assert not is_overview(page.text) and "You are signed out." in page.text

    replay = portal.browser()
    replay.cookie = copied
    assert not is_overview(replay.get("/device").text)
    assert audit_kinds(system, record)[-1] == "device.portal.signed_out"


def test_the_session_cookie_is_http_only_same_site_secure_scoped_and_signed(portal: PortalServer) -> None:
    record = add_device(portal.system)
    browser = signed_in(portal, record)
    assert browser.set_cookie_headers
    for header in browser.set_cookie_headers:
        attributes = {a.strip().lower() for a in header.split(";")[1:]}
        assert {"httponly", "secure", "path=/device", "samesite=lax"} <= attributes
    assert browser.cookie is not None
    # The cookie holds the device id in the clear but is signed: changing it signs nobody in.
    other = add_device(portal.system)
    forged = portal.browser()
    forged.cookie = browser.cookie.replace(str(record.id), str(other.id), 1) + "x"
    assert not is_overview(forged.get("/device").text)
    # Signing in starts a new session with a new token (no session fixation).
    fresh = portal.browser()
    anonymous_token = csrf_of(fresh.get("/device").text)
    assert fresh.sign_in(record.number, "factory-pw-1").status_code == 303
    assert csrf_of(fresh.get("/device").text) != anonymous_token


def test_parallel_guesses_cannot_overtake_the_count(portal: PortalServer) -> None:
    record = add_device(portal.system, password="right-pw-1")
    browser = portal.browser(source="198.51.100.50")
    token = csrf_of(browser.get("/device").text)
    cookie = browser.cookie
    assert cookie is not None

    def guess(n: int) -> int:
        with httpx.Client(base_url=portal.url, timeout=30) as client:
            answer = client.post(
                "/device/sign-in",
                data={"csrf": token, "number": record.number, "password": f"guess-{n:04d}"},
                headers={"Cookie": f"{COOKIE}={cookie}", "X-Forwarded-For": "198.51.100.50"},
            )
            return answer.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(guess, range(12)))
    assert statuses == [401] * 5 + [429] * 7


def test_an_expired_sign_in_page_gives_a_fresh_form_not_a_session(portal: PortalServer, clock: FakeClock) -> None:
    record = add_device(portal.system)
    browser = portal.browser()
    token = csrf_of(browser.get("/device").text)
    clock.advance(timedelta(minutes=31))
    answer = browser.post("/device/sign-in", {"csrf": token, "number": record.number, "password": "factory-pw-1"})
    assert answer.status_code == 403
    assert "The sign-in page had expired. Please sign in again." in answer.text
    assert not is_overview(browser.get("/device").text)
    assert (
        browser.post(
            "/device/sign-in", {"csrf": csrf_of(answer.text), "number": record.number, "password": "factory-pw-1"}
        ).status_code
        == 303
    )
