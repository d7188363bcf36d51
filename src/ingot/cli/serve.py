"""``ingot serve``: the all-in-one service (API + conductor) on one host."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import typer
from rich.console import Console

from ingot.errors import ConfigError
from ingot.settings import IngotSettings, load_settings

console = Console(stderr=True)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: IngotSettings, host: str) -> None:
    """Refuse an unauthenticated API on a non-loopback address unless explicitly accepted."""
    if (
        settings.api.auth_strategy == "noauth"
        and not is_loopback(host)
        and not settings.api.allow_open_api
    ):
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


def serve(
    host: str = typer.Option(
        None, help="Address to listen on (default: [api] host_ip, 127.0.0.1)."
    ),
    port: int = typer.Option(None, help="Port to listen on (default: [api] port, 6385)."),
    state_dir: Path = typer.Option(None, "--state-dir", help="Where the database and files live."),
    config: Path = typer.Option(None, "--config", help="TOML configuration file."),
    allow_open_api: bool = typer.Option(
        False, "--allow-open-api", help="Allow noauth on a non-loopback address."
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Run the all-in-one Ingot service: Ironic-compatible API and conductor."""
    from ingot.app_runtime import all_in_one, run_server

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from_cli(
        config, state_dir, host_ip=host, port=port, allow_open_api=allow_open_api or None
    )
    check_exposure(settings, settings.api.host_ip)
    with all_in_one(settings, with_boot_servers=True) as (_services, _conductor, app):
        url = f"http://{settings.api.host_ip}:{settings.api.port}"
        console.print(
            f"[bold]Ingot[/bold] API listening on {url} (state in {settings.default.state_dir})"
        )
        console.print(
            "Point the baremetal CLI at it:\n"
            f"  export OS_AUTH_TYPE=none OS_ENDPOINT={url}\n"
            "  baremetal node list\n"
            f"or: baremetal --os-auth-type none --os-endpoint {url} node list"
        )
        run_server(app, settings.api.host_ip, settings.api.port, log_level="warning")
