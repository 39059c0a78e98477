"""The register, the retention sweeps and the audit chain as the DPO console shows them."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from privateline.kernel.clock import FakeClock
from privateline.register.ropa import render_ropa
from privateline.storage.audit_log import audit_entry
from privateline.storage.rights_requests import RightsRequests
from tests.services.dpo.conftest import ConsoleServer, audit_entries, file_request, make_account, text_of


def rendered_notice(page: str) -> str:
    """The text of the notice embedded in the register page (it has nested elements of its own)."""
    start = page.index('id="notice-rendered"')
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page[start:])).split())


def test_the_register_page_shows_the_notice_and_links_the_art_30_exports(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    browser = console.signed_in()
    page = browser.get("/dpo/register")
    assert page.status_code == 200
    assert text_of(page.text, "version") == system.loaded.version
    notice = rendered_notice(page.text)
    register = system.loaded.register
    assert register.controller.name in notice and register.dpo.email in notice
    for activity in register.activities.values():
        assert activity.name.en in notice
    assert 'href="/dpo/register/ropa.csv"' in page.text and 'href="/dpo/register/ropa.json"' in page.text
    german = rendered_notice(browser.get("/dpo/register?lang=de").text)
    assert next(iter(register.activities.values())).name.de in german

    csv = browser.get("/dpo/register/ropa.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == render_ropa(register, system.loaded.version, "csv")
    assert "attachment" in csv.headers["content-disposition"]
    document = browser.get("/dpo/register/ropa.json").json()
    assert document == json.loads(render_ropa(register, system.loaded.version, "json"))
    assert {r["activity"] for r in document["records"]} == set(register.activities)


_SWEEP_ROW = re.compile(r'<tr data-activity="([^"]+)" data-store="([^"]+)">(.*?)</tr>', re.S)


def sweep_rows(page: str, store: str) -> list[list[str]]:
    rows = []
    for _activity, found, body in _SWEEP_ROW.findall(page):
        if found == store:
            rows.append(
                [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
            )
    return rows


@pytest.mark.promise("R-11")
def test_the_sweeps_page_shows_what_each_rule_removed_in_its_last_sweeps(
    console: ConsoleServer, clock: FakeClock
) -> None:
    system = console.system
    make_account(system)
    page = console.signed_in().get("/dpo/sweeps")
    assert page.status_code == 200
    assert "no sweep recorded yet" in page.text  # nothing swept so far

    started = clock.now()
    stored = file_request(system)
    with system.database.unit_of_work() as uow:
        RightsRequests(uow.connection).transition(stored.id, lambda r: r.refuse("unfounded", started), started, "test")
        uow.commit()
    clock.set(started + relativedelta(years=3) - timedelta(hours=5))
    sweeps = []
    for _ in range(5):
        sweeps.append(clock.now())
        system.sweep()
        clock.advance(timedelta(hours=1))
    clock.advance(timedelta(hours=1))  # the closed request is now three years old
    sweeps.append(clock.now())
    results = {r.store: r.removed for r in system.sweep()}
    assert results["rights_request"] == 1

    page = console.signed_in().get("/dpo/sweeps")
    rows = sweep_rows(page.text, "rights_request")
    assert len(rows) == 5  # the last five sweeps, the newest first
    first = rows[0]
    assert first[0] == f"{system.loaded.register.activities['rights_requests'].name.en} ( rights_requests )"
    assert first[1] == "3 years" and first[2] == "rights_request"
    assert first[3] == sweeps[-1].strftime("%Y-%m-%d %H:%M UTC")
    assert first[5] == "1"
    assert [r[3] for r in rows] == [s.strftime("%Y-%m-%d %H:%M UTC") for s in reversed(sweeps[1:])]
    assert [r[5] for r in rows[1:]] == ["0"] * 4
    assert sweep_rows(page.text, "access_log")  # every swept store is listed


@pytest.mark.promise("R-12")
def test_the_verify_button_reports_an_intact_chain_and_then_the_tampered_entry(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    file_request(system)  # entries 2 and 3; entry 1 is the account's creation
    browser = console.signed_in()
    assert 'id="result"' not in browser.get("/dpo/audit").text
    intact = browser.submit("/dpo/audit", "/dpo/audit/verify")
    assert intact.status_code == 200
    assert text_of(intact.text, "result").startswith("Audit chain intact: 4 entries verified, head entry 4")

    with system.database.engine.begin() as connection:
        connection.execute(sa.update(audit_entry).where(audit_entry.c.seq == 2).values(detail={"request": "forged"}))
    broken = browser.submit("/dpo/audit", "/dpo/audit/verify")
    assert broken.status_code == 200
    assert text_of(broken.text, "result").startswith(
        "Audit chain BROKEN at entry 2: content was changed after it was written. 1 entries before it verified"
    )
    verified = [d for _, _, d in audit_entries(system, "dpo.audit_verified")]
    assert verified == [
        {"by": "dpo:erika", "intact": True, "checked": 4, "broken_at": None},
        {"by": "dpo:erika", "intact": False, "checked": 1, "broken_at": 2},
    ]
