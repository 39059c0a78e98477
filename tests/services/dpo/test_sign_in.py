"""Signing in to the DPO console: argon2 passwords, the failure limit, CSRF, sessions, signing out."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from privateline.kernel.clock import FakeClock
from privateline.kernel.requests import RequestState
from privateline.services.dpo.accounts import dpo_account, remove_account
from tests.services.dpo.conftest import (
    PASSWORD,
    ConsoleServer,
    audit_entries,
    csrf_of,
    file_request,
    make_account,
    stored_request,
    text_of,
)

WRONG = "The account name or the password is wrong."
PAGES = ["/dpo", "/dpo/register", "/dpo/register/ropa.csv", "/dpo/register/ropa.json", "/dpo/sweeps", "/dpo/audit"]


def test_every_page_needs_a_signed_in_dpo(console: ConsoleServer) -> None:
    stored = file_request(console.system)
    browser = console.browser()
    for path in [*PAGES, f"/dpo/requests/{stored.id}", "/dpo/requests/no-such-id"]:
        answer = browser.get(path)
        assert answer.status_code == 303, path
        location = answer.headers["location"]
        assert location.startswith("/dpo/sign-in"), path
        assert stored.id not in answer.text
    assert browser.get("/dpo/sweeps").headers["location"] == "/dpo/sign-in?next=/dpo/sweeps"
    # A form without a session changes nothing: it is sent to the sign-in page.
    for action in ("approve", "refuse", "extend"):
        answer = browser.post(f"/dpo/requests/{stored.id}/{action}", {"reason": "x", "months": "1"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/dpo/sign-in"
    assert browser.post("/dpo/audit/verify", {}).headers["location"] == "/dpo/sign-in"
    assert stored_request(console.system, stored.id).request.state is RequestState.IDENTITY_VERIFIED
    assert audit_entries(console.system, "dpo.") == []


def test_the_right_password_signs_in_and_a_wrong_one_or_an_unknown_name_does_not(console: ConsoleServer) -> None:
    system = console.system
    make_account(system, "erika")
    browser = console.browser()

    wrong = browser.sign_in("erika", "not the password at all")
    assert wrong.status_code == 401
    assert text_of(wrong.text, "error") == WRONG
    unknown = browser.sign_in("mallory", PASSWORD)
    assert unknown.status_code == 401
    assert text_of(unknown.text, "error") == WRONG  # the console does not tell which names exist
    assert browser.get("/dpo").status_code == 303

    answer = browser.sign_in("Erika", PASSWORD)  # names are not case-sensitive
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dpo?done=signed_in"
    queue = browser.get("/dpo?done=signed_in")
    assert queue.status_code == 200
    assert text_of(queue.text, "account") == "erika"
    assert text_of(queue.text, "notice") == "You are signed in."
    assert queue.headers["cache-control"] == "no-store"
    set_cookie = answer.headers["set-cookie"]
    assert "Path=/dpo" in set_cookie and "HttpOnly" in set_cookie and "Secure" in set_cookie

    with system.database.reading() as connection:
        row = connection.execute(sa.select(dpo_account)).one()
    assert row.last_sign_in_at == system.clock.now()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    # Failed attempts write nothing (a known name answers as fast as an unknown one); the
    # sign-in names the account, and no data subject.
    assert audit_entries(system, "dpo.signed") == [("dpo.signed_in", None, {"by": "dpo:erika"})]


def test_sign_in_is_limited_per_source_and_per_name_and_the_limit_lifts(
    console: ConsoleServer, clock: FakeClock
) -> None:
    make_account(console.system, "erika")
    make_account(console.system, "hans", "another long password")
    browser = console.browser(source="198.51.100.20")
    for _ in range(5):
        assert browser.sign_in("erika", "a wrong password").status_code == 401
    blocked = browser.sign_in("erika", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert text_of(blocked.text, "error") == "Too many failed sign-ins. Please try again in 15 minutes."
    # The whole source waits, whichever account it tries ...
    assert browser.sign_in("hans", "another long password").status_code == 429
    # ... and the name waits, from wherever it is tried.
    assert console.browser(source="198.51.100.99").sign_in("erika", PASSWORD).status_code == 429
    assert console.browser(source="198.51.100.99").sign_in("hans", "another long password").status_code == 303

    clock.advance(timedelta(minutes=14, seconds=59))
    assert browser.sign_in("erika", PASSWORD).status_code == 429
    clock.advance(timedelta(seconds=1))
    assert browser.sign_in("erika", PASSWORD).status_code == 303
    assert browser.get("/dpo").status_code == 200


def test_a_name_is_protected_against_guesses_from_many_sources(console: ConsoleServer) -> None:
    make_account(console.system, "erika")
    for n in range(5):
        assert console.browser(source=f"192.0.2.{n + 1}").sign_in("erika", "guess guess guess").status_code == 401
    assert console.browser(source="192.0.2.77").sign_in("erika", PASSWORD).status_code == 429


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_form_without_its_sessions_csrf_token_is_refused_with_403(console: ConsoleServer, token: str | None) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system)
    browser = console.signed_in()
    forms = [
        (f"/dpo/requests/{stored.id}/approve", {}),
        (f"/dpo/requests/{stored.id}/refuse", {"reason": "manifestly unfounded"}),
        ("/dpo/audit/verify", {}),
        ("/dpo/sign-out", {}),
    ]
    for action, fields in forms:
        data = dict(fields) if token is None else {"csrf": token, **fields}
        answer = browser.post(action, data)
        assert answer.status_code == 403, action
        assert "The form was refused" in answer.text
    assert stored_request(system, stored.id).request.state is RequestState.IDENTITY_VERIFIED
    assert [k for k, _, _ in audit_entries(system, "dpo.")] == ["dpo.account_added", "dpo.signed_in"]
    assert browser.get("/dpo").status_code == 200  # still signed in


def test_the_sign_in_form_needs_its_token_too(console: ConsoleServer) -> None:
    make_account(console.system)
    browser = console.browser()
    browser.get("/dpo/sign-in")
    answer = browser.post("/dpo/sign-in", {"name": "erika", "password": PASSWORD})
    assert answer.status_code == 403
    assert browser.get("/dpo").status_code == 303


def test_signing_out_ends_the_session_even_if_the_cookie_comes_back(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    browser = console.signed_in()
    kept = browser.cookie
    answer = browser.submit("/dpo", "/dpo/sign-out")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dpo/sign-in?done=signed_out"
    assert browser.cookie is None
    assert text_of(browser.get(answer.headers["location"]).text, "notice") == "You are signed out."
    replayed = console.browser()
    replayed.cookie = kept
    assert replayed.get("/dpo").status_code == 303
    assert audit_entries(system, "dpo.signed_out") == [("dpo.signed_out", None, {"by": "dpo:erika"})]


def test_a_removed_account_is_signed_out_at_its_next_request(console: ConsoleServer) -> None:
    system = console.system
    make_account(system, "erika")
    browser = console.signed_in("erika")
    with system.database.unit_of_work() as uow:
        assert remove_account(uow.connection, "erika", system.clock.now(), by="test")
        uow.commit()
    assert browser.get("/dpo").status_code == 303
    # An account created again under the same name does not inherit the old session.
    make_account(system, "erika")
    assert browser.get("/dpo").status_code == 303


def test_the_session_ends_after_half_an_hour_without_use(console: ConsoleServer, clock: FakeClock) -> None:
    make_account(console.system)
    browser = console.signed_in()
    clock.advance(timedelta(minutes=29))
    assert browser.get("/dpo").status_code == 200
    clock.advance(timedelta(minutes=30))
    assert browser.get("/dpo").status_code == 303


def test_after_signing_in_the_console_returns_to_the_page_asked_for_and_never_elsewhere(
    console: ConsoleServer,
) -> None:
    make_account(console.system)
    browser = console.browser()
    asked = browser.get("/dpo/sweeps")
    page = browser.get(asked.headers["location"])
    assert 'name="next" value="/dpo/sweeps"' in page.text
    answer = browser.post(
        "/dpo/sign-in", {"csrf": csrf_of(page.text), "name": "erika", "password": PASSWORD, "next": "/dpo/sweeps"}
    )
    assert answer.headers["location"] == "/dpo/sweeps"
    for elsewhere in ("//evil.example/dpo", "https://evil.example/", "/dpo/../device", "/dpox"):
        other = console.browser()
        assert other.sign_in("erika", PASSWORD, next_page=elsewhere).headers["location"] == "/dpo?done=signed_in"
