"""Assemble and run one Ingot process: database, drivers, conductor and API."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

from ingot.api.app import create_app
from ingot.conductor.rpc import ConductorAPI
from ingot.conductor.service import Conductor
from ingot.db import Database, migrate
from ingot.drivers.registry import DriverRegistry
from ingot.services import Services
from ingot.settings import IngotSettings

LOG = logging.getLogger(__name__)


def build_services(settings: IngotSettings) -> Services:
    """Open the database (migrating it to the newest schema) and load the drivers."""
    settings.default.state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url, busy_timeout_ms=settings.database.sqlite_busy_timeout_ms)
    migrate.upgrade(db)
    return Services(settings=settings, db=db, drivers=DriverRegistry(settings))


@contextlib.contextmanager
def all_in_one(settings: IngotSettings) -> Iterator[tuple[Services, Conductor, FastAPI]]:
    """Services + a started conductor + the API app; stops the conductor on exit."""
    services = build_services(settings)
    conductor = Conductor(services)
    services.conductor = ConductorAPI(conductor)
    conductor.start()
    try:
        yield services, conductor, create_app(services)
    finally:
        conductor.stop()
        services.db.dispose()


def run_server(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
