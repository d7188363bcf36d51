"""``ingot import FILE``: enroll the servers of an inventory file, idempotently.

Reads any format ``ingot.inventory`` knows (TripleO instackenv, Bifrost, per-server YAML,
CSV, ``baremetal create`` files), prints each node's notes, then creates or updates chassis,
nodes, port groups and ports, and optionally drives the nodes on to ``available``.
Passwords are never printed: plans and notes show ``******``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingot.cli import lifecycle
from ingot.cli.connection import client
from ingot.cli.import_apply import Outcome, apply_plan, ensure_chassis, extra_ports
from ingot.cli.import_plan import Existing, NodePlan, plan_import
from ingot.cli.progress import describe
from ingot.client import IngotClient
from ingot.inventory import FORMATS, Inventory, parse_inventory

console = Console()
ACTION_STYLE = {"create": "green", "update": "yellow", "unchanged": "dim", "conflict": "red"}
RESULT_STYLE = {"created": "green", "updated": "yellow", "unchanged": "dim", "failed": "red"}


def import_inventory(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Inventory file."),
    manage: bool = typer.Option(False, "--manage", help="Move the nodes to manageable."),
    inspect: bool = typer.Option(False, "--inspect", help="Inspect the nodes (implies manage)."),
    provide: bool = typer.Option(False, "--provide", help="Make the nodes available."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid nodes and list the invalid ones."
    ),
    fmt: str = typer.Option(
        None, "--format", help=f"File format, when detection guesses wrong: {', '.join(FORMATS)}."
    ),
    update_secrets: bool = typer.Option(
        False, "--update-secrets", help="Resend passwords to nodes that already have one."
    ),
    concurrency: int = typer.Option(20, "--concurrency", min=1, help="Nodes driven at once."),
    timeout: float = typer.Option(
        1800.0, "--step-timeout", help="Seconds allowed per step per node."
    ),
) -> None:
    """Import an inventory: create or update nodes and ports, then manage/inspect/provide.

    Examples:

      ingot import instackenv.json --dry-run

      ingot import instackenv.json --manage --provide
    """
    inventory = parse_inventory(file, fmt=fmt, skip_invalid=skip_invalid)
    show_notes(inventory)
    with client(ctx) as api:
        existing = Existing.fetch(api)
        plans = plan_import(inventory, existing, update_secrets=update_secrets)
        show_plan(plans, dry_run)
        if dry_run:
            console.print("[bold]Dry run:[/bold] nothing was changed.")
            raise typer.Exit(1 if inventory.problems else 0)
        chassis = ensure_chassis(api, inventory, existing)
        outcomes = apply_plan(api, plans, chassis)
        errors = extra_ports(api, inventory, existing)
        show_outcomes(outcomes, errors)
        wanted = [
            s for s, on in (("manage", manage), ("inspect", inspect), ("provide", provide)) if on
        ]
        jobs_failed = run_lifecycle(api, outcomes, wanted, concurrency, timeout) if wanted else 0
    failed = any(o.result == "failed" for o in outcomes) or errors or inventory.problems
    if failed or jobs_failed:
        raise typer.Exit(1)


def show_notes(inventory: Inventory) -> None:
    console.print(
        f"Read {len(inventory.nodes)} node(s) from {escape(inventory.source)} "
        f"({inventory.format} format)."
    )
    for request in inventory.nodes:
        for note in request.notes:
            label = request.name or request.source
            console.print(f"  [cyan]note[/cyan] {escape(label)}: {escape(note)}")
    for problem in inventory.problems:
        console.print(f"  [red]skipped[/red] {escape(str(problem))}")


def show_plan(plans: list[NodePlan], dry_run: bool) -> None:
    table = Table(title="Import plan" if dry_run else None)
    for heading in ("Node", "Source", "Action", "Changes"):
        table.add_column(heading, overflow="fold")
    for plan in plans:
        if plan.action == "create":
            detail = [f"driver={plan.request.node.get('driver')}"]
            detail += [f"add port group {g.get('name') or g.get('address')}"
                       for g in plan.request.portgroups]  # fmt: skip
            detail += [f"add port {p['address']}" for p in plan.new_ports]
        elif plan.action == "conflict":
            detail = [plan.reason]
        else:
            existing = plan.existing or {}
            detail = [
                f"matches {existing.get('name') or existing.get('uuid')} by {plan.matched_by}"
            ]
            detail += plan.changes()
        style = ACTION_STYLE.get(plan.action, "")
        table.add_row(
            escape(plan.label),
            escape(plan.request.source),
            f"[{style}]{plan.action}[/{style}]",
            escape("; ".join(detail)),
        )
    if dry_run or len(plans) <= 50:
        console.print(table)


def show_outcomes(outcomes: list[Outcome], errors: list[str]) -> None:
    for outcome in outcomes:
        if outcome.result == "failed":
            console.print(
                f"[red]✗ {escape(outcome.plan.label)}[/red] "
                f"({escape(outcome.plan.request.source)}): {escape(outcome.error)}"
            )
    for error in errors:
        console.print(f"[red]✗[/red] {escape(error)}")
    counts = {r: sum(1 for o in outcomes if o.result == r) for r in RESULT_STYLE}
    console.print(
        ", ".join(f"[{RESULT_STYLE[r]}]{n} {r}[/{RESULT_STYLE[r]}]" for r, n in counts.items())
    )


def run_lifecycle(
    api: IngotClient, outcomes: list[Outcome], wanted: list[str], concurrency: int, timeout: float
) -> int:
    """Drive the imported nodes; returns how many failed."""
    jobs: list[lifecycle.Job] = []
    for outcome in outcomes:
        if outcome.uuid is None or outcome.result == "failed":
            continue
        node = api.get_node(outcome.uuid, fields=["uuid", "provision_state"])
        steps, skipped = lifecycle.steps_for(str(node.get("provision_state")), wanted)
        job = lifecycle.Job(outcome.uuid, outcome.plan.label, steps, node=node, skipped=skipped)
        jobs.append(job)
        if skipped:
            console.print(f"  [dim]{escape(job.label)}: {escape(skipped)}[/dim]")
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.fields[node]}"), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip
    tasks = {j.ident: progress.add_task("queued", node=j.label) for j in jobs if j.steps}

    def show(current: list[lifecycle.Job]) -> None:
        for job in current:
            if job.ident not in tasks:
                continue
            if job.error:
                text = f"[red]failed: {escape(job.error)}[/red]"
            elif job.verb is None:
                text = f"[green]{describe(job.node)}[/green]"
            else:
                text = f"{job.verb}: {escape(describe(job.node))}"
            progress.update(tasks[job.ident], description=text)

    with progress:
        lifecycle.drive(api, jobs, concurrency=concurrency, step_timeout=timeout, on_progress=show)
    failed = [j for j in jobs if j.error]
    for job in failed:
        console.print(f"[red]✗ {escape(job.label)}[/red]: {escape(job.error)}")
    done = [j for j in jobs if j.steps and not j.error]
    if done:
        console.print(f"[green]✓[/green] {len(done)} node(s) done: {', '.join(wanted)}")
    return len(failed)
