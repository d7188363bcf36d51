"""``ingot explain``: which nodes an allocation would get, and why every other node would not.

The answer comes from the server's ``GET /v1/ingot/explain`` (the same matching the
allocation API runs), so it reads the live fleet and allocates nothing.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from ingot.cli.connection import connection
from ingot.cli.output import FORMAT_OPTION, Column, Format, Row, dump, print_rows
from ingot.client import IngotClient

console = Console()

COLUMNS: list[Column] = [
    ("label", "Node"),
    ("provision_state", "State"),
    ("resource_class", "Resource Class"),
    ("eligible", "Eligible"),
    ("why", "Reasons"),
]


def _style(row: Row) -> str | None:
    return "green" if row.get("eligible") else None


def explain(
    ctx: typer.Context,
    resource_class: str = typer.Option(None, "--resource-class", help="e.g. baremetal"),
    trait: list[str] = typer.Option([], "--trait", help="Required trait; repeatable."),
    capability: list[str] = typer.Option(
        [], "--capability", help="KEY:VALUE as Nova matches it, e.g. profile:compute; repeatable."
    ),
    candidate: list[str] = typer.Option([], "--candidate", help="Only these nodes; repeatable."),
    owner: str = typer.Option(None, "--owner", help="Project the node must belong to."),
    endpoint: str = typer.Option(None, "--endpoint", help="Ingot API URL (default: --url)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show why nodes do or do not match, without allocating (exit 1 when none matches).

    Example: ingot explain --resource-class baremetal --capability profile:compute
    """
    conn = connection(ctx)
    client = IngotClient(
        endpoint or conn.url, username=conn.username, password=conn.password,
        timeout=conn.timeout,
    )  # fmt: skip
    with client:
        result = query(client, resource_class, trait, capability, candidate, owner)
    if fmt in (Format.json, Format.yaml):
        console.out(dump(result, fmt), highlight=False)
    else:
        rows = [
            {**n, "label": n.get("name") or n["uuid"], "why": "; ".join(n["reasons"]) or "-"}
            for n in result["nodes"]
        ]
        print_rows(console, rows, COLUMNS, fmt, title=f"Matching {result['request']}",
                   style=_style)  # fmt: skip
        if fmt is Format.table:
            matched = len(result["eligible"])
            console.print(
                f"[green]{matched} node(s) match.[/green]" if matched else result["message"],
                highlight=False,
            )
    if not result["eligible"]:
        raise typer.Exit(1)


def query(
    client: IngotClient, resource_class: str | None, traits: list[str],
    capabilities: list[str], candidates: list[str], owner: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The server's explanation for one request (also used by deployment plans)."""
    params = {
        "resource_class": resource_class,
        "traits": ",".join(traits) or None,
        "capabilities": ",".join(capabilities) or None,
        "candidate_nodes": ",".join(candidates) or None,
        "owner": owner,
    }
    result: dict[str, Any] = client.get("/v1/ingot/explain", **params)
    return result
