"""Where mail goes when there is no SMTP server, and what a person is told when sending fails (R-13)."""

from __future__ import annotations

import email
import email.policy
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from privateline.app.config import Settings
from privateline.app.system import System
from privateline.services.privacy.email_link.mail import OUTBOX
from tests.conftest import start_live_server
from tests.ports import free_port
from tests.services.privacy.email_link.conftest import main_of
from tests.services.privacy.email_link.smtp import Inbox, smtp_server

ADDRESS = "Anna.Schmidt@Example.org"


@pytest.fixture
def plain_inbox() -> Iterator[Inbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    transport = getattr(request, "param", "outbox")
    extra: dict[str, Any] = {}
    if transport == "refused":  # nothing listens on the port
        extra = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False}
    elif transport == "no_starttls":  # a server that cannot STARTTLS, while STARTTLS is required
        inbox: Inbox = request.getfixturevalue("plain_inbox")
        extra = {"smtp_host": "127.0.0.1", "smtp_port": inbox.port, "smtp_starttls": True}
    return Settings(
        data_dir=tmp_path / "var", database_url=database_url, cookie_secure=False, smtp_timeout_seconds=5, **extra
    )


@pytest.mark.promise("R-13", "R-11")
def test_without_an_smtp_server_mails_go_to_the_outbox_folder_and_the_start_up_log_says_so(system: System) -> None:
    with capture_logs() as logs:
        server = start_live_server(system)
    try:
        outbox = Path(system.settings.data_dir) / OUTBOX
        said = [e for e in logs if e["event"].startswith("no SMTP host is configured")]
        assert said and said[0]["outbox"] == str(outbox)
        with server.client() as client:
            answer = client.post("/privacy-center/email?lang=nl", data={"address": ADDRESS})
            assert answer.status_code == 200
            [written] = list(outbox.iterdir())
            assert written.suffix == ".eml"
            assert stat.S_IMODE(written.stat().st_mode) == 0o600
            assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
            message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
            assert message["To"] == "anna.schmidt@example.org"
            assert message["Content-Language"] == "nl"
            body = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
            # Without public_url the link names the address the instance listens on.
            start = body.index("http://127.0.0.1:8080/privacy-center/email/open?lang=nl&t=")
            link = body[start:].split(maxsplit=1)[0]
            confirm = client.get(link.removeprefix("http://127.0.0.1:8080"))
            assert confirm.status_code == 200 and "Toon wat u bewaart" in confirm.text
        # The mail holds the address in clear: the sweep removes it after a day.
        system.sweep()
        assert written.exists()
        system.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        system.sweep()
        assert not written.exists()
    finally:
        server.stop()


@pytest.mark.promise("R-13")
@pytest.mark.parametrize("settings", ["refused", "no_starttls"], indirect=True)
def test_a_mail_that_cannot_be_sent_changes_nothing_the_person_sees_and_logs_no_address(
    system: System, request: pytest.FixtureRequest
) -> None:
    server = start_live_server(system)
    try:
        with capture_logs() as logs, server.client() as client:
            answers = [
                client.post("/privacy-center/email", data={"address": a}) for a in (ADDRESS, "nobody@example.net")
            ]
        assert [a.status_code for a in answers] == [200, 200]
        assert main_of(answers[0].text) == main_of(answers[1].text)
        assert "we have sent a link to it" in answers[0].text
        failures = [e for e in logs if e["event"] == "a link mail could not be sent"]
        assert len(failures) == 2 and all(e["log_level"] == "error" for e in failures)
        expected = "ConnectionRefusedError" if "refused" in request.node.name else "SMTPNotSupportedError"
        assert {e["error"] for e in failures} == {expected}
        for secret in ("anna.schmidt", "example.org", "nobody@"):
            assert secret not in repr(logs).lower()
        if "no_starttls" in request.node.name:
            # STARTTLS was required: nothing went over the unencrypted connection.
            inbox: Inbox = request.getfixturevalue("plain_inbox")
            assert inbox.received == []
    finally:
        server.stop()
