"""The device owner's portal in a real browser, on the whole running app (DEV-6, DEV-10, R-6 for devices)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from privateline.services.devices.nicknames import voip_nickname
from privateline.services.devices.profiles import info_profile
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone, Phone, stored


def sign_in(page: Page, server: LiveServer, phone: Phone, lang: str = "en") -> None:
    page.goto(f"{server.url}/device?lang={lang}")
    page.locator("#number").fill(phone.number)
    page.locator("#password").fill(phone.password)
    page.locator("#sign-in button[type=submit]").click()


@pytest.mark.promise("DEV-10", "DEV-6")
def test_an_owner_signs_in_sets_a_nickname_and_profile_then_switches_services_off(
    live_server: LiveServer, make_phone: MakePhone, page: Page
) -> None:
    phone = make_phone()
    sign_in(page, live_server, phone)
    assert page.get_by_text(f"Signed in with the number {phone.number}.").is_visible()

    page.locator("#nickname-text").fill("Oma Erna")
    page.get_by_role("button", name="Save nickname").click()
    page.locator("#city").fill("Bochum")
    page.locator("#birth-date").fill("1950-04-01")
    page.get_by_role("button", name="Save profile").click()
    with live_server.system.database.reading() as connection:
        assert connection.execute(sa.select(voip_nickname.c.nickname)).scalar_one() == "Oma Erna"
        assert connection.execute(sa.select(info_profile.c.city)).scalar_one() == "Bochum"

    page.locator("#service-voip button").click()
    page.locator("#service-info button").click()
    assert page.locator("#service-voip .state").inner_text() == "Off"
    assert page.locator("#service-info .state").inner_text() == "Off"
    record = stored(live_server.system, phone)
    assert not record.voip_on and not record.info_on and record.messaging_on
    with live_server.system.database.reading() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(voip_nickname)).scalar_one() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(info_profile)).scalar_one() == 0


def test_the_owner_downloads_everything_as_json_without_password_forms(
    live_server: LiveServer, make_phone: MakePhone, page: Page
) -> None:
    phone = make_phone()
    with live_server.client() as client:
        assert client.post("/device/v1/checkin", json=phone.report(), headers=phone.basic()).status_code == 200
    sign_in(page, live_server, phone, lang="de")
    assert page.locator("h1").inner_text() == "Ihr Telefon"
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = json.loads(download.value.path().read_text("utf-8"))
    text = json.dumps(exported)
    assert phone.serial in text and "Kitchen" in text and "192.168.178.23" in text
    record = stored(live_server.system, phone)
    assert record.portal_hash not in text and record.sip_ha1_md5 not in text and phone.password not in text


def test_a_wrong_password_shows_the_same_message_as_an_unknown_number(
    live_server: LiveServer, make_phone: MakePhone, page: Page
) -> None:
    phone = make_phone()
    wrong = Phone(phone.number, "not-the-password", phone.serial, phone.mac, phone.product)
    sign_in(page, live_server, wrong)
    first = page.locator("#error").inner_text()
    sign_in(page, live_server, Phone("99999", "whatever-pw", "x", "y", "z"))
    assert page.locator("#error").inner_text() == first
