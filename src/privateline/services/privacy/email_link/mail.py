"""Sending a mail: over SMTP with the standard library, or into an outbox folder.

With an SMTP server configured, each mail is handed to it with `smtplib` (STARTTLS
with certificate checks unless switched off for a relay on the same machine, then the
login if one is configured); `email.message` builds the message, so headers are
encoded by the standard library and never assembled by hand.  Without one, each mail
is written as an `.eml` file (mode 0600) to `<data dir>/outbox-mail/`, so an instance
runs offline and an operator can read what would have been sent.

A failure raises `MailError` naming only what went wrong (the exception's type), never
the recipient: callers log it, and the person is told nothing different (R-13).
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from privateline.kernel.clock import Clock

OUTBOX = "outbox-mail"


class MailError(Exception):
    """The mail could not be sent; the message names the kind of failure only."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    lang: str


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    timeout: float

    def __repr__(self) -> str:
        return f"SmtpServer(host={self.host!r}, port={self.port}, starttls={self.starttls}, password=<secret>)"


class MailSender:
    def __init__(
        self, sender: str, clock: Clock, *, smtp: SmtpServer | None = None, outbox: Path | None = None
    ) -> None:
        if (smtp is None) == (outbox is None):
            raise ValueError("mail goes either to an SMTP server or to an outbox folder")
        self.sender = sender
        self.clock = clock
        self.smtp = smtp
        self.outbox = outbox

    @property
    def describe(self) -> str:
        if self.smtp is not None:
            return f"SMTP {self.smtp.host}:{self.smtp.port}" + (" with STARTTLS" if self.smtp.starttls else "")
        return f"the folder {self.outbox}"

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(self.clock.now())
        message["Message-ID"] = make_msgid(domain=_domain(self.sender))
        # RFC 3834: no vacation replies or other automatic answers to this mail.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(mail.body)
        # After set_content, which replaces every Content-* header.
        message["Content-Language"] = mail.lang
        return message

    def send(self, mail: Mail) -> None:
        message = self.message(mail)
        try:
            if self.smtp is not None:
                self._over_smtp(self.smtp, message)
            else:
                assert self.outbox is not None
                self._into_outbox(self.outbox, message)
        except (smtplib.SMTPException, OSError, ssl.SSLError, UnicodeError) as exc:
            raise MailError(type(exc).__name__) from None

    @staticmethod
    def _over_smtp(server: SmtpServer, message: EmailMessage) -> None:
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout) as client:
            client.ehlo()
            if server.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if server.username is not None and server.password is not None:
                client.login(server.username, server.password)
            client.send_message(message)

    def _into_outbox(self, folder: Path, message: EmailMessage) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{self.clock.now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}.eml"
        # O_EXCL: never overwrite another mail; 0600: the file holds the recipient's address.
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(message.as_bytes())


# A mail in the outbox folder holds an address in clear and a link that lapses after 30
# minutes: it is kept no longer than a day, then the retention sweep removes it.
OUTBOX_KEPT = timedelta(days=1)


def sweep_outbox(data_dir: Path, now: datetime) -> int:
    """Remove the outbox folder's mails older than `OUTBOX_KEPT`; how many were removed."""
    folder = data_dir / OUTBOX
    if not folder.is_dir():
        return 0
    removed = 0
    for mail in folder.glob("*.eml"):
        try:
            written = datetime.strptime(mail.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue  # not one of ours
        if written <= now - OUTBOX_KEPT:
            mail.unlink(missing_ok=True)
            removed += 1
    return removed


def _domain(sender: str) -> str:
    found = getaddresses([sender])
    domain = Address(addr_spec=found[0][1]).domain if found and found[0][1] else ""
    return domain or "localhost"
