"""The database engine and the unit of work.

SQLite in the data directory is the embedded default; PostgreSQL is used when a
database URL is configured.  The schema itself is created only by the migrations in
`privateline.migrations`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_FILE = "privateline.sqlite3"
READ_ONLY = "privateline_read_only"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def normalise_url(url: str) -> str:
    """Accept the usual `postgresql://` spelling and use psycopg 3 for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE below
        # takes the write lock at the start of a unit of work instead of failing with
        # "database is locked" when a reader later wants to write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 4000 pages (16 MiB of WAL) rather than 1000: the daily check-ins
        # rewrite rows all over the device table, and fewer, larger checkpoints write each
        # page once instead of several times (bench/checkin: 0.38 -> 0.44 of bare, p99 still
        # well under 50 ms; at 10000 pages one checkpoint stalls a batch for ~70 ms).
        cursor.execute("PRAGMA wal_autocheckpoint=4000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Readers need no lock in WAL mode; a plain BEGIN keeps them out of the writers' way.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def open_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=8, max_overflow=8)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class UnitOfWork:
    """One transaction: rolled back unless `commit()` was called before the block ends."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self.connection = self._engine.connect()
        self._transaction = self.connection.begin()
        return self

    def commit(self) -> None:
        self._transaction.commit()
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.connection.close()


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Database:
        return cls(open_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
