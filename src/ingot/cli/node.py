"""``ingot node list|show|create|set|unset|delete``: node records."""

from __future__ import annotations

from typing import Any, Literal

import typer
from rich.console import Console

from ingot.cli import node_fields
from ingot.cli.connection import client
from ingot.cli.output import FORMAT_OPTION, Column, Format, Row, print_record, print_rows, truncate
from ingot.errors import IngotError

app = typer.Typer(
    no_args_is_help=True,
    help="Enroll, inspect and operate nodes.\n\nExample: ingot node list --state available",
)
console = Console()

LIST_COLUMNS: list[Column] = [
    ("uuid", "UUID"),
    ("name", "Name"),
    ("instance_uuid", "Instance UUID"),
    ("power_state", "Power State"),
    ("provision_state", "Provisioning State"),
    ("maintenance", "Maintenance"),
    ("last_error_short", "Last Error"),
]
LONG_COLUMNS: list[Column] = [
    *LIST_COLUMNS[:-1],
    ("driver", "Driver"),
    ("resource_class", "Resource Class"),
    ("target_provision_state", "Target Provisioning State"),
    ("last_error", "Last Error"),
]
LIST_FIELDS = (
    "uuid",
    "name",
    "instance_uuid",
    "power_state",
    "provision_state",
    "maintenance",
    "last_error",
)


def node_style(row: Row) -> str | None:
    """Failed nodes red, maintenance yellow: the rows an operator must look at."""
    state = str(row.get("provision_state") or "")
    if "fail" in state or state == "error":
        return "red"
    if row.get("maintenance"):
        return "yellow"
    return None


def list_rows(
    nodes: list[dict[str, Any]], fmt: Format, long: bool
) -> tuple[list[dict[str, Any]], list[Column]]:
    """Rows and columns for ``node list``; machine formats keep last_error whole."""
    columns = LONG_COLUMNS if long else LIST_COLUMNS
    if fmt is not Format.table and not long:
        columns = [*LIST_COLUMNS[:-1], ("last_error", "Last Error")]
    rows = [{**n, "last_error_short": truncate(n.get("last_error"))} for n in nodes]
    return rows, columns


