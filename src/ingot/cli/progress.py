"""Waiting for nodes with a live Rich display, and the failure report that quotes last_error."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ingot.client import JSON, IngotClient, ProvisionFailed, WaitTimeout, provision_outcome

# --wait with no number means "as long as it takes", as in the baremetal CLI; the client
# still needs a number, so "forever" is a day.
FOREVER = 86400.0


def describe(node: JSON) -> str:
    state = node.get("provision_state")
    target = node.get("target_provision_state")
    return f"{state} -> {target}" if target else str(state)


def wait_with_progress(
    client: IngotClient,
    idents: Sequence[str],
    state: str,
    timeout: float,
    console: Console,
    *,
    interval: float = 1.0,
) -> tuple[dict[str, JSON], dict[str, str]]:
    """Wait for every node; (final records, failures as ident -> reason). Never raises for a
    failed node, so the caller can report all of them; timeouts count as failures too."""
    limit = timeout if timeout > 0 else FOREVER
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[node]}"),
        BarColumn(bar_width=12),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks = {i: progress.add_task("waiting", total=1, node=i) for i in idents}

    def show(latest: dict[str, JSON]) -> None:
        for ident, node in latest.items():
            outcome = provision_outcome(node, state)
            text = describe(node)
            if outcome == "failed":
                text = f"[red]{text}[/red]"
            elif outcome == "done":
                text = f"[green]{text}[/green]"
            progress.update(tasks[ident], description=text, completed=outcome != "busy")

    with progress:
        try:
            latest = client.wait_for_provision_state(
                idents, state, timeout=limit, interval=interval, on_progress=show, fail_fast=False
            )
            return latest, {}
        except ProvisionFailed as exc:
            return exc.nodes, exc.failures
        except WaitTimeout as exc:
            return {}, {i: f"still {s} after {limit:g}s" for i, s in exc.pending.items()}


def report_failures(console: Console, failures: dict[str, str], what: str) -> None:
    for ident, why in failures.items():
        console.print(f"[red]✗ {escape(ident)}[/red]: {escape(what)}: {escape(why)}")
