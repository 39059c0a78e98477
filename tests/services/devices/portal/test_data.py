"""The overview and the JSON export show every piece of data held about the phone, and never a
password form; the portal never asks who the owner is (DEV-5)."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.services.devices.nicknames import set_nickname
from privateline.services.devices.profiles import update_profile
from privateline.services.devices.records import Device
from privateline.services.devices.reports import device_report, public_network_fingerprint
from privateline.services.devices.updates import Decision, Firmware, add_firmware, decide
from privateline.services.voip.bindings import replace_bindings
from privateline.storage.declarations import column_categories, store_of
from tests.services.devices.conftest import sip_registration
from tests.services.devices.portal.conftest import PortalServer, add_device, audit_kinds, signed_in

PASSWORD = "user.authorization.device_password"
PASSWORD_COLUMNS = ("sip_ha1_md5", "sip_ha1_sha256", "portal_hash")
_TABLE = re.compile(r'<table class="store" data-store="(\w+)">(.*?)</table>', re.S)
_ROW = re.compile(
    r'<td><code>(\w+)</code></td>\s*<td class="categories">(.*?)</td>\s*<td class="value[^"]*">(.*?)</td>', re.S
)


def _filled_phone(system: System) -> Device:
    """A phone with data in every store about devices."""
    record = add_device(
        system, password="own-pw-55", product="Gigaset N510 IP PRO", internal_ip="192.168.1.40", software_version="42.1"
    )
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        c = uow.connection
        c.execute(
            sa.insert(device_report).values(
                device_id=record.id,
                reported_at=now,
                private_ip="192.168.1.40",
                private_port=5062,
                public_network=public_network_fingerprint(system.pseudonymizer, "203.0.113.5"),
                device_name="Werkstatt",
                software_version="42.1",
            )
        )
        set_nickname(c, record.id, "Tante Ju", now)
        # A SIP registration (DEV-4), as the registrar stores it.
        replace_bindings(c, {record.number: [sip_registration(record.number, now)]})
        update_profile(c, record.id, now, {"city": "Den Haag", "birth_date": date(1961, 8, 13)})
        add_firmware(
            c,
            Firmware(
                "Gigaset N510 IP PRO",
                "42.7",
                "https://firmware.example.net/n510/42.7.bin",
                {"en": "Faster.", "de": "Schneller.", "nl": "Sneller."},
                now,
            ),
        )
        decide(c, record.id, record.product, "42.1", "42.7", Decision.DECLINED, now)
        uow.commit()
    return record


def _device_stores(system: System) -> list[sa.Table]:
    found = []
    for table in system.tables:
        declaration = store_of(table)
        if declaration is not None and declaration.subject_kind == "device_owner":
            found.append(table)
    return found


def _stored_rows(system: System, table: sa.Table, record: Device) -> list[dict[str, Any]]:
    declaration = store_of(table)
    assert declaration is not None and declaration.subject_column is not None
    with system.database.reading() as connection:
        rows = connection.execute(sa.select(table).where(table.c[declaration.subject_column] == record.id))
        return [dict(r._mapping) for r in rows]


def _shown(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_json(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _tables_in(page: str) -> dict[str, list[dict[str, tuple[str, str]]]]:
    """store name -> rows, each column -> (categories cell, value cell) as shown."""
    tables: dict[str, list[dict[str, tuple[str, str]]]] = {}
    for name, body in _TABLE.findall(page):
        row = {column: (html.unescape(kinds), html.unescape(value)) for column, kinds, value in _ROW.findall(body)}
        tables.setdefault(name, []).append(row)
    return tables


def test_the_overview_shows_every_stored_piece_of_device_data_but_no_password_form(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = signed_in(portal, record, password="own-pw-55")
    page = browser.get("/device").text
    shown = _tables_in(page)
    stores = _device_stores(system)
    assert {t.name for t in stores} >= {"device", "device_report", "voip_nickname", "info_profile", "update_decision"}
    for table in stores:
        rows = _stored_rows(system, table, record)
        assert rows, f"the test must put data into {table.name}"
        assert len(shown.get(table.name, [])) == len(rows), table.name
        declaration = store_of(table)
        assert declaration is not None
        assert f'id="activity-{declaration.activity}"' in page  # grouped by the activity served
        for stored, on_page in zip(rows, shown[table.name], strict=True):
            assert set(on_page) == {c.name for c in table.columns}
            for column in table.columns:
                kinds, value = on_page[column.name]
                categories = column_categories(column) or ()
                for category in categories:
                    assert f"({category})" in re.sub(r"</?code>", "", kinds).replace("<br>", " ")
                if PASSWORD in categories:
                    assert value == "stored (not shown)"
                else:
                    assert value == _shown(stored[column.name]), (table.name, column.name)
    for name in PASSWORD_COLUMNS:
        assert getattr(record, name) not in page
    assert "own-pw-55" not in page
    assert page.count("stored (not shown)") == 3
    assert "A keyed fingerprint of the public address, not the address itself" in page
    assert "203.0.113.5" not in page
    # The portal's own record of the sign-in is shown too, under the phone's pseudonym.
    trail = shown["audit_entry"]
    assert [row["kind"][1] for row in trail] == ["device.portal.signed_in"]
    assert trail[0]["subject"][1] == system.pseudonymizer.pseudonym("device_owner", record.number)


def test_the_export_holds_everything_as_json_without_password_forms(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = signed_in(portal, record, password="own-pw-55")
    answer = browser.get("/device/export.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["cache-control"] == "no-store"
    for column in PASSWORD_COLUMNS:
        assert getattr(record, column) not in answer.text
    document = json.loads(answer.text)
    assert document["device"] == {"number": record.number}
    assert document["services"] == {"voip": True, "info": True, "messaging": True}
    assert document["update_offer"]["version"] == "42.7"
    assert document["update_offer"]["decision"] == "declined"
    exported = {s["store"]: s for s in document["stores"]}
    for table in _device_stores(system):
        declaration = store_of(table)
        assert declaration is not None
        store = exported[table.name]
        assert store["activity"] == declaration.activity
        passwords = {c.name for c in table.columns if PASSWORD in (column_categories(c) or ())}
        assert set(store["not_shown"]) == passwords
        assert store["columns"] == {
            c.name: list(column_categories(c) or ()) for c in table.columns if c.name not in passwords
        }
        expected = [
            {k: _as_json(v) for k, v in row.items() if k not in passwords}
            for row in _stored_rows(system, table, record)
        ]
        assert store["rows"] == expected, table.name
    assert exported["audit_entry"]["activity"] == "privacy_audit_trail"
    assert [r["kind"] for r in exported["audit_entry"]["rows"]] == ["device.portal.signed_in"]
    # The download itself is recorded.
    assert audit_kinds(system, record)[-1] == "device.portal.exported"


def test_the_export_needs_a_signed_in_session(portal: PortalServer) -> None:
    record = _filled_phone(portal.system)
    browser = portal.browser()
    browser.get("/device")  # an anonymous session is not enough
    answer = browser.get("/device/export.json")
    assert answer.status_code == 401
    assert record.number not in answer.text


def test_another_phones_data_never_appears(portal: PortalServer) -> None:
    system = portal.system
    mine = _filled_phone(system)
    theirs = add_device(system, password="their-pw-9")
    browser = signed_in(portal, theirs, password="their-pw-9")
    page = browser.get("/device").text
    export = browser.get("/device/export.json").text
    for secret in (mine.number, mine.serial, mine.mac, "Tante Ju", "Den Haag", "Werkstatt"):
        assert secret not in page and secret not in export


_INPUT = re.compile(r"<(input|textarea|select)\b([^>]*)>")
_ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')
ASKED = {
    "csrf",
    "number",
    "password",
    "service",
    "on",
    "action",
    "nickname",
    "city",
    "birth_date",
    "version",
    "decision",
}


@pytest.mark.promise("DEV-5")
def test_the_portal_never_asks_who_the_owner_is(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = portal.browser()
    pages = [browser.get("/device", params={"lang": lang}).text for lang in ("en", "de", "nl")]
    browser = signed_in(portal, record, password="own-pw-55")
    pages += [browser.get("/device", params={"lang": lang}).text for lang in ("en", "de", "nl")]
    names: set[str] = set()
    for page in pages:
        for _tag, attributes in _INPUT.findall(page):
            fields = dict(_ATTRIBUTE.findall(attributes))
            names.add(fields["name"])
            assert fields.get("type", "text") in {"hidden", "text", "password", "date"}
            assert fields.get("autocomplete", "off") in {"off", "username", "current-password"}
    # Only the phone's credentials and the settings of its services: no name, e-mail, address, phone.
    assert names == ASKED
