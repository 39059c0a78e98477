"""The audit chain: an append-only, hash-chained record of privacy-relevant events.

Each entry's hash covers its own content and the previous entry's hash, so changing,
removing or reordering any entry breaks every hash after it (GDPR Art. 5(2),
accountability).  Entries name a subject only by keyed pseudonym (see `pseudonym`), so
erasing a person never requires touching the chain.

Old entries are pruned by the retention rule of the register as a *prefix*: the store
keeps a checkpoint (the sequence number and hash of the last pruned entry) and
verification starts from it.  This module is the arithmetic; storage keeps the rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    kind: str
    subject: str | None  # a pseudonym, never an identifier in clear
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""


@dataclass(frozen=True)
class Checkpoint:
    """Where verification starts: the entry before the first one still stored."""

    seq: int = 0
    hash: str = GENESIS_HASH


def entry_hash(
    prev_hash: str, seq: int, at: datetime, kind: str, subject: str | None, detail: Mapping[str, Any]
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(),
            "kind": kind,
            "subject": subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def next_entry(
    previous: AuditEntry | Checkpoint, at: datetime, kind: str, subject: str | None, detail: Mapping[str, Any]
) -> AuditEntry:
    seq = previous.seq + 1
    digest = entry_hash(previous.hash, seq, at, kind, subject, detail)
    return AuditEntry(
        seq=seq, at=at, kind=kind, subject=subject, detail=dict(detail), prev_hash=previous.hash, hash=digest
    )


@dataclass(frozen=True)
class Verification:
    checked: int
    head: Checkpoint
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(entries: Iterable[AuditEntry], start: Checkpoint = Checkpoint()) -> Verification:
    """Walk the entries in stored order; report the first one that does not follow."""
    previous = start
    checked = 0
    for entry in entries:
        if entry.seq != previous.seq + 1:
            why = f"expected entry {previous.seq + 1} after entry {previous.seq}, found entry {entry.seq}"
            return Verification(checked, previous, broken_at=entry.seq, reason=why + " (removed or reordered)")
        if entry.prev_hash != previous.hash:
            return Verification(checked, previous, broken_at=entry.seq, reason="does not link to the entry before it")
        expected = entry_hash(entry.prev_hash, entry.seq, entry.at, entry.kind, entry.subject, entry.detail)
        if entry.hash != expected:
            return Verification(
                checked, previous, broken_at=entry.seq, reason="content was changed after it was written"
            )
        previous = Checkpoint(entry.seq, entry.hash)
        checked += 1
    return Verification(checked, previous)
