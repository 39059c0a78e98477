"""Every form of the portal carries its session's CSRF token; without it nothing changes."""

from __future__ import annotations

import html

import pytest

from privateline.app.system import System
from privateline.services.devices.nicknames import nickname_of, set_nickname
from privateline.services.devices.profiles import profile_of, update_profile
from privateline.services.devices.records import Device
from tests.services.devices.portal.conftest import (
    PortalServer,
    add_device,
    audit_kinds,
    csrf_of,
    reload,
    signed_in,
)

FORMS = [
    ("/device/services", {"service": "voip", "on": "off"}),
    ("/device/services", {"service": "info", "on": "off"}),
    ("/device/nickname", {"action": "clear"}),
    ("/device/nickname", {"action": "set", "nickname": "Mallory"}),
    ("/device/profile", {"action": "delete"}),
    ("/device/profile", {"action": "save", "city": "Elsewhere", "birth_date": ""}),
    ("/device/update", {"version": "42.3", "decision": "declined"}),
    ("/device/sign-out", {}),
]


def _state(system: System, record: Device) -> tuple[object, ...]:
    with system.database.reading() as connection:
        profile = profile_of(connection, record.id)
        nickname = nickname_of(connection, record.id)
    now = reload(system, record.number)
    return (now.voip_on, now.info_on, nickname, None if profile is None else (profile.city, profile.birth_date))


def _seeded(system: System) -> Device:
    record = add_device(system)
    with system.database.unit_of_work() as uow:
        set_nickname(uow.connection, record.id, "Oma", system.clock.now())
        update_profile(uow.connection, record.id, system.clock.now(), {"city": "Zwolle"})
        uow.commit()
    return record


@pytest.mark.parametrize(("path", "fields"), FORMS)
def test_a_form_without_a_token_or_with_a_wrong_one_is_refused_and_changes_nothing(
    portal: PortalServer, path: str, fields: dict[str, str]
) -> None:
    system = portal.system
    record = _seeded(system)
    browser = signed_in(portal, record)
    own_token = csrf_of(browser.get("/device").text)
    before = _state(system, record)
    # A token of another session (another browser signed in to the same phone).
    foreign = csrf_of(signed_in(portal, record).get("/device").text)
    assert foreign != own_token
    for token in (None, "", "x" * len(own_token), foreign, own_token[:-1]):
        data = dict(fields) if token is None else {**fields, "csrf": token}
        answer = browser.post(path, data)
        assert answer.status_code == 403, (token, answer.text)
        assert "The form was refused" in answer.text
        assert "security token" in answer.text  # the reason, in words
    assert _state(system, record) == before
    assert "device.portal.signed_out" not in audit_kinds(system, record)
    # The session itself is still good, and the right token works.
    assert 'id="services"' in browser.get("/device").text
    assert browser.post("/device/nickname", {"csrf": own_token, "action": "clear"}).status_code == 303


def test_signing_in_needs_the_token_of_the_browsers_own_session(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system)
    # No session cookie at all: refused, with the reason.
    bare = portal.browser()
    answer = bare.post("/device/sign-in", {"csrf": "anything", "number": record.number, "password": "factory-pw-1"})
    assert answer.status_code == 403
    assert "did not send the portal's session cookie" in html.unescape(answer.text)
    # A session, but a token from elsewhere (a page of another browser).
    other_token = csrf_of(portal.browser().get("/device").text)
    browser = portal.browser()
    browser.get("/device")
    answer = browser.post("/device/sign-in", {"csrf": other_token, "number": record.number, "password": "factory-pw-1"})
    assert answer.status_code == 403
    assert not any(kind == "device.portal.signed_in" for kind in audit_kinds(system, record))
    assert 'id="services"' not in browser.get("/device").text


def test_a_change_without_a_session_asks_to_sign_in_again(portal: PortalServer) -> None:
    system = portal.system
    record = _seeded(system)
    before = _state(system, record)
    answer = portal.browser().post("/device/nickname", {"csrf": "x", "action": "clear"})
    assert answer.status_code == 401
    assert "Your session has ended. Please sign in again." in answer.text
    assert _state(system, record) == before
