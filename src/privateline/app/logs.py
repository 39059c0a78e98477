"""Logging that never carries personal data in clear.

Structured log events go through structlog; uvicorn's and the standard library's
records go through the same redaction.  Code logs pseudonyms, not identifiers, and as
a second line of defence every rendered line is scrubbed of IP addresses and e-mail
addresses before it leaves the process (GDPR Art. 32; promise WEB-7 for addresses).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Candidates are checked with `ipaddress`, so times such as 12:30:45 stay readable.
_ADDRESS_LIKE = re.compile(r"(?<![\w.:])[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*[0-9A-Fa-f](?:%\w+)?(?![\w.:])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _mask_address(match: re.Match[str]) -> str:
    token = match.group(0)
    host, _, port = token.rpartition(":") if token.count(":") == 1 else (token, "", "")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return token
    return f"<ip>:{port}" if port else "<ip>"


def redact(text: str) -> str:
    return _ADDRESS_LIKE.sub(_mask_address, _EMAIL.sub("<email>", text))


def _redact_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
    return event


class _CurrentStderr(logging.Handler):
    """Writes to whatever `sys.stderr` is at the moment of logging (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - logging must never break the caller
            self.handleError(record)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one redacting formatter."""
    numeric = getattr(logging, level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_event,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Alembic narrates every migration step at INFO; the CLI reports the outcome itself.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
