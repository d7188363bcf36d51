"""A migrated database on each engine, and a way to add bare node rows to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ingot.db import Database, migrate, models


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


def add_node(db: Database, name: str | None = None) -> int:
    """Insert a minimal node row and return its id."""

    def write(session: object) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        node = models.Node(
            uuid=str(uuid.uuid4()), name=name, driver="fake-hardware", provision_state="enroll"
        )
        session.add(node)
        session.flush()
        return node.id

    return db.run_write(write)
