"""The all-in-one server process (``ingot serve``), kept lean: no CLI libraries, no Alembic.

``ingot serve`` runs here directly (see ``ingot.cli.entry``) so the long-running process holds
only what serving needs; the schema migration runs in a short-lived child first.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path

from ingot.errors import ConfigError, IngotError
from ingot.settings import IngotSettings, load_settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: IngotSettings, host: str) -> None:
    """Refuse an unauthenticated API on a non-loopback address unless explicitly accepted."""
    api = settings.api
    if api.auth_strategy == "noauth" and not is_loopback(host) and not api.allow_open_api:
        raise ConfigError(
            f"Refusing to serve an unauthenticated API on {host}: anyone who can reach it could "
            'power servers off and erase disks. Use auth_strategy = "http_basic" with an '
            "htpasswd file, bind to 127.0.0.1, or pass --allow-open-api if you really mean it."
        )


def settings_from_cli(config: Path | None, state_dir: Path | None, **api: object) -> IngotSettings:
    overrides: dict[str, dict[str, object]] = {}
    if state_dir is not None:
        overrides["default"] = {"state_dir": state_dir}
    api_values = {k: v for k, v in api.items() if v is not None}
    if api_values:
        overrides["api"] = api_values
    return load_settings(config, **overrides)


# Modules the libraries import but a server never uses (docs/benchmarks.md, memory):
# httpx's command-line client, which drags in Rich, Pygments and Click; FastAPI's probe
# for Pydantic v1 models (Ingot has none; FastAPI treats the ImportError as "not v1"); and
# watchfiles, which uvicorn loads for --reload (it falls back to its stat-based reloader).
UNUSED_MODULES = ("httpx._main", "pydantic.v1", "watchfiles")


def skip_unused_modules() -> None:
    """Make later imports of :data:`UNUSED_MODULES` fail fast; no-op for ones already loaded.

    About 6 MiB of the server's resident memory at start-up.
    """
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None blocks the import


def run(settings: IngotSettings, log_level: str = "info") -> None:
    """Migrate, then serve API + conductor + boot servers until interrupted."""
    skip_unused_modules()
    from ingot.app_runtime import all_in_one, migrate_out_of_process, run_server

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    check_exposure(settings, settings.api.host_ip)
    migrate_out_of_process(settings)
    with all_in_one(settings, with_boot_servers=True, migrate_schema=False) as (_s, _c, app):
        url = f"http://{settings.api.host_ip}:{settings.api.port}"
        print(
            f"Ingot API listening on {url} (state in {settings.default.state_dir})\n"
            "Point the baremetal CLI at it:\n"
            f"  export OS_AUTH_TYPE=none OS_ENDPOINT={url}\n"
            "  baremetal node list\n"
            f"or: baremetal --os-auth-type none --os-endpoint {url} node list",
            file=sys.stderr,
            flush=True,
        )
        run_server(app, settings.api.host_ip, settings.api.port, log_level="warning")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ingot serve",
        description="Run the all-in-one Ingot service: Ironic-compatible API and conductor.",
    )
    p.add_argument("--host", help="Address to listen on (default: [api] host_ip, 127.0.0.1).")
    p.add_argument("--port", type=int, help="Port to listen on (default: [api] port, 6385).")
    p.add_argument("--state-dir", type=Path, help="Where the database and files live.")
    p.add_argument("--config", type=Path, help="TOML configuration file.")
    p.add_argument("--allow-open-api", action="store_true",
                   help="Allow noauth on a non-loopback address.")  # fmt: skip
    p.add_argument("--log-level", default="info", help="debug, info, warning or error.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_from_cli(
            args.config, args.state_dir, host_ip=args.host, port=args.port,
            allow_open_api=args.allow_open_api or None,
        )  # fmt: skip
        run(settings, args.log_level)
    except IngotError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
