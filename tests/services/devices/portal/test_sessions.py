"""Signed session cookies and the CSRF check (`privateline.services.sessions`), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.clock import FakeClock
from privateline.services.sessions import CsrfProblem, Session, SessionCookies

KEY = b"k" * 32


def _cookies(clock: FakeClock, key: bytes = KEY, name: str = "pl_test") -> SessionCookies:
    return SessionCookies(key, clock, name=name, path="/test", secure=True)


def _issued(cookies: SessionCookies, session: Session) -> str:
    response = Response()
    cookies.write(response, session)
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def _request(name: str, value: str | None) -> Request:
    headers = [] if value is None else [(b"cookie", f"{name}={value}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/test", "headers": headers, "query_string": b""})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


def test_a_cookie_round_trips_and_holds_only_the_subject_the_times_and_the_token(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    session = cookies.begin("device", 17)
    read = cookies.read(_request("pl_test", _issued(cookies, session)))
    assert read == session
    assert read is not None and read.subject("device") == 17 and read.subject("customer") is None
    response = Response()
    cookies.write(response, session)
    attributes = {a.strip().lower() for a in response.headers["set-cookie"].split(";")[1:]}
    assert attributes == {"httponly", "path=/test", "samesite=lax", "secure"}
    plain = SessionCookies(KEY, clock, name="pl_test", path="/test", secure=False)
    plain.write(response := Response(), session)
    assert "secure" not in response.headers["set-cookie"].lower()


def test_forged_or_foreign_cookies_are_refused(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    value = _issued(cookies, cookies.begin("device", 17))
    assert cookies.read(_request("pl_test", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))) is None
    assert cookies.read(_request("pl_test", "garbage")) is None
    assert cookies.read(_request("pl_test", None)) is None
    other_key = _cookies(clock, key=b"o" * 32)
    assert other_key.read(_request("pl_test", value)) is None
    # A cookie of one portal is worthless to another (the cookie name salts the signature).
    other_portal = _cookies(clock, name="pl_other")
    assert other_portal.read(_request("pl_other", value)) is None


def test_sessions_expire_when_idle_and_at_their_absolute_limit(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    session = cookies.begin("device", 1)
    clock.advance(timedelta(minutes=29, seconds=59))
    assert cookies.read(_request("pl_test", _issued(cookies, session))) is not None
    clock.advance(timedelta(seconds=1))
    assert cookies.read(_request("pl_test", _issued(cookies, session))) is None
    # Renewed on every use, but never beyond twelve hours.
    session = cookies.begin("device", 1)
    began = clock.now()
    for _ in range(24):  # used every 29:59 minutes, for 11:59:36 hours
        clock.advance(timedelta(minutes=29, seconds=59))
        session = cookies.touch(session)
        assert cookies.read(_request("pl_test", _issued(cookies, session))) is not None
    clock.set(began + timedelta(hours=12))
    assert cookies.read(_request("pl_test", _issued(cookies, cookies.touch(session)))) is None


def test_a_revoked_session_is_refused_even_with_a_valid_signature(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    session = cookies.begin("device", 1)
    value = _issued(cookies, session)
    cookies.revoke(session)
    assert cookies.read(_request("pl_test", value)) is None
    fresh = cookies.begin("device", 1)
    assert cookies.read(_request("pl_test", _issued(cookies, fresh))) == fresh


def test_the_csrf_check_compares_the_token_of_the_session(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    session = cookies.begin()
    assert not session.signed_in
    assert cookies.csrf_problem(session, session.csrf_token) is None
    assert cookies.csrf_problem(None, session.csrf_token) is CsrfProblem.NO_SESSION
    assert cookies.csrf_problem(session, None) is CsrfProblem.NO_TOKEN
    assert cookies.csrf_problem(session, "") is CsrfProblem.NO_TOKEN
    assert cookies.csrf_problem(session, cookies.begin().csrf_token) is CsrfProblem.WRONG_TOKEN
    assert cookies.csrf_problem(session, session.csrf_token + "x") is CsrfProblem.WRONG_TOKEN
    assert len({cookies.begin().csrf_token for _ in range(50)}) == 50


def test_a_session_names_both_kind_and_id_or_neither(clock: FakeClock) -> None:
    cookies = _cookies(clock)
    with pytest.raises(ValueError, match="both"):
        cookies.begin("device", None)
    with pytest.raises(ValueError, match="at least"):
        SessionCookies(b"short", clock, name="x", path="/")
