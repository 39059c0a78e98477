"""The privacy center in a real browser, on the whole running app: from the front page to a device
owner's downloaded access package (R-1, R-2, R-6)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, stored


@pytest.mark.promise("R-2", "R-6")
def test_a_device_owner_goes_from_the_privacy_center_to_their_downloaded_access_package(
    live_server: LiveServer, make_phone: MakePhone, page: Page
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        assert client.post("/device/v1/checkin", json=phone.report(), headers=phone.basic()).status_code == 200

    page.goto(f"{live_server.url}/privacy-center?lang=en")
    expect(page.locator("h1")).to_have_text("Privacy center")
    dpo = live_server.system.loaded.register.dpo
    expect(page.locator("#dpo")).to_contain_text(dpo.email)

    page.locator("#device-owner-link").click()
    expect(page).to_have_url(re.compile(r"/device/rights\?lang=en$"))
    page.locator("#number").fill(phone.number)
    page.locator("#password").fill(phone.password)
    page.locator("#sign-in button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/device/rights\?lang=en&done=signed_in$"))

    page.locator("#request-access button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text("Your request for access has been answered")
    row = page.locator("tr.request-row[data-kind=access]")
    expect(row.locator(".state")).to_have_text("Completed")

    with page.expect_download() as download:
        row.locator("a.package").click()
    package = json.loads(download.value.path().read_text("utf-8"))
    text = json.dumps(package)
    assert package["request"]["kind"] == "access"
    assert phone.serial in text and "Kitchen" in text
    record = stored(live_server.system, phone)
    assert record.portal_hash not in text and record.sip_ha1_md5 not in text and phone.password not in text
