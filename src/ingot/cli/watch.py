"""``ingot watch``: a live table of nodes and their states, with manual power requests lit up.

Servers without a BMC (``manual-management``) need a person at the button; the conductor
records each request in ``driver_internal_info.manual_power_request`` and this view shows it
in bold so the operator sees it from across the room.
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ingot.cli.connection import client
from ingot.cli.output import truncate
from ingot.cli.progress import describe
from ingot.client import IngotClient

console = Console()
FIELDS = (
    "uuid",
    "name",
    "power_state",
    "provision_state",
    "target_provision_state",
    "maintenance",
    "last_error",
    "driver",
    "driver_internal_info",
)


def manual_request(node: dict[str, Any]) -> str | None:
    """The pending 'please press the button' message of a manual-management node."""
    info = node.get("driver_internal_info") or {}
    request = info.get("manual_power_request") if isinstance(info, dict) else None
    if isinstance(request, dict) and request.get("message"):
        return str(request["message"])
    return None


def render(nodes: list[dict[str, Any]], title: str) -> Group:
    table = Table(title=title)
    for heading in (
        "Name",
        "UUID",
        "Power State",
        "Provisioning State",
        "Maintenance",
        "Last Error",
    ):
        table.add_column(heading, overflow="fold")
    prompts: list[Text] = []
    for node in nodes:
        state = describe(node)
        style = "red" if ("fail" in state or node.get("provision_state") == "error") else None
        table.add_row(
            str(node.get("name")),
            str(node.get("uuid")),
            str(node.get("power_state")),
            state,
            str(node.get("maintenance")),
            truncate(node.get("last_error")),
            style=style,
        )
        ask = manual_request(node)
        if ask and node.get("target_provision_state"):
            prompts.append(Text(ask, style="bold yellow"))
    return Group(table, *prompts)


def snapshot(api: IngotClient, state: str | None) -> list[dict[str, Any]]:
    return api.list_nodes(fields=FIELDS, provision_state=state)


def watch(
    ctx: typer.Context,
    interval: float = typer.Option(2.0, "--interval", "-n", help="Seconds between refreshes."),
    state: str = typer.Option(None, "--state", help="Only nodes in this provision state."),
    once: bool = typer.Option(False, "--once", help="Print the table once and exit."),
) -> None:
    """A live table of nodes changing state (Ctrl-C to stop)."""
    with client(ctx) as api:
        if once:
            console.print(render(snapshot(api, state), f"Nodes at {api.endpoint}"))
            return
        try:
            with Live(console=console, auto_refresh=False) as live:
                while True:
                    stamp = time.strftime("%H:%M:%S")
                    title = f"Nodes at {api.endpoint} ({stamp}, every {interval:g}s)"
                    live.update(render(snapshot(api, state), title), refresh=True)
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
