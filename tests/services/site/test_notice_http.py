from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import yaml

from privateline.app.config import Settings
from privateline.app.system import build_system
from privateline.kernel.clock import FakeClock
from privateline.register.i18n import translations
from privateline.register.loader import load_register, parse_register
from tests.conftest import LiveServer, start_live_server


@pytest.mark.promise("R-1", "R-10")
@pytest.mark.parametrize("lang", ["en", "de", "nl"])
def test_r_1_r_10_the_notice_names_controller_dpo_and_authority(live_server: LiveServer, lang: str) -> None:
    register = live_server.system.loaded.register
    with live_server.client() as http:
        response = http.get("/privacy", params={"lang": lang})
    assert response.status_code == 200
    assert response.headers["content-language"] == lang
    page = response.text
    for party in (register.controller, register.dpo, register.supervisory_authority):
        assert party.name in page
        assert party.address.street in page
        assert f"{party.address.postcode} {party.address.city}" in page
        assert party.phone in page
        assert party.email in page
    assert translations(lang).gettext("Supervisory authority") in page
    assert translations(lang).gettext("Complaint") in page


def test_the_language_follows_accept_language(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.get("/privacy", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert response.headers["content-language"] == "nl"
    assert translations("nl").gettext("Your rights") in response.text


def test_the_notice_is_also_served_as_markdown(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.get("/privacy", params={"lang": "de", "format": "md"})
        bad = http.get("/privacy", params={"format": "pdf"})
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text.startswith("# " + translations("de").gettext("Privacy notice"))
    assert bad.status_code == 422
    assert "format" in bad.text


@pytest.mark.promise("WEB-14")
def test_web_14_a_changed_register_is_published_with_the_earlier_version_listed(
    settings: Settings, clock: FakeClock
) -> None:
    first = build_system(settings, clock=clock)
    old_version = first.loaded.version
    server = start_live_server(first)
    server.stop()
    first.close()

    data = yaml.safe_load(load_register().register.model_dump_json())
    data["parts"]["newsletter"]["enabled"] = False
    changed = parse_register(yaml.safe_dump(data, allow_unicode=True), "changed.yaml")
    newsletter = load_register().register.parts["newsletter"].label.en
    clock.advance(timedelta(days=30))
    second = build_system(settings, clock=clock, register=changed)
    server = start_live_server(second)
    try:
        with httpx.Client(base_url=server.url) as http:
            current = http.get("/privacy", params={"lang": "en"}).text
            earlier = http.get(f"/privacy/versions/{old_version}", params={"lang": "en"})
            unknown = http.get("/privacy/versions/0000000000000000")
    finally:
        server.stop()
        second.close()
    assert changed.version in current
    assert f'href="/privacy/versions/{old_version}?lang=en"' in current
    assert newsletter not in current
    assert earlier.status_code == 200
    assert newsletter in earlier.text
    assert unknown.status_code == 404
