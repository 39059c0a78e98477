"""The portal served over real HTTP, and a browser that keeps its `Secure` session cookie.

The portal sets its cookie `Secure`, and httpx (like a browser) does not send a Secure
cookie over plain HTTP, so `Browser` reads `Set-Cookie` itself and sends the cookie
back in a `Cookie` header.  The portal runs in its own small app on a loopback port,
behind 127.0.0.1 as a trusted proxy, so tests can come from any source address with
`X-Forwarded-For`.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from privateline.app.serve import bind
from privateline.app.system import System
from privateline.services.devices.credentials import password_forms
from privateline.services.devices.portal.http import COOKIE, portal_router
from privateline.services.devices.records import Device, device_by_number, insert_devices
from privateline.services.forwarding import TrustedProxies
from privateline.services.privacy.engine import RightsEngine
from privateline.storage.audit_log import AuditLog

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


@dataclass
class Browser:
    client: httpx.Client
    source: str | None = None
    cookie: str | None = None
    set_cookie_headers: list[str] = field(default_factory=list)

    def _keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() != COOKIE:
                continue
            self.set_cookie_headers.append(header)
            value, *attributes = (part.strip() for part in rest.split(";"))
            expired = any(a.lower() == "max-age=0" for a in attributes)
            self.cookie = None if expired or value in ("", '""') else value
        self.client.cookies.clear()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers: dict[str, str] = dict(kwargs.pop("headers", {}))
        if self.source is not None:
            headers.setdefault("X-Forwarded-For", self.source)
        if self.cookie is not None:
            headers.setdefault("Cookie", f"{COOKIE}={self.cookie}")
        response = self.client.request(method, path, headers=headers, **kwargs)
        self._keep(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, data=data, **kwargs)

    def sign_in(self, number: str, password: str, lang: str = "en") -> httpx.Response:
        page = self.get("/device", params={"lang": lang})
        assert page.status_code == 200, page.text
        return self.post(
            f"/device/sign-in?lang={lang}", {"csrf": csrf_of(page.text), "number": number, "password": password}
        )

    def submit(self, path: str, **fields: str) -> httpx.Response:
        """Send a form of the overview, with the token the overview page carries."""
        page = self.get("/device")
        assert page.status_code == 200, page.text
        return self.post(path, {"csrf": csrf_of(page.text), **fields})


@dataclass
class PortalServer:
    url: str
    system: System
    server: uvicorn.Server
    thread: threading.Thread
    clients: list[httpx.Client] = field(default_factory=list)

    def browser(self, source: str | None = "203.0.113.10") -> Browser:
        client = httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)
        self.clients.append(client)
        return Browser(client, source)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the portal test server did not stop"


def portal_app(system: System, *, rights: RightsEngine | None = None, without_rights: bool = False) -> FastAPI:
    """The portal alone; with the system's rights engine unless another is given or `without_rights`."""
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
            rights=None if without_rights else (rights or system.rights),
        )
    )
    return app


def serve(app: FastAPI, system: System) -> PortalServer:
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, access_log=False, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the portal test server did not start")
        time.sleep(0.01)
    return PortalServer(f"http://127.0.0.1:{sock.getsockname()[1]}", system, server, thread)


@pytest.fixture
def portal(system: System) -> Iterator[PortalServer]:
    running = serve(portal_app(system), system)
    yield running
    running.stop()


@pytest.fixture
def serve_portal(system: System) -> Iterator[Callable[[FastAPI], PortalServer]]:
    """Serve a variant of the portal app (see `portal_app`); stopped after the test."""
    started: list[PortalServer] = []

    def start(app: FastAPI) -> PortalServer:
        started.append(serve(app, system))
        return started[-1]

    yield start
    for running in started:
        running.stop()


_made = iter(range(1, 10_000))
FACTORY_PASSWORD = "factory-pw-1"


def add_device(
    system: System,
    number: str | None = None,
    password: str = FACTORY_PASSWORD,
    **overrides: object,
) -> Device:
    """A phone in the factory records, with the password forms the import would make."""
    n = next(_made)
    number = number or f"{4000 + n}"
    forms = password_forms(number, "privateline", password)
    row: dict[str, Any] = {
        "number": number,
        "serial": f"SN-PORTAL-{n:05d}",
        "mac": f"00A0DE{n:06X}",
        "product": "Gigaset C430 IP",
        "sip_ha1_md5": forms.ha1_md5,
        "sip_ha1_sha256": forms.ha1_sha256,
        "portal_hash": forms.portal_hash,
        "voip_on": True,
        "info_on": True,
        "messaging_on": True,
        "in_service": True,
        "created_at": system.clock.now(),
    }
    row.update(overrides)
    with system.database.unit_of_work() as uow:
        insert_devices(uow.connection, [row])
        uow.commit()
    return reload(system, number)


def reload(system: System, number: str) -> Device:
    with system.database.reading() as connection:
        record = device_by_number(connection, number)
    assert record is not None
    return record


def signed_in(portal: PortalServer, record: Device, password: str = FACTORY_PASSWORD) -> Browser:
    browser = portal.browser()
    answer = browser.sign_in(record.number, password)
    assert answer.status_code == 303, answer.text
    return browser


def rows_of(system: System, table: sa.Table, device_id: int) -> list[dict[str, Any]]:
    with system.database.reading() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(table).where(table.c.device_id == device_id))]


def audit_kinds(system: System, record: Device) -> list[str]:
    pseudonym = system.pseudonymizer.pseudonym("device_owner", record.number)
    with system.database.reading() as connection:
        return [entry.kind for entry in AuditLog(connection).entries(pseudonym)]
