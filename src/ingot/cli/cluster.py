"""``ingot api`` and ``ingot conductor``: the scaled-out processes sharing one PostgreSQL.

Run any number of each against the same ``INGOT_DATABASE__CONNECTION``. Conductors register,
heartbeat and serve JSON-RPC; API processes route each node's work to its owner on the hash
ring (docs/architecture.md). ``ingot serve`` remains the one-process setup.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import typer

from ingot.errors import ConfigError
from ingot.settings import IngotSettings

# Any fixed number all Ingot processes agree on: the advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x1D607


def migrate_once(settings: IngotSettings) -> None:
    """Bring the schema to head; on PostgreSQL under an advisory lock, so processes started
    together migrate one after the other (the later ones find nothing to do)."""
    from ingot.app_runtime import migrate_out_of_process

    if not settings.database_url.startswith("postgresql"):
        migrate_out_of_process(settings)
        return
    from sqlalchemy import text

    from ingot.db.engine import make_nullpool_engine

    engine = make_nullpool_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            try:
                migrate_out_of_process(settings)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
    finally:
        engine.dispose()


def _settings(config: Path | None, state_dir: Path | None, **api: object) -> IngotSettings:
    from ingot.server import settings_from_cli

    return settings_from_cli(config, state_dir, **api)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per RPC call otherwise


def api(
    host: str = typer.Option(None, help="Address to listen on (default: [api] host_ip)."),
    port: int = typer.Option(None, help="Port to listen on (default: [api] port, 6385)."),
    state_dir: Path = typer.Option(None, "--state-dir", help="Local files (not the database)."),
    config: Path = typer.Option(None, "--config", help="TOML configuration file."),
    allow_open_api: bool = typer.Option(
        False, "--allow-open-api", help="Allow noauth on a non-loopback address."
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Run an API process only; conductors (`ingot conductor`) do the work."""
    from ingot.app_runtime import api_only, run_server
    from ingot.conductor.rpc_auth import credentials
    from ingot.server import check_exposure

    settings = _settings(
        config, state_dir, host_ip=host, port=port, allow_open_api=allow_open_api or None
    )
    _logging(log_level)
    check_exposure(settings, settings.api.host_ip)
    credentials(settings.json_rpc)  # http_basic without a password fails here, not per call
    migrate_once(settings)
    with api_only(settings) as (_services, app):
        print(f"Ingot API (no conductor) on http://{settings.api.host_ip}:{settings.api.port}",
              file=sys.stderr, flush=True)  # fmt: skip
        run_server(app, settings.api.host_ip, settings.api.port, log_level="warning")


def conductor(
    name: str = typer.Option(..., "--name", help="This conductor's unique host name."),
    group: str = typer.Option(
        None, "--group", help="Conductor group (default: the conductor_group setting)."
    ),
    rpc_host: str = typer.Option(
        "127.0.0.1", "--rpc-host", help="Address of the JSON-RPC endpoint the API calls."
    ),
    rpc_port: int = typer.Option(0, "--rpc-port", help="Its port (0: any free port)."),
    state_dir: Path = typer.Option(
        None, "--state-dir", help="This conductor's boot files and image cache."
    ),
    config: Path = typer.Option(None, "--config", help="TOML configuration file."),
    allow_open_rpc: bool = typer.Option(
        False,
        "--allow-open-rpc",
        help="Allow [json_rpc] auth_strategy noauth on a non-loopback --rpc-host.",
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Run a conductor only, with its own boot server; stops on SIGTERM or Ctrl-C."""
    from ingot.app_runtime import boot_servers, build_services, running_conductor
    from ingot.conductor.rpc_auth import check_rpc_exposure, credentials

    settings = _settings(config, state_dir)
    if allow_open_rpc:
        settings.json_rpc = settings.json_rpc.model_copy(update={"allow_open_rpc": True})
    _logging(log_level)
    if not name.strip():
        raise ConfigError("--name must be a non-empty, unique conductor host name.")
    check_rpc_exposure(settings.json_rpc, rpc_host)  # before migrating or registering
    credentials(settings.json_rpc)
    migrate_once(settings)
    services = build_services(settings, migrate_schema=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with (
            boot_servers(settings),
            running_conductor(
                services, hostname=name, group=group, rpc_host=rpc_host, rpc_port=rpc_port
            ) as running,
        ):
            print(f"Ingot conductor {name} (group {running.group!r}) serving RPC at "
                  f"{running.rpc_url}", file=sys.stderr, flush=True)  # fmt: skip
            stop.wait()
    finally:
        services.db.dispose()
