"""What the fleet already holds for a plan: each instance's allocation, node and status.

An instance is tracked by its allocation, named ``<plan>-<role>-<index>``; a node deployed
by a plan also carries ``extra.ingot_plan``/``ingot_role``/``ingot_index``, which keeps it
counted when its allocation was removed (allocations can be deleted in maintenance) and
lets ``baremetal node list`` show roles.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ingot import states
from ingot.client import JSON, IngotClient
from ingot.plans.model import Plan

NODE_FIELDS = (
    "uuid",
    "name",
    "provision_state",
    "target_provision_state",
    "last_error",
    "maintenance",
    "maintenance_reason",
    "extra",
    "allocation_uuid",
    "instance_uuid",
)
EXTRA_PLAN, EXTRA_ROLE, EXTRA_INDEX, EXTRA_HOST = (
    "ingot_plan",
    "ingot_role",
    "ingot_index",
    "ingot_hostname",
)
# A node still counts for its role in these states (anything else is no longer an instance).
_DEPLOYED_STATES = frozenset(
    {states.ACTIVE, states.DEPLOYING, states.DEPLOYWAIT, states.DEPLOYFAIL, states.DEPLOYHOLD}
)


class Status(enum.StrEnum):
    """Where one instance of a role stands."""

    ACTIVE = "active"  # deployed: kept as is
    DEPLOYING = "deploying"  # a deploy is under way: waited for
    FAILED = "failed"  # deploy failed: configured and deployed again
    ALLOCATED = "allocated"  # has a node that was never deployed: configured and deployed
    ALLOCATION_FAILED = "allocation failed"  # the allocation is in error: replaced
    STUCK = "stuck"  # the node is somewhere a plan does not move it from (maintenance...)


@dataclass(frozen=True)
class Instance:
    role: str
    index: int
    allocation: JSON | None
    node: JSON | None
    status: Status

    @property
    def node_label(self) -> str:
        if self.node is None:
            return "-"
        return str(self.node.get("name") or self.node["uuid"])

    @property
    def problem(self) -> str | None:
        """The error to show for this instance, if any."""
        if self.status is Status.ALLOCATION_FAILED and self.allocation is not None:
            return str(self.allocation.get("last_error") or "allocation failed")
        if self.node is None:
            return None
        if self.status is Status.FAILED:
            return f"{self.node['provision_state']}: {self.node.get('last_error') or '?'}"
        if self.status is Status.STUCK:
            why = self.node.get("maintenance_reason") or self.node.get("last_error") or ""
            state = self.node["provision_state"]
            where = "in maintenance" if self.node.get("maintenance") else f"in state {state}"
            return f"node is {where}{f' ({why})' if why else ''}; fix it by hand or remove it"
        return None


@dataclass(frozen=True)
class Observed:
    """Every instance the plan's roles have now, by role, sorted by index."""

    instances: dict[str, list[Instance]]

    def of(self, role: str) -> list[Instance]:
        return self.instances.get(role, [])


def observe(client: IngotClient, plan: Plan) -> Observed:
    """Read allocations and nodes once and sort them into the plan's instances."""
    allocations = client.collect("/v1/allocations", "allocations", {})
    nodes = client.list_nodes(fields=NODE_FIELDS)
    return classify(plan, allocations, nodes)


def classify(plan: Plan, allocations: Iterable[JSON], nodes: Iterable[JSON]) -> Observed:
    """Pure half of :func:`observe`, testable with plain dicts."""
    by_uuid = {n["uuid"]: n for n in nodes}
    found: dict[tuple[str, int], Instance] = {}
    for allocation in allocations:
        key = _parse_name(plan, str(allocation.get("name") or ""))
        if key is None:
            continue
        node = by_uuid.get(allocation.get("node_uuid") or "")
        found[key] = Instance(*key, allocation, node, _status(allocation, node))
    for node in by_uuid.values():
        key = _tagged(plan, node.get("extra") or {})
        if key is None or key in found or node["provision_state"] not in _DEPLOYED_STATES:
            continue
        if node.get("allocation_uuid"):
            continue  # allocated to something else now; the tag is stale
        found[key] = Instance(*key, None, node, _status(None, node))
    out: dict[str, list[Instance]] = {}
    for key in sorted(found):
        out.setdefault(key[0], []).append(found[key])
    return Observed(out)


def _parse_name(plan: Plan, name: str) -> tuple[str, int] | None:
    for role in plan.roles:
        match = re.fullmatch(re.escape(f"{plan.name}-{role}-") + r"(\d+)", name)
        if match:
            return role, int(match.group(1))
    return None


def _tagged(plan: Plan, extra: Mapping[str, Any]) -> tuple[str, int] | None:
    role, index = extra.get(EXTRA_ROLE), extra.get(EXTRA_INDEX)
    if extra.get(EXTRA_PLAN) != plan.name or role not in plan.roles:
        return None
    try:
        return str(role), int(index)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _status(allocation: JSON | None, node: JSON | None) -> Status:
    if allocation is not None and allocation.get("state") == "error":
        return Status.ALLOCATION_FAILED
    if node is None:
        # An allocation still allocating (another client's) or whose node vanished.
        return Status.ALLOCATION_FAILED if allocation is not None else Status.STUCK
    state, target = node["provision_state"], node.get("target_provision_state")
    if node.get("maintenance") and state != states.ACTIVE:
        return Status.STUCK
    if state == states.ACTIVE and target is None:
        return Status.ACTIVE
    if state == states.DEPLOYFAIL:
        return Status.FAILED
    if target == states.ACTIVE:
        return Status.DEPLOYING
    if state == states.AVAILABLE and target is None:
        return Status.ALLOCATED
    return Status.STUCK
