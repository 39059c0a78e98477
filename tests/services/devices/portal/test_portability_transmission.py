"""A portable copy sent directly to another provider (GDPR Art. 20(2), promise R-6).

All through real HTTP: the portal's test server, and the HTTPS webhook receiver with
its private CA standing in for the other provider.  The receiver listens on 127.0.0.1,
which only `portability_allowed_networks` lets the server reach (SSRF protection).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from privateline.app.config import Settings
from privateline.app.system import System
from privateline.services.devices.portal.http import portal_router
from privateline.services.devices.records import Device
from privateline.services.forwarding import TrustedProxies
from privateline.services.privacy.transmission import FORMAT, FORMAT_HEADER, Transmitter, parse_networks
from privateline.storage.audit_log import AuditLog
from tests.mentions import mentions
from tests.services.devices.portal.conftest import Browser, PortalServer, add_device, csrf_of, signed_in
from tests.services.privacy.webhook_receiver import SLOW, Certificates, Receiver, make_certificates, start_receiver

pytestmark = pytest.mark.promise("R-6")

PASSWORD = "own-pw-portable"
TRANSMITTED = "rights.portability_transmitted"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("portability-tls"))


@pytest.fixture
def receiver(certificates: Certificates) -> Iterator[Receiver]:
    running = start_receiver(certificates)
    yield running
    running.stop()


def _transmitter(settings: Settings, **overrides: Any) -> Transmitter:
    """The transmitter as the settings describe it."""
    built = Transmitter(parse_networks(settings.portability_allowed_networks), settings.portability_ca_file)
    return replace(built, **overrides)


def _app(system: System, transmitter: Transmitter) -> FastAPI:
    app = FastAPI()
    app.include_router(
        portal_router(
            system.database,
            system.clock,
            system.pseudonymizer,
            system.session_key,
            TrustedProxies.parse(["127.0.0.1"]),
            system.tables,
            register=system.loaded,
            rights=system.rights,
            transmitter=transmitter,
        )
    )
    return app


@pytest.fixture
def allowing(receiver: Receiver, system: System) -> Settings:
    """The settings of an operator who lets the server reach 127.0.0.1, behind the test CA."""
    return system.settings.model_copy(
        update={"portability_allowed_networks": ["127.0.0.1/32"], "portability_ca_file": receiver.ca_file}
    )


@pytest.fixture
def start(serve_portal: Callable[[FastAPI], PortalServer], system: System) -> Callable[[Transmitter], PortalServer]:
    return lambda transmitter: serve_portal(_app(system, transmitter))


def _file(browser: Browser, destination: str, lang: str = "en") -> httpx.Response:
    page = browser.get("/device/rights", params={"lang": lang})
    assert page.status_code == 200, page.text
    assert 'name="destination"' in page.text
    return browser.post(
        f"/device/rights?lang={lang}",
        {"csrf": csrf_of(page.text), "kind": "portability", "destination": destination},
    )


def _request_id(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    found = re.search(r"#request-([A-Za-z0-9_-]+)$", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return found.group(1)


def _download(browser: Browser, request_id: str, lang: str = "en") -> dict[str, Any]:
    answer = browser.get(f"/device/rights/{request_id}/package.json", params={"lang": lang})
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def _transmissions(system: System, record: Device) -> list[dict[str, Any]]:
    pseudonym = system.pseudonymizer.pseudonym("device_owner", record.number)
    with system.database.reading() as connection:
        return [dict(e.detail) for e in AuditLog(connection).entries(pseudonym) if e.kind == TRANSMITTED]


def _assert_same_package(sent: dict[str, Any], downloaded: dict[str, Any]) -> None:
    """The same document as the download, made a moment earlier: the audit trail, itself part of
    what is held, has since grown by the steps of the transmission and the download."""
    assert {k: v for k, v in sent.items() if k != "stores"} == {k: v for k, v in downloaded.items() if k != "stores"}
    assert [s["store"] for s in sent["stores"]] == [s["store"] for s in downloaded["stores"]]
    for then, now in zip(sent["stores"], downloaded["stores"], strict=True):
        if then["store"] == "audit_entry":
            assert {**then, "rows": []} == {**now, "rows": []}
            assert now["rows"][: len(then["rows"])] == then["rows"]
            assert {r["kind"] for r in now["rows"][len(then["rows"]) :]} <= {
                TRANSMITTED,
                "rights.access_exported",
            }
        else:
            assert then == now


def _row_of(page: str, request_id: str) -> str:
    found = re.search(rf'<tr id="request-{request_id}".*?</tr>', page, re.S)
    assert found is not None
    return html.unescape(found.group(0))


def test_the_package_is_sent_to_the_other_provider_as_the_download_and_recorded(
    system: System, receiver: Receiver, allowing: Settings, start: Callable[[Transmitter], PortalServer]
) -> None:
    portal = start(_transmitter(allowing))
    record = add_device(system, password=PASSWORD)
    browser = signed_in(portal, record, PASSWORD)
    target = receiver.endpoint("portability") + "?token=s3cret-token"
    answer = _file(browser, target, lang="de")
    request_id = _request_id(answer)
    assert "done=portability_sent" in answer.headers["location"]

    [hook] = receiver.received
    assert hook.path == "/hooks/portability"
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers[FORMAT_HEADER.lower()] == FORMAT
    sent = json.loads(hook.body)
    _assert_same_package(sent, _download(browser, request_id, lang="de"))
    assert sent["request"] == {**sent["request"], "id": request_id, "kind": "portability"}
    assert record.serial in hook.body.decode("utf-8")

    [outcome] = _transmissions(system, record)
    assert outcome == {"request": request_id, "host": "127.0.0.1", "delivered": True, "status": 200, "reason": None}
    # Neither the path nor the query of the address is kept anywhere in the audit trail.
    with system.database.reading() as connection:
        trail = json.dumps([dict(e.detail) for e in AuditLog(connection).entries()])
    assert "s3cret-token" not in trail and "/hooks/" not in trail

    page = browser.get(answer.headers["location"]).text
    assert "Ihr Antrag auf eine übertragbare Kopie ist beantwortet und die Kopie wurde" in html.unescape(page)
    assert "An 127.0.0.1 gesendet (der Anbieter antwortete mit HTTP-Status 200)." in _row_of(page, request_id)
    assert "s3cret-token" not in page


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:9/hooks/x",
        "ftp://provider.example/in",
        "provider.example/in",
        "https://user:pw@provider.example/",
    ],
)
def test_an_address_that_is_not_https_is_refused_and_nothing_is_filed_or_sent(
    system: System,
    receiver: Receiver,
    allowing: Settings,
    start: Callable[[Transmitter], PortalServer],
    address: str,
) -> None:
    portal = start(_transmitter(allowing))
    record = add_device(system, password=PASSWORD)
    browser = signed_in(portal, record, PASSWORD)
    if address.startswith("http://"):
        address = address.replace("127.0.0.1:9", receiver.url.removeprefix("https://"))
    answer = _file(browser, address)
    assert answer.status_code == 422
    assert 'id="error"' in answer.text
    assert receiver.received == []
    assert _transmissions(system, record) == []
    assert 'data-kind="portability"' not in answer.text  # nothing was filed


def _resolving_to(address: str) -> Callable[[str, int], list[str]]:
    return lambda _host, _port: [address]


@pytest.mark.parametrize(
    ("target", "resolves_to"),
    [
        ("https://provider.example/in", "10.0.0.1"),  # a name pointing into the operator's network
        ("https://169.254.169.254/latest/meta-data", None),  # cloud metadata, link-local
        ("https://[::1]/in", None),
        ("https://0.0.0.0/in", None),
    ],
)
def test_a_destination_in_a_protected_network_is_refused_recorded_and_nothing_is_sent(
    system: System,
    receiver: Receiver,
    start: Callable[[Transmitter], PortalServer],
    target: str,
    resolves_to: str | None,
) -> None:
    transmitter = _transmitter(system.settings)  # nothing allowed
    if resolves_to is not None:
        transmitter = replace(transmitter, resolver=_resolving_to(resolves_to))
    portal = start(transmitter)
    record = add_device(system, password=PASSWORD)
    browser = signed_in(portal, record, PASSWORD)
    answer = _file(browser, target)
    request_id = _request_id(answer)
    assert "done=portability_not_sent" in answer.headers["location"]
    [outcome] = _transmissions(system, record)
    assert outcome["delivered"] is False and outcome["reason"] == "refused address"
    assert outcome["host"] == httpx.URL(target).host
    page = browser.get(answer.headers["location"]).text
    assert "the address leads into a private or otherwise protected network" in _row_of(page, request_id)
    assert _download(browser, request_id)["request"]["kind"] == "portability"


def test_the_receiver_itself_is_refused_when_its_network_is_not_allowed(
    system: System, receiver: Receiver, start: Callable[[Transmitter], PortalServer]
) -> None:
    portal = start(_transmitter(system.settings, ca_file=receiver.ca_file))
    record = add_device(system, password=PASSWORD)
    browser = signed_in(portal, record, PASSWORD)
    _request_id(_file(browser, receiver.endpoint("portability")))
    assert receiver.received == []
    [outcome] = _transmissions(system, record)
    assert outcome["reason"] == "refused address"


@pytest.mark.parametrize(
    ("answers", "reason", "shown"),
    [
        ([503], "HTTP 503", "the provider refused it with HTTP status 503"),
        ([SLOW], "timeout", "the provider did not answer in time"),
    ],
)
def test_a_failing_provider_is_recorded_and_the_download_still_works(
    system: System,
    receiver: Receiver,
    allowing: Settings,
    start: Callable[[Transmitter], PortalServer],
    answers: list[int | str],
    reason: str,
    shown: str,
) -> None:
    portal = start(_transmitter(allowing, timeout_seconds=0.3))
    record = add_device(system, password=PASSWORD)
    browser = signed_in(portal, record, PASSWORD)
    receiver.answers.extend(answers)
    answer = _file(browser, receiver.endpoint("portability"))
    request_id = _request_id(answer)
    assert "done=portability_not_sent" in answer.headers["location"]
    assert len(receiver.received) == 1
    [outcome] = _transmissions(system, record)
    assert outcome["delivered"] is False and outcome["reason"] == reason
    row = _row_of(browser.get(answer.headers["location"]).text, request_id)
    assert "Not sent to 127.0.0.1" in row
    assert shown in row
    _assert_same_package(json.loads(receiver.received[0].body), _download(browser, request_id))


def test_another_phones_session_sends_only_its_own_data(
    system: System, receiver: Receiver, allowing: Settings, start: Callable[[Transmitter], PortalServer]
) -> None:
    portal = start(_transmitter(allowing))
    owner = add_device(system, password=PASSWORD)
    other = add_device(system, password="other-pw-1")
    own = signed_in(portal, owner, PASSWORD)
    page = own.get("/device/rights").text
    owners_request = _request_id(own.post("/device/rights", {"csrf": csrf_of(page), "kind": "portability"}))

    intruder = signed_in(portal, other, "other-pw-1")
    assert intruder.get(f"/device/rights/{owners_request}/package.json").status_code == 404
    _request_id(_file(intruder, receiver.endpoint("portability")))
    [hook] = receiver.received
    body = hook.body.decode("utf-8")
    assert other.serial in body and not mentions(body, owner.serial) and not mentions(body, owner.number)
    assert _transmissions(system, owner) == []
    assert len(_transmissions(system, other)) == 1


def test_the_settings_take_networks_and_a_ca_file(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, portability_allowed_networks=["127.0.0.1/32", "fd00::/8"], portability_ca_file=tmp_path
    )
    assert [str(n) for n in parse_networks(settings.portability_allowed_networks)] == ["127.0.0.1/32", "fd00::/8"]
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(data_dir=tmp_path, portability_allowed_networks=["the office"])
    assert Settings(data_dir=tmp_path).portability_allowed_networks == []
