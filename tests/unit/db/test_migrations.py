"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ingot.db import Database, migrate, models


def test_upgrade_to_head_creates_every_table(db: Database) -> None:
    assert migrate.current_revision(db) == migrate.head_revision(db)
    tables = set(inspect(db.engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables


def test_migrated_schema_matches_the_models(db: Database) -> None:
    """A model change without its migration shows up here as a difference."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    migrate.upgrade(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
