"""``ingot port list|create|delete``: the NICs that identify a node on the network."""

from __future__ import annotations

import re

import typer
from rich.console import Console

from ingot.cli.connection import client
from ingot.cli.output import FORMAT_OPTION, Column, Format, print_record, print_rows
from ingot.errors import IngotError

app = typer.Typer(no_args_is_help=True, help="List, create and delete ports (NICs by MAC).")
console = Console()
_UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.IGNORECASE)
COLUMNS: list[Column] = [
    ("uuid", "UUID"),
    ("address", "Address"),
    ("node_uuid", "Node UUID"),
    ("pxe_enabled", "PXE"),
    ("portgroup_uuid", "Port Group UUID"),
]


@app.command("list")
def list_ports(
    ctx: typer.Context,
    node: str = typer.Option(None, "--node", help="Only this node's ports (name or UUID)."),
    address: str = typer.Option(None, "--address", help="Only the port with this MAC."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List ports."""
    with client(ctx) as api:
        ports = api.list_ports(node=node, address=address)
    print_rows(console, ports, COLUMNS, fmt)


@app.command("create")
def create(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="MAC address, e.g. 52:54:00:12:34:56."),
    node: str = typer.Option(..., "--node", help="Node name or UUID."),
    pxe_enabled: bool = typer.Option(True, "--pxe-enabled/--no-pxe-enabled"),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Create a port on a node."""
    with client(ctx) as api:
        node_uuid = api.get_node(node, fields=["uuid"])["uuid"]
        port = api.create_port(
            {"address": address, "node_uuid": node_uuid, "pxe_enabled": pxe_enabled}
        )
    print_record(console, port, fmt)


@app.command("delete")
def delete(
    ctx: typer.Context,
    ports: list[str] = typer.Argument(..., help="Port UUIDs or MAC addresses."),
) -> None:
    """Delete ports by UUID or MAC."""
    failed = 0
    with client(ctx) as api:
        for ident in ports:
            try:
                if not _UUID.match(ident):
                    found = api.find_port(ident)
                    if found is None:
                        raise IngotError(f"No port has MAC address {ident}.")
                    ident = found["uuid"]
                api.delete_port(ident)
                console.print(f"Deleted port {ident}.")
            except IngotError as exc:
                failed += 1
                console.print(f"[red]✗ {ident}[/red]: {exc.message}")
    if failed:
        raise typer.Exit(1)
