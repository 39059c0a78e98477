"""A newsletter recipient in a real browser, on the whole running app, with a real SMTP server: from the
privacy center's form to the mail, the link's button, the page of what is held and the downloaded package
(R-13, R-2)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from privateline.app.config import Settings
from tests.conftest import LiveServer
from tests.services.privacy.email_link.smtp import Inbox, smtp_server


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, database_url: str, inbox: Inbox) -> Settings:
    # Cookies stay `Secure`: Chromium accepts them from http://127.0.0.1, as from localhost.
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_starttls=False,
        public_url="https://privacy.operator.example",
    )


@pytest.mark.promise("R-13", "R-2")
def test_a_newsletter_recipient_goes_from_the_privacy_center_to_the_package_of_their_address(
    live_server: LiveServer, inbox: Inbox, page: Page
) -> None:
    page.goto(f"{live_server.url}/privacy-center?lang=en")
    page.locator("#newsletter-address").fill("Reader@Example.org")
    page.locator("#newsletter-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/privacy-center/email\?lang=en$"))
    expect(page.locator("#sent")).to_contain_text("we have sent a link to it")

    mail = inbox.last_to("reader@example.org")
    assert mail.link.startswith("https://privacy.operator.example/privacy-center/email/open?")
    page.goto(f"{live_server.url}{mail.path}")
    expect(page.locator("h1")).to_have_text("Open what we hold about your e-mail address")
    page.locator("#redeem-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/privacy-center/email/held\?lang=en$"))
    expect(page.locator("#nothing-held")).to_have_text("We hold no data about this address in any of our services.")

    page.locator("#access button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text("Your request for access has been answered")
    with page.expect_download() as download:
        page.locator("a.package").first.click()
    package = json.loads(download.value.path().read_text("utf-8"))
    assert package["subject_kind"] == "newsletter_recipient" and package["request"]["kind"] == "access"
    assert "reader@example.org" not in json.dumps(package).lower()

    page.locator("#sign-out button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/privacy-center\?lang=en$"))
    # The link is used up, and the page of the address has closed.
    page.goto(f"{live_server.url}{mail.path}")
    expect(page.locator("h1")).to_have_text("This link cannot be used")
    page.goto(f"{live_server.url}/privacy-center/email/held")
    expect(page.locator("h1")).to_have_text("This link cannot be used")
