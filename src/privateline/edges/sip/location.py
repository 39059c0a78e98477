"""The registrar's location store in the database, written by group commit (DEV-4, RFC 3261 §10.3).

`DatabaseBindings` implements the core's `Bindings` protocol over `services.voip.bindings`:

* `replace()` only records the new bindings of a number in a pending overlay, so the
  registrar's work for one REGISTER costs no write;
* `flush()` writes every pending replacement in ONE transaction (a SELECT of the devices,
  one upsert of the rows and a DELETE of the places no longer used, for the whole batch:
  `services.voip.group_commit`) and returns how many numbers were written.  The
  transport calls it before it sends the responses of a batch: an answered REGISTER is a
  stored REGISTER (§10.3 step 8 answers with the bindings as stored), and the database sees
  one commit per batch instead of one per phone;
* `current()` sees this process's pending writes first, then reads the database (the
  device's unique index and the primary key's range), so a phone registered through
  another SIP process is found: several processes share one location service.  On SQLite
  it keeps what it read and what it wrote itself (as the database then holds it) for as
  long as no other connection has written (`reads.KeptReads`: the reads and the group
  commit share one connection, given by app/sip.py), which spares a read per REGISTER
  and per call; another process's registration, a switch-off or the sweep is a write by
  another connection, so the next `current()` reads again;
* `expired()` deletes the bindings past their expiry plus the grace period the register
  states (`services.voip.bindings.GRACE_MINUTES`) and returns them.

Not thread-safe: one transport (one event loop) owns an instance.  The core counts time in
epoch seconds (`now.timestamp()`); the store holds aware datetimes, to the microsecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy.exc import OperationalError

from privateline.edges.sip.core.registrar import Binding
from privateline.edges.sip.core.uri import Uri, parse_uri
from privateline.services.voip.bindings import CURRENT, GRACE, StoredBinding, delete_expired
from privateline.services.voip.group_commit import GroupCommit
from privateline.services.voip.reads import DriverConnection, HotReads, KeptReads
from privateline.storage.database import Database


class DatabaseBindings:
    """The `Bindings` of the core registrar, shared through the database (see the module)."""

    def __init__(
        self, database: Database, *, grace: timedelta = GRACE, connection: DriverConnection | None = None
    ) -> None:
        self.database = database
        self.grace = grace
        self._pending: dict[str, tuple[Binding, ...]] = {}
        self._reads = HotReads(database, connection)
        self._commit = GroupCommit(database, self._reads.connection)
        # What the database holds, as read or written here (see the module).
        self._stored: KeptReads[str, tuple[Binding, ...]] = KeptReads(self._reads.connection)

    @property
    def pending(self) -> int:
        """How many numbers have replacements waiting for `flush()`."""
        return len(self._pending)

    def current(self, user: str, now: float) -> Sequence[Binding]:
        """The bindings of `user` not expired at `now`: this process's pending ones, else the stored ones."""
        waiting = self._pending.get(user)
        if waiting is not None:
            return tuple(b for b in waiting if b.expires_at > now)
        stored = self._stored.values().get(user)
        if stored is None:
            rows = self._reads.rows(CURRENT, {"number": user})
            stored = tuple(_binding(StoredBinding(user, *row)) for row in rows)
            self._stored.keep(user, stored)
        return tuple(b for b in stored if b.expires_at > now)

    def replace(self, user: str, bindings: Sequence[Binding]) -> None:
        """Make `bindings` those of `user` (§10.3 step 7): pending until `flush()`, atomic there."""
        self._pending[user] = tuple(bindings)

    def flush(self) -> int:
        """Write every pending replacement in one transaction; the numbers written.

        A number whose device has VoIP off or is out of service is not written (DEV-10).
        If the transaction fails, the error propagates and the transport answers none of the
        batch.  When the database is unreachable or busy (OperationalError) the replacements
        stay pending and the next flush writes them: the transaction layer answers a phone's
        retransmitted REGISTER from the response it already made (§17.2.2), so that response
        must wait for this write, not for one that will never come.  Any other error (a value
        the database refuses) drops the batch, so that one bad write cannot stop every later one.
        """
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        replacements = {user: [_stored(b) for b in bindings] for user, bindings in pending.items()}
        try:
            written = self._commit.replace(replacements)
        except OperationalError:
            self._pending = {**pending, **self._pending}
            raise
        # (A failed commit drops its connection, and a new connection empties what is kept.)
        if self._stored.keeping:
            for user, rows in replacements.items():
                if user in written:
                    # As `current()` would read them back: the stored text and moments.
                    self._stored.keep(user, tuple(_binding(row) for row in rows))
                else:
                    self._stored.forget(user)
        return len(written)

    def expired(self, now: float) -> Sequence[Binding]:
        """Delete the bindings past expiry plus the grace period (and those of devices no longer served)."""
        self.flush()  # the sweep works on what is stored
        self._stored.clear()  # what the sweep deletes must not stay in memory either (DEV-4)
        with self.database.unit_of_work() as uow:
            gone = delete_expired(uow.connection, _moment(now), self.grace)
            uow.commit()
        return tuple(_binding(s) for s in gone)

    def close(self) -> None:
        """Give back the read connection (pending replacements are not written: flush first)."""
        self._reads.close()
        self._commit.close()


# The bindings of one batch share their moments (one `now`, so one registered_at and one
# expiry per Expires value): the same datetime object for each lets the upsert convert it for
# the database once per batch (`storage.upsert`, by identity) instead of once per binding.
@lru_cache(maxsize=256)
def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _stored(binding: Binding) -> StoredBinding:
    host, port = binding.source
    return StoredBinding(
        number=binding.user,
        contact=str(binding.contact),  # a URI remembers its text
        expires_at=_moment(binding.expires_at),
        q=binding.q,
        call_id=binding.call_id,
        cseq=binding.cseq,
        source_host=host,
        source_port=port,
        transport=binding.transport,
        user_agent=binding.user_agent,
        registered_at=_moment(binding.registered_at),
    )


def _binding(stored: StoredBinding) -> Binding:
    return Binding(
        user=stored.number,
        contact=_uri(stored.contact),
        expires_at=stored.expires_at.timestamp(),
        q=stored.q,
        call_id=stored.call_id,
        cseq=stored.cseq,
        source=(stored.source_host, stored.source_port),
        user_agent=stored.user_agent,
        registered_at=stored.registered_at.timestamp(),
        transport=stored.transport,
    )


# Cached: URIs are immutable values, and a registrar sees the same few thousand contacts
# again and again (a refresh keeps its contact).
@lru_cache(maxsize=65536)
def _uri(text: str) -> Uri:
    """A stored contact URI, parsed."""
    return parse_uri(text)


__all__ = ["DatabaseBindings"]
