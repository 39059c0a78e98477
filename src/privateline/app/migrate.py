"""Schema migrations (Alembic), run programmatically: `privateline migrate`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

import privateline.migrations
from privateline.app.stores import declared_metadata
from privateline.storage.database import Database


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(privateline.migrations.__file__).parent))
    return config


def upgrade(database: Database) -> None:
    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["metadata"] = declared_metadata()
        command.upgrade(config, "head")


def pending(database: Database) -> bool:
    """True when the database is not at the newest revision."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current != head


def _without_declarations(metadata: MetaData) -> MetaData:
    """A copy of the schema without the stores' declarations, which a migration must not carry."""
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        copied = table.to_metadata(copy)
        copied.info = {}
        for column in copied.columns:
            column.info = {}
    return copy


def new_revision(database: Database, message: str) -> None:
    """Write a new migration script from the difference between declarations and database."""
    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["metadata"] = _without_declarations(declared_metadata())
        command.revision(config, message=message, autogenerate=True)
