"""The device owner's copy of their data says what the notice says about it (R-2 for device owners)."""

from __future__ import annotations

from tests.services.devices.portal.conftest import PortalServer, add_device, signed_in


def test_the_download_explains_each_activity_that_holds_the_phones_data(portal: PortalServer) -> None:
    record = add_device(portal.system)
    browser = signed_in(portal, record)
    exported = browser.get("/device/export.json", params={"lang": "de"}).json()
    held = {store["activity"] for store in exported["stores"]}
    processing = exported["processing"]
    explained = {a["id"]: a for a in processing["activities"]}
    assert held <= set(explained)
    factory = explained["device_factory_records"]
    assert factory["purpose"].startswith("Jedes Telefon erhält ab Werk")
    assert "6(1)(b)" in factory["legal_basis"] or "Art. 6" in factory["legal_basis"]
    assert factory["retention"] and factory["source"] and factory["automated_decision"]
    assert processing["register_version"] == portal.system.loaded.version
    assert processing["supervisory_authority"]["name"] == portal.system.loaded.register.supervisory_authority.name
    assert processing["data_protection_officer"]["email"] == portal.system.loaded.register.dpo.email
    assert any(r["right"] == "Beschwerde" for r in processing["rights"])
