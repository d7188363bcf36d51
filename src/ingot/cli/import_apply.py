"""Carry out an import plan: chassis, then per node its record, port groups and ports.

One node's API error is recorded with the node's source (``file:nodes[3]``) and the import
goes on with the next node; the caller exits non-zero when any failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingot.cli.import_plan import Existing, NodePlan
from ingot.client import JSON, IngotClient
from ingot.errors import IngotError
from ingot.inventory import Inventory


@dataclass
class Outcome:
    """What happened to one file node; ``uuid`` is set when the node exists afterwards."""

    plan: NodePlan
    result: str  # created, updated, unchanged, failed
    uuid: str | None = None
    error: str = ""


@dataclass
class ImportResult:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # failures not tied to one node

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.count("failed") > 0


def ensure_chassis(api: IngotClient, inventory: Inventory, existing: Existing) -> dict[int, str]:
    """Chassis index -> UUID, matching existing chassis by description (Ironic's only label)."""
    uuids: dict[int, str] = {}
    for index, wanted in enumerate(inventory.chassis):
        body = wanted.chassis
        found = next(
            (c for c in existing.chassis
             if (body.get("uuid") and c.get("uuid") == body.get("uuid"))
             or (body.get("description") and c.get("description") == body.get("description"))),
            None,
        )  # fmt: skip
        if found is None:
            found = api.create_chassis(body)
            existing.chassis.append(found)
        uuids[index] = str(found["uuid"])
    return uuids


def apply_plan(api: IngotClient, plans: list[NodePlan], chassis: dict[int, str]) -> list[Outcome]:
    return [apply_node(api, plan, chassis) for plan in plans]


def apply_node(api: IngotClient, plan: NodePlan, chassis: dict[int, str]) -> Outcome:
    if plan.action == "conflict":
        return Outcome(plan, "failed", error=plan.reason)
    if plan.action == "unchanged":
        return Outcome(plan, "unchanged", uuid=str((plan.existing or {})["uuid"]))
    uuid: str | None = None
    try:
        if plan.action == "create":
            body = dict(plan.request.node)
            if plan.request.chassis_index is not None:
                body["chassis_uuid"] = chassis[plan.request.chassis_index]
            uuid = str(api.create_node(body)["uuid"])
        else:
            uuid = str((plan.existing or {})["uuid"])
            if plan.patch:
                api.update_node(uuid, plan.patch)
        _ports(api, plan, uuid)
    except IngotError as exc:
        return Outcome(plan, "failed", uuid=uuid, error=exc.message)
    return Outcome(plan, "created" if plan.action == "create" else "updated", uuid=uuid)


def _ports(api: IngotClient, plan: NodePlan, node_uuid: str) -> None:
    groups = dict(plan.portgroup_uuids)
    for index in plan.new_portgroups:
        group_body = {**plan.request.portgroups[index], "node_uuid": node_uuid}
        groups[index] = str(api.create_portgroup(group_body)["uuid"])
    for port in plan.new_ports:
        body: dict[str, Any] = {**port, "node_uuid": node_uuid}
        group = plan.request.port_portgroups.get(str(port["address"]))
        if group is not None:
            body["portgroup_uuid"] = groups[group]
        api.create_port(body)
    for port_uuid, patch in plan.port_patches.items():
        api.update_port(port_uuid, [_resolve(op, groups) for op in patch])


def _resolve(op: JSON, groups: dict[int, str]) -> JSON:
    """A port's group may have been created a moment ago: fill in its UUID now."""
    if "group" not in op:
        return op
    return {"op": op["op"], "path": op["path"], "value": groups[int(op["group"])]}


def extra_ports(api: IngotClient, inventory: Inventory, existing: Existing) -> list[str]:
    """Top-level ports of a ``baremetal create`` file (pointing at nodes outside it)."""
    errors: list[str] = []
    for port in inventory.ports:
        if existing.port_by_mac(str(port.get("address", ""))) is not None:
            continue
        try:
            api.create_port(port)
        except IngotError as exc:
            errors.append(f"{inventory.source}: port {port.get('address')}: {exc.message}")
    return errors
