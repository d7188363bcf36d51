"""Shared fixtures: settings in a temp state dir, a migrated database (SQLite, and PostgreSQL
when INGOT_TEST_PG_URL is set by scripts/with-postgres.sh), and an in-process API with its
conductor running."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ingot.settings import IngotSettings, load_settings

PG_URL = os.environ.get("INGOT_TEST_PG_URL")
LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}


@pytest.fixture
def settings(tmp_path: Path) -> IngotSettings:
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
    )


def _fresh_pg_database() -> Iterator[str]:
    assert PG_URL is not None
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for each engine; PostgreSQL skips when no server was started."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    if not PG_URL:
        pytest.skip("INGOT_TEST_PG_URL not set: run through scripts/with-postgres.sh (make test)")
    yield from _fresh_pg_database()


@pytest.fixture
def app_services(settings: IngotSettings) -> Iterator[Any]:
    """(services, conductor, app) of an all-in-one process on SQLite."""
    from ingot.app_runtime import all_in_one

    with all_in_one(settings) as bundle:
        yield bundle


@pytest.fixture
def client(app_services: Any) -> Iterator[Any]:
    """A TestClient speaking the newest microversion by default."""
    from fastapi.testclient import TestClient

    _services, _conductor, app = app_services
    with TestClient(app, headers=LATEST) as test_client:
        yield test_client
