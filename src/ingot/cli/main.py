"""Entry point of the ``ingot`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape

from ingot.cli import (
    cluster,
    db_cmd,
    deploy_plan,
    image,
    lab_cmd,
    node,
    node_actions,
    port,
    ramdisk,
)
from ingot.cli.connection import URL_ENVVARS, Connection
from ingot.cli.explain import explain
from ingot.cli.import_cmd import import_inventory
from ingot.cli.serve import serve
from ingot.cli.watch import watch
from ingot.client import DEFAULT_URL
from ingot.errors import IngotError

HELP = """Ingot: bare-metal provisioning with an Ironic-compatible API.

Examples: `ingot import instackenv.json --manage --provide` ·
`ingot node list --state available` · `ingot node deploy compute-0 --wait 1800` ·
`ingot watch`"""
app = typer.Typer(no_args_is_help=True, add_completion=True, help=HELP)
app.command()(serve)
app.command("api")(cluster.api)
app.command("conductor")(cluster.conductor)
node_actions.register(node.app)
app.add_typer(node.app, name="node")
app.add_typer(port.app, name="port")
app.add_typer(lab_cmd.app, name="lab")
app.add_typer(ramdisk.app, name="ramdisk")
app.add_typer(image.app, name="image")
app.add_typer(db_cmd.app, name="db")
app.command("import")(import_inventory)
app.command("watch")(watch)
app.command("explain")(explain)
app.command("deploy")(deploy_plan.deploy)


@app.callback()
def _root(
    ctx: typer.Context,
    url: str = typer.Option(
        DEFAULT_URL, "--url", envvar=URL_ENVVARS, help="Ingot API URL (INGOT_URL, OS_ENDPOINT)."
    ),
    username: str = typer.Option(
        None, "--username", envvar="INGOT_USERNAME", help="HTTP basic auth user."
    ),
    password: str = typer.Option(
        None, "--password", envvar="INGOT_PASSWORD", help="HTTP basic auth password."
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per HTTP request."),
) -> None:
    """Ingot: bare-metal provisioning with an Ironic-compatible API.

    Examples:

      ingot import instackenv.json --manage --provide

      ingot node list --state available

      ingot node deploy compute-0 --wait 1800
    """
    ctx.obj = Connection(url=url, username=username, password=password, timeout=timeout)


def expand_wait(args: Sequence[str]) -> list[str]:
    """Let ``--wait`` take an optional number, as in the baremetal CLI.

    Typer options cannot have an optional value, so a bare ``--wait`` (not followed by a
    number) becomes ``--wait=0``, which means "no time limit".
    """
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--wait":
            following = args[i + 1] if i + 1 < len(args) else ""
            try:
                float(following)
            except ValueError:
                out.append("--wait=0")
                continue
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    try:
        app(args=expand_wait(sys.argv[1:] if argv is None else argv))
    except IngotError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        sys.exit(2)
