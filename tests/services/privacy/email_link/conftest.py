"""The whole application over real HTTP, sending its mail to a real SMTP server on loopback.

Links are built from `public_url` (a host the tests never reach), so a test opens a
link by its path and query on the test server, as a browser would after following it.
127.0.0.1 is a trusted proxy, so tests choose their source network with
`X-Forwarded-For`.  Cookies are set without `Secure` so that httpx sends them back
over plain HTTP; everything else is as an operator runs it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from privateline.app.config import Settings
from privateline.app.system import System
from privateline.kernel.consent import ConsentEvent, ConsentEventKind
from privateline.services.privacy.email_link.address import normalised, pseudonym
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import ConsentLedger
from tests.conftest import LiveServer
from tests.services.privacy.email_link.smtp import Inbox, smtp_server

PUBLIC_URL = "https://privacy.operator.example"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_TOKEN = re.compile(r'name="t" value="([^"]*)"')


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, database_url: str, inbox: Inbox) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        sweep_interval_seconds=3600,
        cookie_secure=False,
        trusted_proxies=["127.0.0.1"],
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_starttls=False,
        smtp_timeout_seconds=5,
        mail_from="Privacy <privacy@operator.example>",
        public_url=PUBLIC_URL,
    )


def field_of(page: str, pattern: re.Pattern[str]) -> str:
    found = pattern.search(page)
    assert found is not None, "the page has no such form field"
    return html.unescape(found.group(1))


def main_of(page: str) -> str:
    """The page's own content, without the site's consent chrome (whose form token changes every second)."""
    return page[page.index("<main>") : page.index("</main>")]


@dataclass
class Person:
    """One browser: its own cookies, coming from its own network."""

    server: LiveServer
    source: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.server.client()

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Forwarded-For": self.source, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def ask(self, address: str, lang: str = "en", **kwargs: Any) -> httpx.Response:
        return self.request("POST", f"/privacy-center/email?lang={lang}", data={"address": address}, **kwargs)

    def open(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def redeem(self, path: str, **kwargs: Any) -> httpx.Response:
        """Open the link and press its button, as a person does; the answer to the button."""
        page = self.open(path)
        assert page.status_code == 200, page.text
        form = {"t": field_of(page.text, _TOKEN), "csrf": field_of(page.text, _CSRF)}
        return self.request("POST", "/privacy-center/email/open", data=form, **kwargs)

    def held(self) -> httpx.Response:
        return self.request("GET", "/privacy-center/email/held")

    def act(self, action: str, **extra: str) -> httpx.Response:
        """Press a button of the verified page (`access`, `erase`, `stop-marketing`, `sign-out`)."""
        page = self.held()
        assert page.status_code == 200, page.text
        return self.request(
            "POST", f"/privacy-center/email/{action}", data={"csrf": field_of(page.text, _CSRF), **extra}
        )


@pytest.fixture
def people(live_server: LiveServer) -> Iterator[Any]:
    made: list[Person] = []

    def make(source: str = "198.51.100.7") -> Person:
        person = Person(live_server, source)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def pseudonym_of(system: System, address: str) -> str:
    found = normalised(address)
    assert found is not None
    return pseudonym(system.pseudonymizer, found)


def subscribe(system: System, address: str, at: datetime) -> str:
    """Make `address` a subject we hold data about: a newsletter consent in the ledger, by its pseudonym.

    No newsletter store exists yet; the consent ledger (a store of every kind of subject)
    stands in for it, as the newsletter's sign-up will write there.  The receipt id.
    """
    subject = pseudonym_of(system, address)
    event = ConsentEvent(
        "receipt-" + subject[:12],
        subject,
        "newsletter_subscribed",
        ConsentEventKind.GIVEN,
        system.loaded.version,
        "newsletter-sign-up",
        at,
    )
    with system.database.unit_of_work() as uow:
        ConsentLedger(uow.connection).append([event])
        AuditLog(uow.connection).append(at, "newsletter.subscribed", subject, {})
        uow.commit()
    return event.record_id


def database_text(system: System) -> str:
    """Every value of every table, as text (to show that an address is nowhere in it)."""
    rows: list[str] = []
    with system.database.reading() as connection:
        for table in system.tables:
            rows.extend(repr(tuple(row)) for row in connection.execute(sa.select(table)))
    return "\n".join(rows)
