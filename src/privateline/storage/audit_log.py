"""The audit chain's rows: append, read in order, prune a prefix, verify.

Appends are serialised through the single `audit_head` row (locked FOR UPDATE on
PostgreSQL; SQLite units of work already hold the write lock), so concurrent writers
can never fork the chain.  The head row also lets `verify` notice entries removed from
the end of the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, Integer, String, Table, delete, insert, select, update

from privateline.kernel.audit import (
    GENESIS_HASH,
    AuditEntry,
    Checkpoint,
    Verification,
    next_entry,
    verify_chain,
)
from privateline.storage.declarations import (
    Erasure,
    StoreDeclaration,
    declare_not_personal,
    declare_store,
    personal,
    technical,
)
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

AUDIT_ACTIVITY = "privacy_audit_trail"

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False, info=technical()),
    Column("at", UTCDateTime, nullable=False, info=technical()),
    Column("kind", String(64), nullable=False, info=technical()),
    Column("subject", String(64), nullable=True, index=True, info=personal("user.unique_id.pseudonymous")),
    Column("detail", JSON, nullable=False, info=technical()),
    Column("prev_hash", String(64), nullable=False, info=technical()),
    Column("hash", String(64), nullable=False, info=technical()),
)

audit_head = declare_not_personal(
    Table(
        "audit_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", Integer, nullable=False),
        Column("hash", String(64), nullable=False),
        # The last pruned entry: verification starts after it.
        Column("pruned_seq", Integer, nullable=False),
        Column("pruned_hash", String(64), nullable=False),
    ),
    "sequence numbers and hashes of the audit chain's ends",
)

_HEAD_ID = 1


class AuditLog:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _head(self, lock: bool) -> tuple[Checkpoint, Checkpoint]:
        query = select(audit_head).where(audit_head.c.id == _HEAD_ID)
        if lock:
            query = query.with_for_update()
        row = self._c.execute(query).one_or_none()
        if row is None:
            if lock:
                self._c.execute(
                    insert(audit_head).values(
                        id=_HEAD_ID, seq=0, hash=GENESIS_HASH, pruned_seq=0, pruned_hash=GENESIS_HASH
                    )
                )
            return Checkpoint(), Checkpoint()
        return Checkpoint(row.seq, row.hash), Checkpoint(row.pruned_seq, row.pruned_hash)

    def append(
        self, at: datetime, kind: str, subject: str | None, detail: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        head, _ = self._head(lock=True)
        entry = next_entry(head, at, kind, subject, detail or {})
        self._c.execute(
            insert(audit_entry).values(
                seq=entry.seq,
                at=entry.at,
                kind=entry.kind,
                subject=entry.subject,
                detail=dict(entry.detail),
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
        )
        self._c.execute(update(audit_head).where(audit_head.c.id == _HEAD_ID).values(seq=entry.seq, hash=entry.hash))
        return entry

    def entries(self, subject: str | None = None) -> Iterator[AuditEntry]:
        query = select(audit_entry).order_by(audit_entry.c.seq)
        if subject is not None:
            query = query.where(audit_entry.c.subject == subject)
        for row in self._c.execute(query):
            yield AuditEntry(
                seq=row.seq,
                at=row.at,
                kind=row.kind,
                subject=row.subject,
                detail=row.detail,
                prev_hash=row.prev_hash,
                hash=row.hash,
            )

    def verify(self) -> Verification:
        head, pruned = self._head(lock=False)
        # Rows are read in primary-key order; reordering is caught by the hashes.
        result = verify_chain(self.entries(), start=pruned)
        if result.intact and result.head != head:
            return Verification(
                result.checked,
                result.head,
                broken_at=result.head.seq + 1,
                reason=f"the chain ends at entry {result.head.seq} but entry {head.seq} was written "
                "(entries removed from the end)",
            )
        return result

    def prune(self, cutoff: datetime) -> int:
        """Remove the entries older than `cutoff`, as a prefix, keeping a checkpoint."""
        self._head(lock=True)
        last_old = self._c.execute(
            select(audit_entry.c.seq, audit_entry.c.hash)
            .where(audit_entry.c.at < cutoff)
            .order_by(audit_entry.c.seq.desc())
            .limit(1)
        ).one_or_none()
        if last_old is None:
            return 0
        removed = self._c.execute(delete(audit_entry).where(audit_entry.c.seq <= last_old.seq)).rowcount
        self._c.execute(
            update(audit_head)
            .where(audit_head.c.id == _HEAD_ID)
            .values(pruned_seq=last_old.seq, pruned_hash=last_old.hash)
        )
        return int(removed)


def _prune(connection: Connection, cutoff: datetime) -> int:
    return AuditLog(connection).prune(cutoff)


declare_store(
    audit_entry,
    StoreDeclaration(
        activity=AUDIT_ACTIVITY,
        # Entries concern every kind of subject; they are found by pseudonym only.
        subject_kind="*",
        subject_column="subject",
        anchor_column="at",
        erasure=Erasure.LEGAL_HOLD,
        sweeper=_prune,
    ),
)
