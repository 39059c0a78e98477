"""Writing many rows by key, in the dialect's own words (SQLite and PostgreSQL both say ON CONFLICT).

`upsert` inserts or replaces rows, `update_by_key` changes columns of existing rows.  Both
take a whole batch at once and hand it to the database in one call, not one per row:

- PostgreSQL gets the batch as one JSON document, unpacked by `json_to_recordset` into
  rows of the table's column types, so the server runs one statement for the batch and
  the driver encodes one text value (JSON is encoded in C; the driver's arrays, one per
  column, are encoded element by element in Python);
- SQLite runs in the process, where the driver's `executemany` costs little per row; the
  statement is compiled once and the rows go to the driver as they are, with only the
  columns whose type converts values (such as moments) converted.  SQLAlchemy's own
  executemany would rebuild every row's parameters, which costs more than SQLite's work.

Either way each value is converted by its column's type first, as SQLAlchemy would (a
naive moment is refused), and rows are written in key order, so two transactions writing
overlapping batches take their row locks in the same order instead of deadlocking.  The
statements are built once per table and column set (they hold no data).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Table, Update, bindparam, cast, column, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Text

_Row = dict[str, Any]
_Converters = tuple[tuple[int, Callable[[Any], Any]], ...]


def upsert(connection: Connection, table: Table, rows: Sequence[_Row], key: Sequence[str]) -> None:
    """Write `rows`; a row whose `key` exists replaces the stored values of the other columns.

    Of several rows with the same key the last one wins, as if they were written one by one.
    """
    if rows:
        columns, batch = _in_key_order(rows, key)
        _statement("upsert", connection.dialect, table, columns, tuple(key)).run(connection, batch)


def upsert_on_sqlite_cursor(
    cursor: DBAPICursor, dialect: Dialect, table: Table, rows: Sequence[_Row], key: Sequence[str]
) -> None:
    """`upsert` on a driver cursor of SQLite, in the transaction the caller holds open on it.

    For a writer that runs its own transactions on a dedicated driver connection (the SIP
    location's group commit, `services.voip.group_commit`): the same statement and
    conversions as `upsert`, without a SQLAlchemy `Connection` around it.
    """
    if dialect.name != "sqlite":
        raise NotImplementedError("a driver cursor is only written directly on SQLite")
    if rows:
        columns, batch = _in_key_order(rows, key)
        statement = _statement("upsert", dialect, table, columns, tuple(key))
        assert isinstance(statement, _SqliteBatch)
        cursor.executemany(statement.sql, statement.parameters(batch))


def update_by_key(connection: Connection, table: Table, rows: Sequence[_Row], key: Sequence[str]) -> None:
    """Set the other columns of each row to the given values where `key` matches; no row is inserted.

    A row whose values are already stored is left as it is (no new row version, nothing to
    write).  Of several rows with the same key the last one wins.
    """
    if rows:
        columns, batch = _in_key_order(rows, key)
        _statement("update", connection.dialect, table, columns, tuple(key)).run(connection, batch)


def _in_key_order(rows: Sequence[_Row], key: Sequence[str]) -> tuple[tuple[str, ...], list[_Row]]:
    key_of = itemgetter(*key)
    latest: dict[Any, _Row] = {key_of(row): row for row in rows}
    return tuple(rows[0]), [latest[k] for k in sorted(latest)]


class _Batch:
    """A statement compiled for one dialect, table and column set, and how to run it for rows."""

    def __init__(self, dialect: Dialect, table: Table, columns: tuple[str, ...]) -> None:
        self.columns = columns
        converters = []
        for index, name in enumerate(columns):
            convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters.append((index, convert))
        self.converters: _Converters = tuple(converters)
        self.values = _getter(columns)

    def converted(self, rows: Sequence[_Row]) -> list[tuple[Any, ...]]:
        """Each row's values in column order, converted by their column types as SQLAlchemy would."""
        if not self.converters:
            return [self.values(row) for row in rows]
        # Rows of a batch often share one value object (the batch's moment): convert it once.
        # By identity, not equality: equal moments in other time zones convert differently.
        done: dict[tuple[int, int], Any] = {}
        result = []
        for row in rows:
            values = list(self.values(row))
            for index, convert in self.converters:
                value = values[index]
                seen = (index, id(value))
                if seen not in done:
                    done[seen] = convert(value)
                values[index] = done[seen]
            result.append(tuple(values))
        return result

    def run(self, connection: Connection, rows: Sequence[_Row]) -> None:
        raise NotImplementedError


def _getter(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """The items at `keys`, always as a tuple (itemgetter of one key gives the bare item)."""
    if len(keys) == 1:
        (only,) = keys
        return lambda items: (items[only],)
    return itemgetter(*keys)


def _param(name: str) -> str:
    # A bound parameter may not take a column's own name in an INSERT or UPDATE.
    return f"b_{name}"


class _SqliteBatch(_Batch):
    """`executemany` of the compiled statement, with plain values for the driver."""

    def __init__(self, dialect: Dialect, table: Table, columns: tuple[str, ...], statement: Insert | Update) -> None:
        super().__init__(dialect, table, columns)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        # Where each placeholder's value sits among `columns` (a value may be used twice).
        index_of = {_param(name): index for index, name in enumerate(columns)}
        self.order = _getter([index_of[p] for p in compiled.positiontup or ()])

    def run(self, connection: Connection, rows: Sequence[_Row]) -> None:
        connection.exec_driver_sql(self.sql, self.parameters(rows))

    def parameters(self, rows: Sequence[_Row]) -> list[tuple[Any, ...]]:
        return [self.order(values) for values in self.converted(rows)]


class _PostgresBatch(_Batch):
    """The statement with the rows in one JSON parameter, `:b_rows`."""

    def __init__(self, dialect: Dialect, table: Table, columns: tuple[str, ...], statement: Insert | Update) -> None:
        super().__init__(dialect, table, columns)
        self.statement = statement
        # Values JSON cannot hold become text once per value object, with the conversion.
        self.converters = tuple((i, _then_json(convert)) for i, convert in self.converters)

    def run(self, connection: Connection, rows: Sequence[_Row]) -> None:
        names = self.columns
        document = [dict(zip(names, values, strict=True)) for values in self.converted(rows)]
        connection.execute(self.statement, {"b_rows": json.dumps(document, default=_json_value)})


def _json_value(value: Any) -> Any:
    """A value JSON cannot hold, in the text form PostgreSQL reads for its column type."""
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot send a {type(value).__name__} in a batch")


def _then_json(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def converted(value: Any) -> Any:
        value = convert(value)
        return value if value is None or isinstance(value, str | int | float) else _json_value(value)

    return converted


@lru_cache(maxsize=64)  # by dialect: an engine's own, of which tests make many
def _statement(kind: str, dialect: Dialect, table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> _Batch:
    changed = [c for c in columns if c not in key]
    if dialect.name == "postgresql":
        batch = (
            func.json_to_recordset(cast(bindparam("b_rows", type_=Text), postgresql.JSON))
            .table_valued(*(column(c, table.c[c].type) for c in columns))
            .render_derived(name="batch", with_types=True)
        )
        if kind == "upsert":
            insert = postgresql.insert(table).from_select(list(columns), select(*(batch.c[c] for c in columns)))
            statement: Insert | Update = insert.on_conflict_do_update(
                index_elements=list(key), set_={c: insert.excluded[c] for c in changed}
            )
        else:
            statement = (
                update(table)
                .where(*(table.c[k] == batch.c[k] for k in key))
                .where(or_(*(table.c[c].is_distinct_from(batch.c[c]) for c in changed)))
                .values({c: batch.c[c] for c in changed})
            )
        return _PostgresBatch(dialect, table, columns, statement)
    if dialect.name == "sqlite":
        value = {c: bindparam(_param(c), type_=table.c[c].type) for c in columns}
        if kind == "upsert":
            lite = sqlite.insert(table).values(value)
            statement = lite.on_conflict_do_update(
                index_elements=list(key), set_={c: lite.excluded[c] for c in changed}
            )
        else:
            statement = (
                update(table)
                .where(*(table.c[k] == value[k] for k in key))
                .where(or_(*(table.c[c].is_distinct_from(value[c]) for c in changed)))
                .values({c: value[c] for c in changed})
            )
        return _SqliteBatch(dialect, table, columns, statement)
    raise NotImplementedError(f"no {kind} for the {dialect.name} dialect")
