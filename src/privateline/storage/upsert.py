"""Insert-or-replace by key, in the dialect's own words (SQLite and PostgreSQL both say ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> None:
    """Write `rows`; a row whose `key` exists replaces the stored values of the other columns."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        pg_statement = pg.on_conflict_do_update(
            index_elements=list(key), set_={c: pg.excluded[c] for c in rows[0] if c not in key}
        )
        connection.execute(pg_statement, list(rows))
    elif dialect == "sqlite":
        lite = sqlite.insert(table)
        lite_statement = lite.on_conflict_do_update(
            index_elements=list(key), set_={c: lite.excluded[c] for c in rows[0] if c not in key}
        )
        connection.execute(lite_statement, list(rows))
    else:
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
