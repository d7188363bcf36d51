"""Entry point of the ``ingot`` command."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ingot.cli.serve import serve
from ingot.errors import IngotError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Ingot: bare-metal provisioning with an Ironic-compatible API.")  # fmt: skip
app.command()(serve)


@app.callback()
def _root() -> None:
    """Ingot: bare-metal provisioning with an Ironic-compatible API."""


def main() -> None:
    try:
        app()
    except IngotError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}")
        sys.exit(2)
