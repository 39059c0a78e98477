"""The owner's rights at `/device/rights`: access and portability answered at once, erasure carried
out at once, rectification left for the DPO, every request listed with its state (R-2, R-4, R-6, R-13).

Identity first: nothing about a phone is shown, handed out, changed or erased before its number
and device password are checked, and a package is handed out only to the phone it belongs to.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from privateline.app.system import System
from privateline.kernel.requests import RequestKind, RequestState
from privateline.services.devices.nicknames import set_nickname, voip_nickname
from privateline.services.devices.portal.forms import MAX_RECTIFICATION
from privateline.services.devices.profiles import info_profile, update_profile
from privateline.services.devices.records import Device
from privateline.services.devices.reports import device_report, public_network_fingerprint
from privateline.services.devices.updates import (
    Decision,
    Firmware,
    add_firmware,
    decide,
    newest_firmware,
    update_decision,
)
from privateline.services.privacy.held import jsonable
from privateline.services.voip.bindings import replace_bindings
from privateline.storage.declarations import store_of
from privateline.storage.erasure_file import ErasureFile
from privateline.storage.rights_requests import RightsRequests, StoredRequest, rights_request
from tests.mentions import mentions
from tests.services.devices.conftest import sip_registration
from tests.services.devices.portal.conftest import (
    Browser,
    PortalServer,
    add_device,
    audit_kinds,
    csrf_of,
    portal_app,
    reload,
    rows_of,
    signed_in,
)

PASSWORD = "own-pw-77"
PASSWORD_COLUMNS = ("sip_ha1_md5", "sip_ha1_sha256", "portal_hash")
NOT_FOUND = {"detail": "Not Found"}


def _filled_phone(system: System, **overrides: object) -> Device:
    """A phone with data in every store about devices: report, nickname, profile, update decision."""
    record = add_device(
        system, password=PASSWORD, product="Gigaset N510 IP PRO", internal_ip="192.168.1.40", software_version="42.1"
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
        if newest_firmware(c, record.product) is None:
            add_firmware(
                c,
                Firmware(
                    record.product,
                    "42.7",
                    "https://firmware.example.net/n510/42.7.bin",
                    {"en": "Faster.", "de": "Schneller.", "nl": "Sneller."},
                    now,
                ),
            )
        decide(c, record.id, record.product, "42.1", "42.7", Decision.DECLINED, now)
        uow.commit()
    return record


def _request_id(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    found = re.search(r"#request-([A-Za-z0-9_-]+)$", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return found.group(1)


def _file(browser: Browser, kind: str, lang: str = "en", **fields: str) -> httpx.Response:
    page = browser.get("/device/rights", params={"lang": lang})
    assert page.status_code == 200, page.text
    return browser.post(f"/device/rights?lang={lang}", {"csrf": csrf_of(page.text), "kind": kind, **fields})


def _requests_of(system: System, record: Device) -> list[StoredRequest]:
    pseudonym = system.pseudonymizer.pseudonym("device_owner", record.number)
    with system.database.reading() as connection:
        return RightsRequests(connection).of_subject(pseudonym)


def _request_count(system: System) -> int:
    with system.database.reading() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(rights_request)).scalar_one())


def _device_stores(system: System) -> list[sa.Table]:
    return [t for t in system.tables if (d := store_of(t)) is not None and d.subject_kind == "device_owner"]


def _expected_rows(system: System, table: sa.Table, record: Device) -> list[dict[str, Any]]:
    """What the package must carry for the store: every row of the phone, without password forms."""
    declaration = store_of(table)
    assert declaration is not None and declaration.subject_column is not None
    shown = [c for c in table.columns if c.name not in PASSWORD_COLUMNS]
    with system.database.reading() as connection:
        query = sa.select(*shown).where(table.c[declaration.subject_column] == record.id)
        rows = connection.execute(query.order_by(*table.primary_key.columns))
        return [{k: jsonable(v) for k, v in r._mapping.items()} for r in rows]


def _download(browser: Browser, request_id: str, lang: str = "en") -> dict[str, Any]:
    answer = browser.get(f"/device/rights/{request_id}/package.json", params={"lang": lang})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["cache-control"] == "no-store"
    document: dict[str, Any] = answer.json()
    return document


def _by_store(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {store["store"]: store for store in document["stores"]}


# Access and portability (R-2, R-6) ---------------------------------------------------


@pytest.mark.promise("R-2", "R-6")
def test_an_access_request_is_answered_at_once_with_every_store_of_the_phone_and_what_art_15_asks(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = _filled_phone(system)
    other = _filled_phone(system)
    browser = signed_in(portal, record, PASSWORD)

    answer = _file(browser, "access")
    request_id = _request_id(answer)
    assert answer.headers["location"] == f"/device/rights?lang=en&done=access#request-{request_id}"
    [stored] = _requests_of(system, record)
    assert (stored.id, stored.request.kind, stored.request.state) == (request_id, RequestKind.ACCESS, "completed")
    assert stored.request.closed_at == system.clock.now()

    page = browser.get(answer.headers["location"]).text
    assert "Your request for access has been answered" in page
    assert f'href="/device/rights/{request_id}/package.json?lang=en"' in page

    document = _download(browser, request_id)
    assert document["format"] == "privateline.subject-data/1"
    assert document["subject_kind"] == "device_owner"
    assert document["request"]["id"] == request_id and document["request"]["kind"] == "access"
    stores = _by_store(document)
    device_stores = _device_stores(system)
    assert {t.name for t in device_stores} >= {"device", "device_report", "voip_nickname", "info_profile"}
    for table in device_stores:
        expected = _expected_rows(system, table, record)
        assert expected, f"the test must put data into {table.name}"
        assert stores[table.name]["rows"] == expected, table.name
    # The factory record is there, its password forms only named as stored, never handed out.
    factory = stores["device"]
    assert factory["rows"][0]["serial"] == record.serial and factory["rows"][0]["number"] == record.number
    assert set(factory["not_shown"]) == set(PASSWORD_COLUMNS)
    assert stores["device_report"]["rows"][0]["device_name"] == "Werkstatt"
    assert stores["voip_nickname"]["rows"][0]["nickname"] == "Tante Ju"
    assert stores["info_profile"]["rows"][0]["city"] == "Den Haag"
    # The request itself and the audit trail are data about the phone too (by its pseudonym).
    assert [r["id"] for r in stores["rights_request"]["rows"]] == [request_id]
    assert stores["audit_entry"]["rows"]
    text = json.dumps(document)
    fresh = reload(system, record.number)
    for secret in (fresh.portal_hash, fresh.sip_ha1_md5, fresh.sip_ha1_sha256, PASSWORD):
        assert secret not in text
    # Nothing of the other phone.
    assert not mentions(text, other.serial) and not mentions(text, other.number)

    # Beside the data, what Art. 15(1) GDPR asks to be told, per activity holding it.
    processing = document["processing"]
    activities = {a["id"]: a for a in processing["activities"]}
    assert {s["activity"] for s in document["stores"]} <= set(activities)
    for activity in activities.values():
        for key in ("purpose", "legal_basis", "categories", "recipients", "retention", "source", "automated_decision"):
            assert key in activity, (activity["id"], key)
        assert activity["purpose"] and activity["legal_basis"] and activity["retention"] and activity["source"]
    register = system.loaded.register
    assert processing["controller"]["name"] == register.controller.name
    assert processing["data_protection_officer"]["email"] == register.dpo.email
    assert processing["supervisory_authority"]["name"] == register.supervisory_authority.name
    assert len(processing["rights"]) >= 8
    kinds = audit_kinds(system, record)
    assert {"rights.received", "rights.identity_verified", "rights.completed", "rights.access_exported"} <= set(kinds)


@pytest.mark.promise("R-6")
def test_portability_hands_over_the_same_machine_readable_json_in_the_owners_language(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = signed_in(portal, record, PASSWORD)
    access = _download(browser, _request_id(_file(browser, "access")))
    answer = _file(browser, "portability", lang="nl")
    portable_id = _request_id(answer)
    assert "Uw verzoek om een overdraagbare kopie is beantwoord" in browser.get(answer.headers["location"]).text
    portable = _download(browser, portable_id, lang="nl")

    assert portable["request"]["kind"] == "portability"
    assert portable["format"] == access["format"] and set(portable) == set(access)
    assert [s["store"] for s in portable["stores"]] == [s["store"] for s in access["stores"]]
    for table in _device_stores(system):
        assert _by_store(portable)[table.name] == _by_store(access)[table.name]
    # The statements come in the language asked for.
    assert portable["processing"]["language"] == "nl"
    assert portable["processing"]["controller"]["role"] != access["processing"]["controller"]["role"]
    assert [r.request.state for r in _requests_of(system, record)] == [RequestState.COMPLETED] * 2


# The list of requests (R-13) --------------------------------------------------------------


@pytest.mark.promise("R-13")
def test_every_request_is_listed_with_its_state_and_rectification_stays_open_for_the_dpo(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = add_device(system)
    browser = signed_in(portal, record)
    empty = browser.get("/device/rights").text
    assert "You have made no requests yet." in empty

    access_id = _request_id(_file(browser, "access"))
    wrong = "The serial number shown is SN-1, but the label on my phone says SN-7.\nPlease correct it & tell me <b>."
    rectification_id = _request_id(_file(browser, "rectification", text=wrong))
    erasure_id = _request_id(_file(browser, "erasure", confirm="yes"))

    stored = {r.id: r for r in _requests_of(system, record)}
    assert set(stored) == {access_id, rectification_id, erasure_id}
    assert stored[access_id].request.state is RequestState.COMPLETED
    assert stored[erasure_id].request.state is RequestState.COMPLETED
    rectification = stored[rectification_id]
    assert rectification.request.state is RequestState.IDENTITY_VERIFIED
    assert rectification.request.closed_at is None
    assert rectification.detail == {"via": "device-portal", "text": wrong}
    # It waits in the DPO's queue; the requests answered at once do not.
    with system.database.reading() as connection:
        queued = [r.id for r in RightsRequests(connection).queue(system.clock.now())]
    assert queued == [rectification_id]

    page = browser.get("/device/rights").text
    assert "Your requests" in page
    rows = dict(re.findall(r'<tr id="request-([^"]+)" class="request-row"(.*?)</tr>', page, re.S))
    assert set(rows) == {access_id, rectification_id, erasure_id}
    for request_id, kind, state in (
        (access_id, "Access", "Completed"),
        (rectification_id, "Rectification", "Identity verified; waiting for the data protection officer"),
        (erasure_id, "Erasure", "Completed"),
    ):
        row = html.unescape(rows[request_id])
        assert f'<td class="kind">{kind}' in row
        assert f'<td class="state">{state}</td>' in row
        assert '<td class="received">2026-03-01</td>' in row
        assert '<td class="due">2026-04-01</td>' in row  # one month after receipt (Art. 12(3))
    assert "package.json" in rows[access_id]
    assert "package.json" not in rows[rectification_id] and "package.json" not in rows[erasure_id]
    # The owner's text is shown back, escaped.
    assert html.escape(wrong) in rows[rectification_id]
    assert "<b>." not in page

    # A reason the DPO gives (a refusal, an extension) is shown with the request.
    later = system.clock.now()
    with system.database.unit_of_work() as uow:
        RightsRequests(uow.connection).transition(
            rectification_id,
            lambda r: r.refuse("The label shows the part number, not the serial.", later),
            later,
            "dpo:erika",
        )
        uow.commit()
    row = html.unescape(
        dict(
            re.findall(
                r'<tr id="request-([^"]+)" class="request-row"(.*?)</tr>', browser.get("/device/rights").text, re.S
            )
        )[rectification_id]
    )
    assert '<td class="state">Refused</td>' in row
    assert '<td class="reason">The label shows the part number, not the serial.</td>' in row


def test_the_page_offers_every_right_that_applies_and_names_the_dpo_for_anything_else(
    portal: PortalServer,
) -> None:
    record = add_device(portal.system)
    browser = signed_in(portal, record)
    page = browser.get("/device/rights").text
    offered = re.findall(r'<input type="hidden" name="kind" value="(\w+)">', page)
    # Rectification twice: field by field, and in words for the DPO.
    assert offered == ["access", "portability", "rectification", "rectification", "erasure", "restriction"]
    # The shipped register has no processing of a phone's data on legitimate interests, for
    # direct marketing or on consent: the page says so instead of offering an empty form.
    assert 'id="no-objection"' in page and 'id="request-objection"' not in page
    assert 'id="no-consent"' in page and 'id="request-consent-withdrawal"' not in page
    dpo = portal.system.loaded.register.dpo
    other = html.unescape(page[page.index('id="other-rights"') :])
    assert "For anything else, or if you prefer to write, please contact our data protection officer:" in other
    for shown in (dpo.name, dpo.address.street, f"{dpo.address.postcode} {dpo.address.city}", dpo.email, dpo.phone):
        assert shown in other
    # Nothing else can be filed by hand.
    for kind in ("", "ACCESS", "delete"):
        refused = _file(browser, kind)
        assert refused.status_code == 422, kind
        assert "Choose one of the requests offered on this page." in refused.text
    for kind, fields in (
        ("objection", {"activity": "device_checkin"}),  # a contract: not open to objection
        ("consent_withdrawal", {"activity": "information_services"}),  # not on consent
        ("restriction", {"action": "restrict", "activity": "rights_requests"}),  # a legal obligation
        ("restriction", {"action": "restrict", "activity": "no_such_activity"}),
        ("restriction", {"action": "lift", "activity": "information_services"}),  # not restricted
    ):
        refused = _file(browser, kind, **fields)
        assert refused.status_code == 422, (kind, fields)
        assert "Choose one of the processing activities offered on this page." in html.unescape(refused.text)
    assert _request_count(portal.system) == 0


def test_bad_requests_are_refused_with_the_reason_and_file_nothing(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = signed_in(portal, record, PASSWORD)
    cases = [
        ({"kind": "rectification", "text": "   "}, "Say which data is wrong and what it should be."),
        ({"kind": "rectification", "text": "x" * (MAX_RECTIFICATION + 1)}, "has at most 1000 characters"),
        ({"kind": "rectification", "text": "wrong\x00number"}, "no other control characters"),
        ({"kind": "erasure"}, "Tick the box to confirm"),
        ({"kind": "erasure", "confirm": "no"}, "Tick the box to confirm"),
    ]
    for fields, reason in cases:
        refused = _file(browser, **fields)
        assert refused.status_code == 422, fields
        assert reason in html.unescape(refused.text)
    assert _request_count(system) == 0
    assert rows_of(system, device_report, record.id)  # nothing erased
    # The longest text is accepted in any script, though its form is larger than the portal's other forms.
    longest = "€" * MAX_RECTIFICATION
    accepted = _file(browser, "rectification", text=longest)
    assert accepted.status_code == 303
    [stored] = _requests_of(system, record)
    assert stored.detail["text"] == longest


# Erasure (R-4) ------------------------------------------------------------------------------


@pytest.mark.promise("R-4")
def test_erasure_through_the_page_removes_the_phones_data_and_lists_what_was_kept_and_why(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = _filled_phone(system)
    bystander = _filled_phone(system)
    browser = signed_in(portal, record, PASSWORD)

    answer = _file(browser, "erasure", confirm="yes")
    request_id = _request_id(answer)
    assert answer.headers["location"] == f"/device/rights?lang=en&done=erasure#request-{request_id}"

    for table in (device_report, voip_nickname, info_profile, update_decision):
        assert rows_of(system, table, record.id) == [], table.name
        assert rows_of(system, table, bystander.id), table.name
    cleared = reload(system, record.number)
    assert (cleared.internal_ip, cleared.software_version) == (None, None)
    assert (cleared.number, cleared.serial, cleared.mac, cleared.in_service) == (
        record.number,
        record.serial,
        record.mac,
        True,
    )
    [stored] = _requests_of(system, record)
    assert stored.request.state is RequestState.COMPLETED
    assert "rights.erased" in audit_kinds(system, record)

    page = browser.get(answer.headers["location"]).text
    assert "The data of your phone has been erased." in page
    report = html.unescape(page[page.index(f'id="report-{request_id}"') :])
    erased = report[report.index('<ul class="erased">') : report.index("</ul>")]
    for store in ("device_report", "voip_nickname", "info_profile", "update_decision"):
        assert f'data-store="{store}"' in erased and f"<code>{store}</code> · entries: 1" in erased
    kept = dict(re.findall(r'<li data-store="(\w+)">(.*?)</li>', report[report.index('<ul class="kept">') :], re.S))
    assert "device" in kept and "audit_entry" in kept and "rights_request" in kept
    assert "cannot be used without it while it is in service: number, serial, mac" in kept["device"]
    assert "Kept because a law obliges us to keep it (Art. 5(2) GDPR" in kept["audit_entry"]
    assert "Art. 17(3)(b) GDPR), and used for nothing else." in kept["rights_request"]

    # The session stays valid: the factory record remains, and the overview shows the cleared data.
    overview = browser.get("/device")
    assert overview.status_code == 200
    assert f"Signed in with the number {record.number}." in overview.text
    for store in ("device_report", "voip_nickname", "info_profile", "update_decision"):
        assert f"Nothing stored in {store}." in overview.text
    assert "Werkstatt" not in overview.text and "Tante Ju" not in overview.text and "Den Haag" not in overview.text

    # In German, the reasons are German too.
    german = html.unescape(browser.get("/device/rights", params={"lang": "de"}).text)
    assert "<h1>Ihre Datenschutzrechte</h1>" in german
    assert "Aufbewahrt, weil ein Gesetz uns dazu verpflichtet" in german


def test_an_erasure_that_fails_stays_verified_and_open_for_the_dpo(
    system: System, tmp_path: Path, serve_portal: Callable[[FastAPI], PortalServer]
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("the erasure journal cannot be written below a file")
    broken = serve_portal(portal_app(system, rights=replace(system.rights, erasure_file=ErasureFile(blocked))))
    record = _filled_phone(system)
    browser = signed_in(broken, record, PASSWORD)
    answer = _file(browser, "erasure", confirm="yes")
    request_id = _request_id(answer)
    assert "done=erasure_pending" in answer.headers["location"]
    [stored] = _requests_of(system, record)
    assert stored.id == request_id and stored.request.state is RequestState.IDENTITY_VERIFIED
    assert rows_of(system, device_report, record.id)  # nothing half-erased
    page = browser.get(answer.headers["location"]).text
    assert "could not be carried out at once" in page
    assert "Identity verified; waiting for the data protection officer" in page


# Identity first -----------------------------------------------------------------------------


def _same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.content, a.headers.get("content-type")) == (
        b.status_code,
        b.content,
        b.headers.get("content-type"),
    )
    assert a.headers.get("set-cookie") is None and b.headers.get("set-cookie") is None


def test_nothing_is_shown_or_filed_before_sign_in(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    owner = signed_in(portal, record, PASSWORD)
    request_id = _request_id(_file(owner, "access"))

    stranger = portal.browser(source="198.51.100.7")
    page = stranger.get("/device/rights")
    assert page.status_code == 200
    assert 'id="sign-in"' in page.text and '<input type="hidden" name="then" value="rights">' in page.text
    assert record.number not in page.text and request_id not in page.text and "Your requests" not in page.text
    # A form sent with the anonymous session's own token still files nothing.
    refused = stranger.post("/device/rights", {"csrf": csrf_of(page.text), "kind": "erasure", "confirm": "yes"})
    assert refused.status_code == 401
    assert 'id="sign-in"' in refused.text
    bare = portal.browser().post("/device/rights", {"kind": "access"})
    assert bare.status_code == 401
    assert len(_requests_of(system, record)) == 1
    assert rows_of(system, device_report, record.id)
    # The package of a real request is no more available than that of an invented one.
    real = portal.browser().get(f"/device/rights/{request_id}/package.json")
    invented = portal.browser().get("/device/rights/AAAAAAAAAAAAAAAAAAAAAA/package.json")
    assert real.status_code == 401
    _same_answer(real, invented)


def test_a_wrong_password_gets_nothing_and_says_nothing_about_the_number(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = portal.browser(source="198.51.100.8")
    page = browser.get("/device/rights")
    token = csrf_of(page.text)
    wrong = browser.post(
        "/device/sign-in?lang=en", {"csrf": token, "number": record.number, "password": "not-it", "then": "rights"}
    )
    unknown = portal.browser(source="198.51.100.9")
    token2 = csrf_of(unknown.get("/device/rights").text)
    nobody = unknown.post(
        "/device/sign-in?lang=en", {"csrf": token2, "number": "99999", "password": "not-it", "then": "rights"}
    )
    assert wrong.status_code == nobody.status_code == 401
    message = "The number or the device password is wrong."
    assert message in html.unescape(wrong.text) and message in html.unescape(nobody.text)
    for answer in (wrong, nobody):  # the form still leads back to the rights page
        assert '<input type="hidden" name="then" value="rights">' in answer.text
    after = browser.get("/device/rights")
    assert 'id="sign-in"' in after.text and "Your requests" not in after.text
    refused = browser.post("/device/rights", {"csrf": csrf_of(after.text), "kind": "access"})
    assert refused.status_code == 401
    assert _request_count(system) == 0


def test_a_package_is_handed_only_to_its_own_phone_and_every_other_id_gets_the_same_404(
    portal: PortalServer,
) -> None:
    system = portal.system
    record = _filled_phone(system)
    other = add_device(system)
    owner = signed_in(portal, record, PASSWORD)
    access_id = _request_id(_file(owner, "access"))
    rectification_id = _request_id(_file(owner, "rectification", text="My nickname is misspelt."))
    erasure_id = _request_id(_file(owner, "erasure", confirm="yes"))

    intruder = signed_in(portal, other)
    mine = _request_id(_file(intruder, "access"))
    assert intruder.get(f"/device/rights/{mine}/package.json").status_code == 200
    before = audit_kinds(system, record).count("rights.access_exported")

    reference = intruder.get("/device/rights/AAAAAAAAAAAAAAAAAAAAAA/package.json")
    assert reference.status_code == 404
    assert reference.json() == NOT_FOUND
    for guess in (
        access_id,  # the other phone's real, completed access request
        rectification_id,
        erasure_id,
        access_id[:-1] + ("A" if access_id[-1] != "A" else "B"),
        "1",
        "x" * 64,
        "..%2F..%2Fetc",
    ):
        answer = intruder.get(f"/device/rights/{guess}/package.json")
        _same_answer(answer, reference)
    # The owner's own requests that have no package: the same answer too.
    for own in (rectification_id, erasure_id):
        _same_answer(owner.get(f"/device/rights/{own}/package.json"), reference)
    # An address nobody made looks just the same.
    _same_answer(intruder.get("/device/rights/nothing/here.json"), reference)
    assert audit_kinds(system, record).count("rights.access_exported") == before
    assert record.serial not in intruder.get("/device/rights").text


def test_a_forged_or_tampered_cookie_is_a_stranger(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    owner = signed_in(portal, record, PASSWORD)
    request_id = _request_id(_file(owner, "access"))
    assert owner.cookie is not None
    value = owner.cookie
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "garbage", value.upper()):
        browser = portal.browser()
        browser.cookie = forged
        page = browser.get("/device/rights")
        assert page.status_code == 200
        assert 'id="sign-in"' in page.text and record.number not in page.text and request_id not in page.text
        browser.cookie = forged
        assert browser.get(f"/device/rights/{request_id}/package.json").status_code == 401
        browser.cookie = forged
        token = csrf_of(owner.get("/device/rights").text)
        refused = browser.post("/device/rights", {"csrf": token, "kind": "erasure", "confirm": "yes"})
        assert refused.status_code == 401
    assert len(_requests_of(system, record)) == 1
    assert rows_of(system, device_report, record.id)


def test_the_forms_need_the_sessions_csrf_token(portal: PortalServer) -> None:
    system = portal.system
    record = _filled_phone(system)
    browser = signed_in(portal, record, PASSWORD)
    browser.get("/device/rights")
    for token in (None, "", "forged-token"):
        fields = {"kind": "erasure", "confirm": "yes"} | ({} if token is None else {"csrf": token})
        refused = browser.post("/device/rights", fields)
        assert refused.status_code == 403
    assert _request_count(system) == 0
    assert rows_of(system, device_report, record.id)


# Getting there -------------------------------------------------------------------------------


def test_signing_in_from_the_rights_page_comes_back_to_it(portal: PortalServer) -> None:
    record = add_device(portal.system)
    browser = portal.browser()
    page = browser.get("/device/rights", params={"lang": "de"})
    assert '<a href="/device/rights?lang=nl"' in page.text
    answer = browser.post(
        "/device/sign-in?lang=de",
        {"csrf": csrf_of(page.text), "number": record.number, "password": "factory-pw-1", "then": "rights"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/device/rights?lang=de&done=signed_in"
    assert "<h1>Ihre Datenschutzrechte</h1>" in browser.get(answer.headers["location"]).text
    # Only the portal's own pages: anything else returns to the overview.
    elsewhere = portal.browser()
    page = elsewhere.get("/device")
    answer = elsewhere.post(
        "/device/sign-in",
        {
            "csrf": csrf_of(page.text),
            "number": record.number,
            "password": "factory-pw-1",
            "then": "https://evil.example",
        },
    )
    assert answer.headers["location"] == "/device?lang=en&done=signed_in"
    assert '<p id="rights-link"><a href="/device/rights?lang=en">' in elsewhere.get("/device").text


def test_without_the_rights_engine_the_rights_pages_do_not_exist(
    system: System, serve_portal: Callable[[FastAPI], PortalServer]
) -> None:
    bare = serve_portal(portal_app(system, without_rights=True))
    record = add_device(system)
    browser = signed_in(bare, record)
    assert browser.get("/device/rights").status_code == 404
    assert browser.post("/device/rights", {"kind": "access"}).status_code == 404
    assert browser.get("/device/rights/AAAAAAAAAAAAAAAAAAAAAA/package.json").status_code == 404
    assert 'id="rights-link"' not in browser.get("/device").text
