"""``ingot node <verb>|power|boot-device|maintenance|validate|history``: acting on nodes.

Provision verbs take several nodes and ``--wait [SECONDS]``; a failure names the node and
quotes its ``last_error``, and the command exits 1 once every node is accounted for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ingot.cli.connection import client
from ingot.cli.output import FORMAT_OPTION, Format, print_rows
from ingot.cli.progress import report_failures, wait_with_progress
from ingot.errors import IngotError, InvalidInput

console = Console()
WAIT_HELP = "Wait until done; SECONDS bounds it (bare --wait: no limit)."
NODES_ARG = typer.Argument(..., help="Names or UUIDs.")

# verb -> (state reached when done, help)
VERBS: dict[str, tuple[str | None, str]] = {
    "manage": ("manageable", "Check the BMC and move nodes to manageable."),
    "provide": ("available", "Clean (if enabled) and make nodes available for deployment."),
    "inspect": ("manageable", "Boot the agent and record the real hardware."),
    "undeploy": ("available", "Tear down an active node (back through cleaning)."),
    "unrescue": ("active", "Leave rescue mode and boot the instance again."),
    "abort": (None, "Abort a wait state (inspect wait, clean wait, rescue wait)."),
}


def run_verb(
    ctx: typer.Context,
    nodes: Sequence[str],
    verb: str,
    wait: float | None,
    target: str | None,
    **args: Any,
) -> None:
    """Ask every node, then (with --wait) wait for all of them and report each failure."""
    failures: dict[str, str] = {}
    accepted: list[str] = []
    with client(ctx) as api:
        for node in nodes:
            try:
                api.set_provision_state(node, verb, **args)
                accepted.append(node)
            except IngotError as exc:
                failures[node] = exc.message
        if not failures or accepted:
            console.print(f"Requested {verb} for {', '.join(accepted) or 'no node'}.")
        if wait is not None and target is not None and accepted:
            _latest, failed = wait_with_progress(api, accepted, target, wait, console)
            failures.update(failed)
            done = [n for n in accepted if n not in failed]
            if done:
                console.print(f"[green]✓[/green] {', '.join(done)}: {target}")
    if failures:
        report_failures(console, failures, verb)
        raise typer.Exit(1)


def _simple_verb(verb: str, target: str | None) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        nodes: list[str] = NODES_ARG,
        wait: float = typer.Option(None, "--wait", metavar="[SECONDS]", help=WAIT_HELP),
    ) -> None:
        run_verb(ctx, nodes, verb, wait, target)

    command.__doc__ = VERBS[verb][1]
    return command


def _json_arg(option: str, text: str | None) -> Any:
    """A JSON value given inline or as @FILE (like the baremetal CLI)."""
    if text is None:
        return None
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{option}: not valid JSON ({exc}); give JSON or @FILE") from exc


def clean(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    clean_steps: str = typer.Option(
        ...,
        "--clean-steps",
        help='JSON list or @FILE, e.g. \'[{"interface": "deploy", "step": "erase_devices"}]\'.',
    ),
    wait: float = typer.Option(None, "--wait", metavar="[SECONDS]", help=WAIT_HELP),
) -> None:
    """Run manual cleaning steps on manageable nodes."""
    run_verb(
        ctx, nodes, "clean", wait, "manageable", clean_steps=_json_arg("--clean-steps", clean_steps)
    )


def deploy(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    config_drive: str = typer.Option(None, "--config-drive", help="JSON, @FILE or a URL."),
    wait: float = typer.Option(None, "--wait", metavar="[SECONDS]", help=WAIT_HELP),
) -> None:
    """Deploy available nodes (set instance_info image_source first)."""
    drive: Any = config_drive
    if config_drive and (config_drive.startswith("@") or config_drive.lstrip().startswith("{")):
        drive = _json_arg("--config-drive", config_drive)
    run_verb(ctx, nodes, "deploy", wait, "active", configdrive=drive)


def rebuild(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    wait: float = typer.Option(None, "--wait", metavar="[SECONDS]", help=WAIT_HELP),
) -> None:
    """Redeploy active nodes with their current instance_info."""
    run_verb(ctx, nodes, "rebuild", wait, "active")


def rescue(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    rescue_password: str = typer.Option(..., "--rescue-password", prompt=True, hide_input=True),
    wait: float = typer.Option(None, "--wait", metavar="[SECONDS]", help=WAIT_HELP),
) -> None:
    """Boot the rescue ramdisk on active nodes."""
    run_verb(ctx, nodes, "rescue", wait, "rescue", rescue_password=rescue_password)


# -- power, boot device, maintenance ----------------------------------------------------------

power_app = typer.Typer(no_args_is_help=True, help="Power nodes on, off or reboot them.")
POWER_TARGETS = {
    ("on", False): "power on",
    ("off", False): "power off",
    ("off", True): "soft power off",
    ("reboot", False): "rebooting",
    ("reboot", True): "soft rebooting",
}


def _power(ctx: typer.Context, nodes: Sequence[str], action: str, soft: bool) -> None:
    target = POWER_TARGETS[(action, soft)]
    failures: dict[str, str] = {}
    with client(ctx) as api:
        for node in nodes:
            try:
                api.set_power_state(node, target)
                console.print(f"Requested {target} for {node}.")
            except IngotError as exc:
                failures[node] = exc.message
    if failures:
        report_failures(console, failures, f"power {action}")
        raise typer.Exit(1)


@power_app.command("on")
def power_on(ctx: typer.Context, nodes: list[str] = NODES_ARG) -> None:
    """Power nodes on."""
    _power(ctx, nodes, "on", False)


@power_app.command("off")
def power_off(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    soft: bool = typer.Option(False, "--soft", help="Ask the OS to shut down."),
) -> None:
    """Power nodes off."""
    _power(ctx, nodes, "off", soft)


@power_app.command("reboot")
def power_reboot(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    soft: bool = typer.Option(False, "--soft", help="Ask the OS to reboot."),
) -> None:
    """Reboot nodes."""
    _power(ctx, nodes, "reboot", soft)


boot_app = typer.Typer(no_args_is_help=True, help="Show or set the next boot device.")


@boot_app.command("set")
def boot_device_set(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    device: str = typer.Argument(..., help="pxe, disk, cdrom, bios or safe."),
    persistent: bool = typer.Option(
        False, "--persistent", help="For every boot, not just the next."
    ),
) -> None:
    """Set the boot device, e.g. `ingot node boot-device set n1 pxe`."""
    with client(ctx) as api:
        api.set_boot_device(node, device, persistent=persistent)
    console.print(f"Boot device of {node} set to {device}{' (persistent)' if persistent else ''}.")


@boot_app.command("show")
def boot_device_show(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show the boot device."""
    with client(ctx) as api:
        found = api.get_boot_device(node)
    print_rows(
        console, [found], [("boot_device", "Boot Device"), ("persistent", "Persistent")], fmt
    )


