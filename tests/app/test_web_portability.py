"""The running application sends a portable copy to another provider within the operator's settings (R-6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from privateline.app.config import Settings
from privateline.app.system import System, build_system
from privateline.kernel.clock import FakeClock
from tests.conftest import start_live_server
from tests.services.devices.conftest import phone_maker
from tests.services.devices.portal.conftest import Browser, csrf_of
from tests.services.privacy.webhook_receiver import Receiver, make_certificates, start_receiver


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    folder = tmp_path / "tls"
    folder.mkdir()
    running = start_receiver(make_certificates(folder))
    yield running
    running.stop()


@pytest.fixture
def system(tmp_path: Path, database_url: str, clock: FakeClock, receiver: Receiver) -> Iterator[System]:
    # As an operator configures it: the other provider is reachable on 127.0.0.1 behind a private CA.
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        portability_allowed_networks=["127.0.0.1/32"],
        portability_ca_file=receiver.ca_file,
    )
    built = build_system(settings, clock=clock)
    yield built
    built.close()


@pytest.mark.promise("R-6")
def test_the_served_portal_sends_the_portable_copy_to_the_address_the_owner_gave(
    system: System, receiver: Receiver
) -> None:
    phone = phone_maker(system)()
    server = start_live_server(system)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            owner = Browser(client, None)
            assert owner.sign_in(phone.number, phone.password).status_code == 303
            page = owner.get("/device/rights")
            destination = receiver.endpoint("portability")
            filed = owner.post(
                "/device/rights",
                {"csrf": csrf_of(page.text), "kind": "portability", "destination": destination},
            )
            assert filed.status_code == 303, filed.text
    finally:
        server.stop()
    [arrived] = receiver.received
    document = json.loads(arrived.body)
    assert document["format"] == "privateline.subject-data/1"
    assert phone.serial in arrived.body.decode("utf-8")
