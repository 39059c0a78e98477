"""DEV-6: the profile of the information services is changed, saved and deleted in the portal;
the nickname is set and cleared; bad input is refused with a reason and changes nothing."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest

from privateline.app.system import System
from privateline.services.devices.nicknames import voip_nickname
from privateline.services.devices.profiles import info_profile
from privateline.services.devices.records import Device
from privateline.storage.audit_log import AuditLog
from tests.services.devices.portal.conftest import (
    Browser,
    PortalServer,
    add_device,
    audit_kinds,
    csrf_of,
    rows_of,
    signed_in,
)


def _profile(system: System, record: Device) -> tuple[object, object] | None:
    rows = rows_of(system, info_profile, record.id)
    return None if not rows else (rows[0]["city"], rows[0]["birth_date"])


@pytest.mark.promise("DEV-6")
def test_the_owner_edits_and_deletes_the_profile_in_the_portal(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    assert _profile(system, record) is None

    answer = browser.submit("/device/profile", action="save", city="  Zwolle ", birth_date="1970-04-23")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device?lang=en&done=profile_saved#profile"
    assert _profile(system, record) == ("Zwolle", date(1970, 4, 23))
    page = browser.get("/device").text
    assert 'value="Zwolle"' in page and 'value="1970-04-23"' in page

    assert browser.submit("/device/profile", action="save", city="Köln", birth_date="").status_code == 303
    assert _profile(system, record) == ("Köln", None)

    answer = browser.submit("/device/profile", action="delete")
    assert answer.status_code == 303
    assert _profile(system, record) is None
    assert "The profile has been deleted." in browser.get(answer.headers["location"]).text

    assert audit_kinds(system, record)[-3:] == [
        "device.portal.profile_saved",
        "device.portal.profile_saved",
        "device.portal.profile_deleted",
    ]
    with system.database.reading() as connection:
        details = [e.detail for e in AuditLog(connection).entries()]
    assert "Zwolle" not in str(details) and "1970" not in str(details)  # no profile values in the trail


def test_the_owner_sets_and_clears_the_nickname(portal: PortalServer) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    answer = browser.submit("/device/nickname", action="set", nickname="Küche 3")
    assert answer.status_code == 303
    assert [r["nickname"] for r in rows_of(system, voip_nickname, record.id)] == ["Küche 3"]
    assert 'id="current-nickname">Küche 3<' in browser.get("/device").text
    assert browser.submit("/device/nickname", action="clear").status_code == 303
    assert rows_of(system, voip_nickname, record.id) == []
    assert audit_kinds(system, record)[-2:] == ["device.portal.nickname_set", "device.portal.nickname_cleared"]


def _seeded(portal: PortalServer) -> tuple[Device, Browser]:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    assert browser.submit("/device/nickname", action="set", nickname="Oma").status_code == 303
    assert browser.submit("/device/profile", action="save", city="Zwolle", birth_date="1970-04-23").status_code == 303
    return record, browser


TOMORROW = (date(2026, 3, 1) + timedelta(days=1)).isoformat()  # the fake clock starts on 2026-03-01


@pytest.mark.parametrize(
    ("path", "fields", "reason"),
    [
        ("/device/nickname", {"action": "set", "nickname": "x" * 41}, "A nickname has 1 to 40 characters."),
        ("/device/nickname", {"action": "set", "nickname": "   "}, "A nickname has 1 to 40 characters."),
        ("/device/nickname", {"action": "set", "nickname": "<script>"}, "A nickname has no control characters"),
        (
            "/device/profile",
            {"action": "save", "city": "Zwolle", "birth_date": TOMORROW},
            "between 1900-01-01 and today",
        ),
        ("/device/profile", {"action": "save", "city": "Zwolle", "birth_date": "1899-12-31"}, "between 1900-01-01"),
        ("/device/profile", {"action": "save", "city": "Zwolle", "birth_date": "23.04.1970"}, "as YYYY-MM-DD"),
        ("/device/profile", {"action": "save", "city": "Zwolle", "birth_date": "1970-02-30"}, "as YYYY-MM-DD"),
        ("/device/profile", {"action": "save", "city": "Zwolle", "birth_date": "yesterday"}, "as YYYY-MM-DD"),
        ("/device/profile", {"action": "save", "city": "Z" * 81, "birth_date": ""}, "at most 80 printable characters"),
        ("/device/profile", {"action": "rename"}, "Use one of the buttons of the form."),
        ("/device/update", {"version": "", "decision": "accepted"}, "The form names no software version."),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(
    portal: PortalServer, path: str, fields: dict[str, str], reason: str
) -> None:
    system = portal.system
    record, browser = _seeded(portal)
    before = (rows_of(system, voip_nickname, record.id), rows_of(system, info_profile, record.id))
    kinds = audit_kinds(system, record)
    answer = browser.submit(path, **fields)
    assert answer.status_code == 422
    assert reason in html.unescape(answer.text)
    assert 'id="services"' in answer.text  # the overview again, with the reason on top
    assert (rows_of(system, voip_nickname, record.id), rows_of(system, info_profile, record.id)) == before
    assert audit_kinds(system, record) == kinds  # no change recorded either


def test_an_oversized_or_foreign_form_is_refused(portal: PortalServer) -> None:
    system = portal.system
    record, browser = _seeded(portal)
    token = csrf_of(browser.get("/device").text)
    big = browser.post("/device/nickname", {"csrf": token, "action": "set", "nickname": "y" * 10_000})
    assert big.status_code == 413
    as_json = browser.request("POST", "/device/nickname", json={"csrf": token, "action": "set", "nickname": "Mallory"})
    assert as_json.status_code == 415
    assert [r["nickname"] for r in rows_of(system, voip_nickname, record.id)] == ["Oma"]
