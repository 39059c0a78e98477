"""The configuration helper in a real browser (DEV-8)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone


@pytest.mark.promise("DEV-8")
def test_a_visitor_finds_their_phone_and_its_link_in_their_language(
    live_server: LiveServer, make_phone: MakePhone, page: Page
) -> None:
    phone = make_phone(product="Gigaset C430 IP")
    with live_server.client() as client:
        answer = client.post(
            "/device/v1/checkin", json=phone.report(internal_ip="192.168.178.31"), headers=phone.basic()
        )
        assert answer.status_code == 200
    page.goto(f"{live_server.url}/config-helper")
    assert page.locator("h1").inner_text() == "Your phones in this network"
    link = page.get_by_role("link", name="192.168.178.31")
    assert link.get_attribute("href") == "http://192.168.178.31/"
    assert page.locator("#devices").inner_text().count("Gigaset C430 IP") == 1
    page.get_by_role("link", name="Deutsch").click()
    assert page.locator("h1").inner_text() == "Ihre Telefone in diesem Netz"
    assert page.get_by_role("link", name="192.168.178.31").is_visible()
