"""The consent banner and the cookie settings in a real browser, on the whole running app (WEB-8, R-9)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer


@pytest.mark.promise("WEB-8", "R-9")
def test_a_visitor_refuses_in_the_banner_then_allows_one_purpose_and_withdraws_it_again(
    live_server: LiveServer, page: Page
) -> None:
    page.goto(f"{live_server.url}/privacy?lang=de")
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Ihre Wahl zu Cookies")
    assert page.context.cookies() == []  # nothing is stored in the browser before a choice

    page.locator("#consent-reject-all").click()
    expect(page).to_have_url(re.compile(r"/privacy\?lang=de$"))  # back where the visitor was
    expect(page.locator("#consent-banner")).to_have_count(0)
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)

    page.locator("#cookie-settings-link").click()
    expect(page).to_have_url(re.compile(r"/cookie-settings\?lang=de$"))
    expect(page.locator("h1")).to_have_text("Cookie-Einstellungen")
    expect(page.locator("tr.event")).to_have_count(2)  # the two refusals, each recorded
    page.locator("#purpose-web_analytics input[type=checkbox]").check()
    page.locator("#consent-save").click()
    expect(page.locator("#saved")).to_contain_text("Belegnummer")
    expect(page.locator("#purpose-web_analytics input[type=checkbox]")).to_be_checked()
    expect(page.locator("#purpose-web_analytics .state")).to_contain_text("Erlaubt seit")

    page.locator("#purpose-web_analytics input[type=checkbox]").uncheck()
    page.locator("#consent-save").click()
    expect(page.locator("#purpose-web_analytics input[type=checkbox]")).not_to_be_checked()
    expect(page.locator("tr.event").first).to_contain_text("widerrufen")

    with page.expect_download() as download:
        page.locator("#export").click()
    package = json.loads(download.value.path().read_text("utf-8"))
    [store] = [s for s in package["stores"] if s["store"] == "consent_event"]
    kinds = [(r["purpose"], r["kind"]) for r in store["rows"] if r["purpose"] == "web_analytics"]
    assert kinds == [("web_analytics", "refused"), ("web_analytics", "given"), ("web_analytics", "withdrawn")]
