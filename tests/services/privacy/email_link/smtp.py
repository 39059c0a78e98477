"""A real SMTP server for tests (aiosmtpd) on a free loopback port, keeping every mail it receives."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.ports import free_port

_LINK = re.compile(r"https?://\S+/privacy-center/email/open\?\S+")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def link(self) -> str:
        found = _LINK.search(self.body)
        assert found is not None, self.body
        return found.group(0)

    @property
    def path(self) -> str:
        """The link's path and query, to open it on the test server whatever `public_url` says."""
        parts = urlsplit(self.link)
        return f"{parts.path}?{parts.query}"


@dataclass
class Inbox:
    port: int
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def last_to(self, address: str) -> Received:
        found = self.to(address)
        assert found, f"no mail to {address}"
        return found[-1]


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    handler: Any = inbox
    controller = Controller(handler, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
