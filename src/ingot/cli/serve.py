"""``ingot serve``: the all-in-one service (API + conductor) on one host.

The console script normally hands ``serve`` to :mod:`ingot.server` before loading the CLI
(see ``ingot.cli.entry``); this Typer command documents it in ``--help`` and runs the same code.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ingot.server import check_exposure, is_loopback, settings_from_cli

__all__ = ["check_exposure", "is_loopback", "serve", "settings_from_cli"]


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
    from ingot.server import run

    settings = settings_from_cli(
        config, state_dir, host_ip=host, port=port, allow_open_api=allow_open_api or None
    )
    run(settings, log_level)