@app.command("list")
def list_nodes(
    ctx: typer.Context,
    state: str = typer.Option(None, "--state", "--provision-state", help="Provision state."),
    driver: str = typer.Option(None, "--driver", help="Hardware type, e.g. ipmi."),
    resource_class: str = typer.Option(None, "--resource-class"),
    maintenance: bool = typer.Option(None, "--maintenance/--no-maintenance"),
    associated: bool = typer.Option(None, "--associated/--unassociated"),
    long: bool = typer.Option(False, "--long", help="More columns."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List nodes with the columns of `baremetal node list`, plus their last error."""
    filters: dict[str, Any] = {
        "provision_state": state,
        "driver": driver,
        "resource_class": resource_class,
        "maintenance": maintenance,
        "associated": associated,
    }
    with client(ctx) as api:
        if long:
            nodes = api.list_nodes(detail=True, **filters)
        else:
            nodes = api.list_nodes(fields=LIST_FIELDS, **filters)
    rows, columns = list_rows(nodes, fmt, long)
    print_rows(console, rows, columns, fmt, style=node_style)


@app.command("show")
def show(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show one node; secrets in driver_info stay masked as ******."""
    with client(ctx) as api:
        record = api.get_node(node)
    print_record(console, record, fmt)


@app.command("create")
def create(
    ctx: typer.Context,
    driver: str = typer.Option(..., "--driver", help="Hardware type: ipmi, redfish, ..."),
    name: str = typer.Option(None, "--name"),
    resource_class: str = typer.Option(None, "--resource-class"),
    properties: list[str] = typer.Option([], "--property", help="KEY=VALUE, repeatable."),
    driver_info: list[str] = typer.Option([], "--driver-info", help="KEY=VALUE, repeatable."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Enroll a node (`ingot import FILE` does many at once, with ports)."""
    body: dict[str, Any] = {"driver": driver}
    if name:
        body["name"] = name
    if resource_class:
        body["resource_class"] = resource_class
    if properties:
        body["properties"] = {
            k: node_fields.scalar(v)
            for k, v in (node_fields.key_value("--property", p) for p in properties)
        }
    if driver_info:
        body["driver_info"] = dict(node_fields.key_value("--driver-info", d) for d in driver_info)
    with client(ctx) as api:
        record = api.create_node(body)
    print_record(console, record, fmt)


@app.command("set")
def set_node(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    properties: list[str] = typer.Option([], "--property", help="KEY=VALUE, e.g. cpus=8."),
    driver_info: list[str] = typer.Option([], "--driver-info", help="KEY=VALUE."),
    capabilities: list[str] = typer.Option([], "--capability", help="KEY:VALUE, merged."),
    extra: list[str] = typer.Option([], "--extra", help="KEY=VALUE."),
    instance_info: list[str] = typer.Option([], "--instance-info", help="KEY=VALUE."),
    traits: list[str] = typer.Option([], "--trait", help="Add a trait, e.g. CUSTOM_GPU."),
    name: str = typer.Option(None, "--name"),
    resource_class: str = typer.Option(None, "--resource-class"),
    description: str = typer.Option(None, "--description"),
    driver: str = typer.Option(None, "--driver"),
) -> None:
    """Set node fields, e.g. `ingot node set n1 --capability profile:compute`."""
    fields = {
        "name": name,
        "resource_class": resource_class,
        "description": description,
        "driver": driver,
    }
    _change(ctx, node, "set", traits, fields, properties=properties, driver_info=driver_info,
            extra=extra, instance_info=instance_info, capabilities=capabilities)  # fmt: skip


@app.command("unset")
def unset_node(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="Name or UUID."),
    properties: list[str] = typer.Option([], "--property", help="KEY to remove."),
    driver_info: list[str] = typer.Option([], "--driver-info", help="KEY to remove."),
    capabilities: list[str] = typer.Option([], "--capability", help="Capability KEY."),
    extra: list[str] = typer.Option([], "--extra", help="KEY to remove."),
    instance_info: list[str] = typer.Option([], "--instance-info", help="KEY to remove."),
    traits: list[str] = typer.Option([], "--trait", help="Trait to remove."),
    name: bool = typer.Option(False, "--name"),
    resource_class: bool = typer.Option(False, "--resource-class"),
    description: bool = typer.Option(False, "--description"),
) -> None:
    """Remove node fields, e.g. `ingot node unset n1 --property local_gb`."""
    fields = [
        f
        for f, flag in (
            ("name", name),
            ("resource_class", resource_class),
            ("description", description),
        )
        if flag
    ]
    _change(ctx, node, "unset", traits, fields, properties=properties, driver_info=driver_info,
            extra=extra, instance_info=instance_info, capabilities=capabilities)  # fmt: skip


def _change(
    ctx: typer.Context,
    node: str,
    verb: Literal["set", "unset"],
    traits: list[str],
    fields: Any,
    **maps: list[str],
) -> None:
    """One JSON patch for the fields and maps, then one call per trait (traits have their own
    endpoints in the Ironic API)."""
    make_patch = node_fields.set_patch if verb == "set" else node_fields.unset_patch
    with client(ctx) as api:
        current = api.get_node(node)
        patch = make_patch(current, fields=fields, **maps)
        if not patch and not traits:
            raise typer.BadParameter(f"nothing to {verb}; give at least one option")
        if patch:
            api.update_node(current["uuid"], patch)
        for trait in traits:
            if verb == "set":
                api.add_trait(current["uuid"], trait)
            else:
                api.remove_trait(current["uuid"], trait)
    console.print(f"Updated node {node}.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    nodes: list[str] = typer.Argument(..., help="Names or UUIDs."),
) -> None:
    """Delete nodes (they must be in enroll, manageable or adopt failed) and their ports."""
    failed = 0
    with client(ctx) as api:
        for node in nodes:
            try:
                api.delete_node(node)
                console.print(f"Deleted node {node}.")
            except IngotError as exc:  # one bad node must not stop the others
                failed += 1
                console.print(f"[red]✗ {node}[/red]: {exc.message}")
    if failed:
        raise typer.Exit(1)