maintenance_app = typer.Typer(no_args_is_help=True, help="Put nodes in or out of maintenance.")


@maintenance_app.command("set")
def maintenance_set(
    ctx: typer.Context,
    nodes: list[str] = NODES_ARG,
    reason: str = typer.Option(None, "--reason", help="Why, for the other operators."),
) -> None:
    """Put nodes in maintenance: Ingot stops acting on them."""
    with client(ctx) as api:
        for node in nodes:
            api.set_maintenance(node, True, reason=reason)
    console.print(f"Maintenance set on {', '.join(nodes)}.")


@maintenance_app.command("unset")
def maintenance_unset(ctx: typer.Context, nodes: list[str] = NODES_ARG) -> None:
    """Take nodes out of maintenance."""
    with client(ctx) as api:
        for node in nodes:
            api.set_maintenance(node, False)
    console.print(f"Maintenance unset on {', '.join(nodes)}.")


# -- validate, history -------------------------------------------------------------------------


def validate(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Check every interface of a node, like `baremetal node validate`."""
    with client(ctx) as api:
        found = api.validate_node(node)
    rows = [
        {"interface": name, "result": result.get("result"), "reason": result.get("reason") or ""}
        for name, result in sorted(found.items())
    ]
    columns = [("interface", "Interface"), ("result", "Result"), ("reason", "Reason")]
    print_rows(console, rows, columns, fmt, style=lambda r: "red" if r["result"] is False else None)


def history(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """What happened to a node and why it failed, oldest first."""
    with client(ctx) as api:
        events = api.node_history(node)
    columns = [
        ("created_at", "Created At"),
        ("severity", "Severity"),
        ("event_type", "Event Type"),
        ("event", "Event"),
    ]
    print_rows(
        console,
        events,
        columns,
        fmt,
        style=lambda r: "red" if r.get("severity") == "ERROR" else None,
    )


def register(node_app: typer.Typer) -> None:
    """Add the action commands to ``ingot node``."""
    for verb, (target, _help) in VERBS.items():
        node_app.command(verb)(_simple_verb(verb, target))
    node_app.command("clean")(clean)
    node_app.command("deploy")(deploy)
    node_app.command("rebuild")(rebuild)
    node_app.command("rescue")(rescue)
    node_app.command("validate")(validate)
    node_app.command("history")(history)
    node_app.add_typer(power_app, name="power")
    node_app.add_typer(boot_app, name="boot-device")
    node_app.add_typer(maintenance_app, name="maintenance")
