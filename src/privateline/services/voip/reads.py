"""Hot single-statement reads for the SIP edge: one autocommit driver connection, statements compiled once.

A registrar reads a phone's device record and current bindings for every REGISTER, and a
benchmark asks for thousands per second.  Through a SQLAlchemy `Connection` one indexed
SELECT on SQLite cost ~300 us, nearly all of it checkout, BEGIN/ROLLBACK and execution
context; the same statement on the driver's cursor ~25 us (measured side by side).  So
these reads keep SQLAlchemy for what it is good at here, building the statement and the
column types' conversions for the dialect (as `storage.upsert` does for writes), and run
the compiled text on a driver connection of the engine held by the reader:

* the connection is detached from the pool and in autocommit mode (SQLite already is,
  see `storage.database`; PostgreSQL is switched), so each SELECT is its own transaction
  and sees everything committed before it, such as another process's registrations or a
  switch-off (DEV-10);
* parameters and results pass through the column types' processors, so a moment is
  converted exactly as the stores write and read it (`storage.types.UTCDateTime`);
* after any error the connection is dropped, and the next read opens a fresh one.

`DriverConnection` is that connection on its own; the location's group commit
(`group_commit`) opens its transactions on it explicitly.

`KeptReads` keeps values read on such a connection for as long as nobody else writes: on
SQLite `PRAGMA data_version` changes when another connection commits, not when this one does.
The SIP edge shares one connection between its reads and its group commit (app/sip.py), so it
may keep what it read, and what it wrote itself, until a portal switches VoIP off, the sweep
runs or another SIP process registers a phone.  On PostgreSQL it keeps nothing.

Not thread-safe: one reader per thread (the SIP transport runs one event loop).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import Delete, Dialect, Select
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from privateline.storage.database import Database

_Convert = Callable[[Any], Any] | None
K = TypeVar("K")
V = TypeVar("V")


class Prepared:
    """A statement compiled for one dialect, with its parameters' and columns' conversions
    (a SELECT's rows, `HotReads`; or a DELETE run in a writer's own transaction, `group_commit`)."""

    def __init__(self, statement: Select[Any] | Delete, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.statement = statement  # held, so the id it is cached under is never reused
        self.sql = compiled.string
        self.positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.dialect = dialect
        self.binds: dict[str, _Convert] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        # Values fixed in the statement (literals), which the caller does not pass.
        self.fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        # Some conversions depend on the type the driver reports (PostgreSQL's numeric kinds),
        # so they are chosen from the first result's description.
        self.results: tuple[_Convert, ...] | None = None

    def converters(self, description: Any) -> tuple[_Convert, ...]:
        if self.results is None:
            assert isinstance(self.statement, Select), "only a SELECT has result columns"
            columns = self.statement.selected_columns
            self.results = tuple(
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for c, d in zip(columns, description, strict=True)
            )
        return self.results

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        given = {**self.fixed, **values} if self.fixed else values
        converted = {name: value if (p := self.binds.get(name)) is None else p(value) for name, value in given.items()}
        if self.positions is None:
            return converted
        return tuple(converted[name] for name in self.positions)


class DriverConnection:
    """One autocommit driver connection of `database`, opened on first use and detached from the
    pool (see the module); `close()` gives it back, and the next `cursor()` opens a fresh one."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine
        self.opened = 0  # connections opened so far: a new one has a `data_version` of its own
        self._pooled: PoolProxiedConnection | None = None
        self._cursor: DBAPICursor | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def cursor(self) -> DBAPICursor:
        return self._cursor or self._open()

    def _open(self) -> DBAPICursor:
        pooled = self.engine.raw_connection()
        # Ours for good: its autocommit mode must never reach the pool's other users.
        pooled.detach()
        driver: DBAPIConnection = pooled.dbapi_connection  # type: ignore[assignment]
        if self.engine.dialect.name == "postgresql":
            driver.autocommit = True
        self._pooled = pooled
        self.opened += 1
        # Dropped without close(), it still closes its connection (no leak, no warning).
        self._finalizer = weakref.finalize(self, pooled.close)
        self._cursor = driver.cursor()
        return self._cursor

    def close(self) -> None:
        self._pooled, self._cursor = None, None
        if self._finalizer is not None:
            self._finalizer()  # closes the connection, once
            self._finalizer = None


class KeptReads(Generic[K, V]):
    """Values read (or written) on `connection`, kept while no other connection has committed
    (see the module); on PostgreSQL nothing is kept.  At most `limit` of them: beyond, it starts
    afresh."""

    def __init__(self, connection: DriverConnection, limit: int = 100_000) -> None:
        self.keeping = connection.engine.dialect.name == "sqlite"
        self._connection = connection
        self._limit = limit
        self._seen: tuple[int, int] | None = None  # (connection opened, its data_version)
        self._values: dict[K, V] = {}

    def values(self) -> dict[K, V]:
        """What is kept, emptied first when another connection may have written since the last call."""
        if self.keeping and self._others_wrote():
            self._values.clear()
        return self._values

    def keep(self, key: K, value: V) -> None:
        if not self.keeping:
            return
        if len(self._values) >= self._limit:
            self._values.clear()
        self._values[key] = value

    def forget(self, key: K) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()

    def _others_wrote(self) -> bool:
        cursor = self._connection.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            row = cursor.fetchone()
        except BaseException:
            self._connection.close()
            raise
        seen = (self._connection.opened, -1 if row is None else int(row[0]))
        changed, self._seen = seen != self._seen, seen
        return changed


class HotReads:
    """Single-statement reads on one autocommit driver connection of `database` (see the module),
    its own or the one given."""

    def __init__(self, database: Database, connection: DriverConnection | None = None) -> None:
        self._prepared: dict[int, Prepared] = {}
        self._connection = connection or DriverConnection(database)

    @property
    def connection(self) -> DriverConnection:
        return self._connection

    def rows(self, statement: Select[Any], parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of `statement` (a module-level constant: it is compiled once) for `parameters`."""
        prepared = self._prepared.get(id(statement))
        if prepared is None:
            prepared = self._prepared[id(statement)] = Prepared(statement, self._connection.engine.dialect)
        cursor = self._connection.cursor()
        try:
            cursor.execute(prepared.sql, prepared.parameters(parameters))
            raw = cursor.fetchall()
            converters = prepared.converters(cursor.description)
        except BaseException:
            self.close()
            raise
        return [tuple(v if p is None else p(v) for p, v in zip(converters, r, strict=True)) for r in raw]

    def close(self) -> None:
        self._connection.close()


__all__ = ["DriverConnection", "HotReads", "KeptReads", "Prepared"]
