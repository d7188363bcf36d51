"""``ingot deploy PLAN.yaml``: deploy roles of nodes and converge on re-runs.

Reads the plan file (and the user data files it names), then hands over to
:mod:`ingot.plans`: observe, reconcile, check capacity, act, wait. When there are not
enough nodes, nothing is touched and the table says, per node, why it does not qualify.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ingot.cli.connection import client
from ingot.cli.output import Column, Format, print_rows, truncate
from ingot.cli.progress import report_failures, wait_with_progress
from ingot.client import IngotClient
from ingot.errors import IngotError
from ingot.plans import (
    Capacity,
    Outcome,
    Plan,
    RoleActions,
    Shortfall,
    apply_role,
    check_capacity,
    load_plan,
    observe,
    reconcile,
    scale_down,
)
from ingot.plans.preflight import image_problems

console = Console()
# Above this many excluded nodes, a shortfall is shown grouped by reason.
_TABLE_ROWS = 20
ACTION_COLUMNS: list[Column] = [
    ("role", "Role"),
    ("count", "Wanted"),
    ("active", "Active"),
    ("deploying", "Deploying"),
    ("redeploy", "To (re)deploy"),
    ("new", "New nodes"),
    ("surplus", "Surplus"),
    ("stuck", "Stuck"),
]
WHY_COLUMNS: list[Column] = [
    ("label", "Node"),
    ("provision_state", "State"),
    ("resource_class", "Resource Class"),
    ("why", "Why not"),
]
SUMMARY_COLUMNS: list[Column] = [
    ("role", "Role"),
    ("count", "Wanted"),
    ("active", "Active"),
    ("surplus", "Surplus"),
    ("failed", "Failed"),
    ("hosts", "Nodes"),
]


def deploy(
    ctx: typer.Context,
    plan_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The plan (YAML)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would happen; change nothing."
    ),
    wait: float = typer.Option(
        0, "--wait", metavar="[SECONDS]", help="Bound the wait for deploys (default: no limit)."
    ),
    allow_scale_down: bool = typer.Option(
        False, "--allow-scale-down", help="Undeploy instances beyond a role's count."
    ),
) -> None:
    """Deploy a plan of roles; re-run it to converge (exit 1 unless the plan holds).

    Example: ingot deploy overcloud.yaml --dry-run; ingot deploy overcloud.yaml --wait 3600
    """
    base = plan_file.parent
    plan = load_plan(
        plan_file.read_text(),
        default_name=_default_name(plan_file),
        read_file=lambda path: (base / path).read_text(),
    )
    with client(ctx) as api:
        ok = _dry_run(api, plan) if dry_run else _run(api, plan, wait, allow_scale_down)
    if not ok:
        raise typer.Exit(1)


def _default_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", path.stem).strip("-") or "plan"


def _survey(api: IngotClient, plan: Plan) -> tuple[list[RoleActions], Capacity]:
    actions = reconcile(plan, observe(api, plan))
    capacity = check_capacity(api, actions)
    rows = [
        {
            "role": a.name, "count": a.role.count, "active": len(a.keep),
            "deploying": len(a.waiting), "redeploy": len(a.redeploy), "new": len(a.new),
            "surplus": len(a.surplus), "stuck": len(a.stuck),
        }
        for a in actions
    ]  # fmt: skip
    print_rows(console, rows, ACTION_COLUMNS, Format.table, title=f"Plan {plan.name}")
    return actions, capacity


def _dry_run(api: IngotClient, plan: Plan) -> bool:
    actions, capacity = _survey(api, plan)
    for act in actions:
        for inst in act.redeploy:
            why = f" ({inst.problem})" if inst.problem else ""
            _say(act.name, inst.index, f"would deploy {inst.node_label} again{why}")
        for index in act.new:
            name = plan.allocation_name(act.name, index)
            host = act.role.hostname(plan.name, index)
            _say(act.name, index, f"would allocate {name} ({act.role.criteria()}) as {host}")
        _warn_leftovers(act, allow_scale_down=False)
    problems = image_problems(plan)
    for problem in problems:
        console.print(f"[red]✗[/red] {escape(problem)}")
    _show_shortfalls(capacity.shortfalls)
    ok = capacity.ok and not problems
    if ok:
        eligible = {r: len(e["eligible"]) for r, e in capacity.explained.items()}
        for role, count in eligible.items():
            console.print(f"[green]✓[/green] role '{role}': {count} matching node(s) available")
    console.print("Dry run: nothing was changed.")
    return ok


def _run(api: IngotClient, plan: Plan, wait: float, allow_scale_down: bool) -> bool:
    timings: dict[str, float] = {}
    started = time.monotonic()
    actions, capacity = _survey(api, plan)
    if not capacity.ok:
        _show_shortfalls(capacity.shortfalls)
        console.print("[red]Nothing was changed.[/red] Fix the nodes or lower the counts.")
        return False
    if all(a.holds for a in actions):
        console.print(f"[green]Plan {escape(plan.name)} holds: nothing to do.[/green]")
        return True
    outcomes: list[Outcome] = []
    for act in actions:
        outcomes += apply_role(api, plan, act, capacity.candidates.get(act.name), _say)
    timings["allocate and request"] = time.monotonic() - started
    failures = {f"{o.role}[{o.index}] {o.node or ''}".strip(): o.error for o in outcomes if o.error}
    deploying = [o.node for o in outcomes if o.node and not o.error]
    deploying += [i.node_label for a in actions for i in a.waiting]
    if deploying:
        phase = time.monotonic()
        _latest, failed = wait_with_progress(api, deploying, "active", wait, console)
        failures.update(failed)
        timings["deploy"] = time.monotonic() - phase
    ok = not failures
    for act in actions:
        ok = _leftovers(api, act, allow_scale_down, wait, timings) and ok
    report_failures(console, {k: v or "" for k, v in failures.items()}, "deploy")
    _summary(api, plan, timings, time.monotonic() - started)
    return ok


def _leftovers(
    api: IngotClient, act: RoleActions, allow_scale_down: bool, wait: float,
    timings: dict[str, float],
) -> bool:  # fmt: skip
    """Report stuck instances; undeploy the surplus when allowed. True if the role is clean."""
    _warn_leftovers(act, allow_scale_down)
    if not act.surplus or not allow_scale_down:
        return not (act.stuck or act.surplus)
    phase = time.monotonic()
    nodes, failures = [], {}
    for inst in act.surplus:
        try:
            node = scale_down(api, inst)
        except IngotError as exc:  # reported per node; the others go on
            failures[inst.node_label] = exc.message
            continue
        _say(act.name, inst.index, f"undeploying {inst.node_label}" if node else "released")
        nodes += [inst.node_label] if node else []
    if nodes:
        _latest, failed = wait_with_progress(api, nodes, "available", wait, console)
        failures.update(failed)
    report_failures(console, failures, "scale down")
    timings[f"scale down {act.name}"] = time.monotonic() - phase
    return not failures and not act.stuck


def _warn_leftovers(act: RoleActions, allow_scale_down: bool) -> None:
    for inst in act.stuck:
        _say(act.name, inst.index, f"[red]{inst.node_label}: {inst.problem}[/red]", markup=True)
    if act.surplus and not allow_scale_down:
        extra = ", ".join(f"{i.node_label} (index {i.index})" for i in act.surplus)
        console.print(
            f"[yellow]role '{escape(act.name)}' has {len(act.surplus)} instance(s) beyond its "
            f"count {act.role.count}: {escape(extra)}; re-run with --allow-scale-down to "
            "undeploy them.[/yellow]"
        )


def _show_shortfalls(shortfalls: Sequence[Shortfall]) -> None:
    for short in shortfalls:
        console.print(f"[red]✗ {escape(short.summary())}[/red]")
        excluded = [n for n in short.explained["nodes"] if not n["eligible"]]
        if len(excluded) > _TABLE_ROWS:
            for reason, labels in _by_reason(excluded):
                shown = ", ".join(labels[:5]) + (" ..." if len(labels) > 5 else "")
                console.print(f"  {len(labels)} node(s): {escape(reason)} [{escape(shown)}]")
            continue
        rows = [
            {**n, "label": n.get("name") or n["uuid"], "why": "; ".join(n["reasons"])}
            for n in excluded
        ]
        title = f"Why nodes do not match role '{short.role}' ({short.explained['request']})"
        print_rows(console, rows, WHY_COLUMNS, Format.table, title=title)


def _by_reason(nodes: Sequence[dict[str, object]]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for node in nodes:
        for reason in node["reasons"]:  # type: ignore[attr-defined]
            groups.setdefault(str(reason), []).append(str(node.get("name") or node["uuid"]))
    return sorted(groups.items(), key=lambda kv: -len(kv[1]))


def _summary(api: IngotClient, plan: Plan, timings: dict[str, float], total: float) -> None:
    final = reconcile(plan, observe(api, plan))
    rows = [
        {
            "role": a.name, "count": a.role.count, "active": len(a.keep),
            "surplus": len(a.surplus),
            "failed": len(a.redeploy) + len(a.new) + len(a.stuck),
            "hosts": truncate(", ".join(i.node_label for i in [*a.keep, *a.surplus]), 60),
        }
        for a in final
    ]  # fmt: skip
    print_rows(console, rows, SUMMARY_COLUMNS, Format.table, title=f"Plan {plan.name} now")
    spent = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
    console.print(f"Took {total:.1f}s ({spent}).", highlight=False)


def _say(role: str, index: int, text: str, *, markup: bool = False) -> None:
    console.print(f"{escape(role)}[{index}]: {text if markup else escape(text)}", highlight=False)
