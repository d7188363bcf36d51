"""Assemble and run one Ingot process: database, drivers, conductor and API."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

from ingot.api.app import create_app
from ingot.conductor.rpc import ConductorAPI
from ingot.conductor.rules import load_built_in_rules
from ingot.conductor.service import Conductor
from ingot.db import Database
from ingot.drivers.registry import DriverRegistry
from ingot.services import Services
from ingot.settings import IngotSettings

LOG = logging.getLogger(__name__)


def build_services(settings: IngotSettings, *, migrate_schema: bool = True) -> Services:
    """Open the database (migrating it to the newest schema) and load the drivers.

    Long-running servers pass ``migrate_schema=False`` after running :func:`migrate_out_of_process`:
    Alembic and the migration scripts then never occupy the server's memory.
    """
    settings.default.state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        settings.database_url,
        busy_timeout_ms=settings.database.sqlite_busy_timeout_ms,
        sqlite_cache_kib=settings.database.sqlite_cache_kib,
    )
    if migrate_schema:
        from ingot.db import migrate

        migrate.upgrade(db)
    # A broken built-in rules file is a start-up error, not a surprise at the first inspection.
    load_built_in_rules(settings.inspection_rules.built_in_rules)
    return Services(settings=settings, db=db, drivers=DriverRegistry(settings))


def migrate_out_of_process(settings: IngotSettings) -> None:
    """Bring the schema to head in a child process; raises ConfigError with its output."""
    import subprocess
    import sys

    settings.default.state_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "ingot.db.migrate", settings.database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        from ingot.errors import ConfigError

        raise ConfigError(f"Database migration failed: {done.stderr.strip()[-2000:]}")


@contextlib.contextmanager
def boot_servers(settings: IngotSettings) -> Iterator[None]:
    """The embedded HTTP boot server (and TFTP when ``[pxe] tftp_port`` is set), and dnsmasq
    when ``[dhcp] dhcp_provider = dnsmasq`` (stopped by PID on exit)."""
    from ingot.images.staging import PUBLISH_PREFIX, cache_dir
    from ingot.netboot import http
    from ingot.netboot.bootfiles import BootFiles

    root = settings.boot_root
    root.mkdir(parents=True, exist_ok=True)
    images = cache_dir(settings.default.state_dir)
    images.mkdir(parents=True, exist_ok=True)
    BootFiles(root, settings.boot_url).ensure_chain_files()
    stoppers = []
    if settings.deploy.http_port:
        server = http.start(
            http.Config(
                root=root,
                mounts={PUBLISH_PREFIX: images},
                host=settings.deploy.http_host,
                port=settings.deploy.http_port,
            )
        )
        stoppers.append(server.stop)
        LOG.info("HTTP boot server on %s serving %s", server.url, root)
    if settings.pxe.tftp_port:
        from ingot.netboot import tftp

        tftp_root = settings.pxe.tftp_root or root
        handle = tftp.start(
            tftp.Config(root=tftp_root, host=settings.pxe.tftp_host, port=settings.pxe.tftp_port)
        )
        stoppers.append(handle.stop)
        LOG.info("TFTP server on %s:%s serving %s", settings.pxe.tftp_host, handle.port, tftp_root)
    if settings.dhcp.dhcp_provider == "dnsmasq":
        from ingot.dhcp.provider import start_dnsmasq

        try:
            stoppers.append(start_dnsmasq(settings).stop)
        except BaseException:
            for stop in reversed(stoppers):
                stop()
            raise
    try:
        yield
    finally:
        for stop in reversed(stoppers):
            stop()


@contextlib.contextmanager
def running_conductor(
    services: Services,
    *,
    hostname: str | None = None,
    group: str | None = None,
    rpc_host: str | None = "127.0.0.1",
    rpc_port: int = 0,
) -> Iterator[Conductor]:
    """A started conductor with its JSON-RPC endpoint (recorded as ``rpc_url`` so API
    processes and peers can send it work); ``rpc_host=None`` runs it without one."""
    from ingot.conductor import rpc

    conductor = Conductor(services, hostname, group)
    server = rpc.serve(conductor, rpc_host, rpc_port) if rpc_host is not None else None
    conductor.rpc_url = server.url if server is not None else None
    try:
        conductor.start()
        try:
            yield conductor
        finally:
            conductor.stop()
    finally:
        if server is not None:
            server.stop()


@contextlib.contextmanager
def all_in_one(
    settings: IngotSettings, *, with_boot_servers: bool = False, migrate_schema: bool = True
) -> Iterator[tuple[Services, Conductor, FastAPI]]:
    """Services + a started conductor + the API app (+ boot servers); stops all on exit.

    The API calls this conductor directly for the nodes it owns and other conductors sharing
    the database over JSON-RPC for theirs."""
    services = build_services(settings, migrate_schema=migrate_schema)
    with contextlib.ExitStack() as stack:
        stack.callback(services.db.dispose)
        if with_boot_servers:
            stack.enter_context(boot_servers(settings))
        conductor = stack.enter_context(running_conductor(services))
        services.conductor = ConductorAPI(services, local=conductor)
        stack.callback(services.conductor.close)
        yield services, conductor, create_app(services)


@contextlib.contextmanager
def api_only(
    settings: IngotSettings, *, migrate_schema: bool = False
) -> Iterator[tuple[Services, FastAPI]]:
    """The API without a conductor (``ingot api``): work goes to conductors over JSON-RPC."""
    services = build_services(settings, migrate_schema=migrate_schema)
    services.conductor = ConductorAPI(services)
    try:
        yield services, create_app(services)
    finally:
        services.conductor.close()
        services.db.dispose()


def run_server(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    import uvicorn

    # ws="none": the API has no WebSocket routes, and "auto" imports a WebSocket library.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, ws="none")
