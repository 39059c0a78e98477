"""The DPO console served over real HTTP in its own small app, and a browser for it.

The console sets its cookie `Secure`, which httpx (like a browser) does not send over
plain HTTP, so `Browser` keeps the cookie itself.  The app trusts 127.0.0.1 as a proxy,
so tests can come from any source address with `X-Forwarded-For`.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from privateline.app.serve import bind
from privateline.app.system import System
from privateline.kernel.requests import RequestKind
from privateline.services.dpo.accounts import DpoAccount, add_account
from privateline.services.dpo.http import COOKIE, dpo_router
from privateline.services.forwarding import TrustedProxies
from privateline.storage.audit_log import AuditLog
from privateline.storage.rights_requests import RightsRequests, StoredRequest

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
PASSWORD = "correct horse battery staple"


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


def text_of(page: str, element_id: str) -> str:
    """The text of the element with `element_id`, tags removed and white space folded."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, f"no element #{element_id} in the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))).split())


@dataclass
class Browser:
    client: httpx.Client
    source: str | None = None
    cookie: str | None = None

    def _keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() != COOKIE:
                continue
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

    def sign_in(self, name: str, password: str, next_page: str | None = None) -> httpx.Response:
        page = self.get("/dpo/sign-in")
        assert page.status_code == 200, page.text
        form = {"csrf": csrf_of(page.text), "name": name, "password": password}
        if next_page is not None:
            form["next"] = next_page
        return self.post("/dpo/sign-in", form)

    def submit(self, page_path: str, action: str, **fields: str) -> httpx.Response:
        """Send a form of the page at `page_path` with the token that page carries."""
        page = self.get(page_path)
        assert page.status_code == 200, page.text
        return self.post(action, {"csrf": csrf_of(page.text), **fields})


@dataclass
class ConsoleServer:
    url: str
    system: System
    server: uvicorn.Server
    thread: threading.Thread
    clients: list[httpx.Client] = field(default_factory=list)

    def browser(self, source: str | None = "203.0.113.10") -> Browser:
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self.clients.append(client)
        return Browser(client, source)

    def signed_in(self, name: str = "erika", password: str = PASSWORD) -> Browser:
        browser = self.browser()
        answer = browser.sign_in(name, password)
        assert answer.status_code == 303, answer.text
        return browser

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the console test server did not stop"


def console_app(system: System) -> FastAPI:
    app = FastAPI()
    app.include_router(
        dpo_router(
            system.database, system.clock, system.session_key, TrustedProxies.parse(["127.0.0.1"]), system.loaded
        )
    )
    return app


@pytest.fixture
def console(system: System) -> Iterator[ConsoleServer]:
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(console_app(system), access_log=False, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console test server did not start")
        time.sleep(0.01)
    running = ConsoleServer(f"http://127.0.0.1:{sock.getsockname()[1]}", system, server, thread)
    yield running
    running.stop()


def make_account(system: System, name: str = "erika", password: str = PASSWORD) -> DpoAccount:
    with system.database.unit_of_work() as uow:
        account = add_account(uow.connection, name, password, system.clock.now(), by="test")
        uow.commit()
    return account


def file_request(
    system: System,
    kind: RequestKind = RequestKind.ACCESS,
    subject: str = "pseudonym-1",
    verified: bool = True,
    at: datetime | None = None,
) -> StoredRequest:
    """A request as the privacy center files it; `verified`: the subject's identity is checked."""
    now = at or system.clock.now()
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        stored = requests.file(kind, "device_owner", subject, now)
        if verified:
            stored = requests.transition(stored.id, lambda r: r.verify_identity(now), now, by="subject")
        uow.commit()
    return stored


def stored_request(system: System, request_id: str) -> StoredRequest:
    with system.database.reading() as connection:
        found = RightsRequests(connection).get(request_id)
    assert found is not None
    return found


def audit_entries(system: System, kind_prefix: str = "") -> list[tuple[str, str | None, dict[str, Any]]]:
    with system.database.reading() as connection:
        return [
            (e.kind, e.subject, dict(e.detail))
            for e in AuditLog(connection).entries()
            if e.kind.startswith(kind_prefix)
        ]
