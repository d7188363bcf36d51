"""Carrying out a role's actions through the API: allocate, configure, deploy, scale down.

Each instance goes allocation -> instance_info (+ ``extra`` tags, root device hints) ->
``deploy`` with its own config drive. A failure stops that instance only; it is returned
with the reason (for allocations, the allocation's ``last_error``, which names every
excluded node) and the next run retries it. Waiting for the deploys is the caller's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingot.client import JSON, IngotClient, patch_add, patch_remove
from ingot.errors import IngotError
from ingot.plans.drive import node_drive
from ingot.plans.model import Plan, Role
from ingot.plans.reconcile import RoleActions
from ingot.plans.state import EXTRA_HOST, EXTRA_INDEX, EXTRA_PLAN, EXTRA_ROLE, Instance

Notify = Callable[[str, int, str], None]  # role, index, what happened


class AllocationFailed(IngotError):
    """No node could be allocated; the message is the allocation's ``last_error``."""

    status = 409


@dataclass(frozen=True)
class Outcome:
    """One instance after this run's requests: started (node set) or failed (error set)."""

    role: str
    index: int
    hostname: str
    node: str | None = None  # the node's name or UUID
    error: str | None = None


def apply_role(
    client: IngotClient,
    plan: Plan,
    actions: RoleActions,
    candidates: Sequence[str] | None,
    notify: Notify,
) -> list[Outcome]:
    """Replace failed allocations, allocate new instances and deploy every undeployed one."""
    role = actions.role
    for inst in actions.replace:
        assert inst.allocation is not None
        client.request("DELETE", f"/v1/allocations/{inst.allocation['uuid']}")
        notify(role.name, inst.index, "removed the failed allocation")
    todo: list[tuple[int, JSON | None]] = [(i.index, i.node) for i in actions.redeploy]
    todo += [(index, None) for index in actions.new]
    outcomes = []
    for index, node in sorted(todo, key=lambda t: t[0]):
        outcomes.append(_instance(client, plan, role, index, node, candidates, notify))
    return outcomes


def _instance(
    client: IngotClient,
    plan: Plan,
    role: Role,
    index: int,
    node: JSON | None,
    candidates: Sequence[str] | None,
    notify: Notify,
) -> Outcome:
    hostname = role.hostname(plan.name, index)
    try:
        if node is None:
            allocation = allocate(client, plan, role, index, candidates)
            node = client.get_node(allocation["node_uuid"], fields=["uuid", "name"])
            notify(role.name, index, f"allocated {node.get('name') or node['uuid']}")
        label = str(node.get("name") or node["uuid"])
        configure(client, plan, role, index, node)
        drive = node_drive(
            role.config_drive, node_uuid=node["uuid"], node_name=node.get("name"),
            hostname=hostname,
        )  # fmt: skip
        client.set_provision_state(node["uuid"], "deploy", configdrive=drive)
        notify(role.name, index, f"deploying {label} as {hostname}")
        return Outcome(role.name, index, hostname, node=label)
    except IngotError as exc:
        where = str(node.get("name") or node["uuid"]) if node else None
        return Outcome(role.name, index, hostname, node=where, error=exc.message)


def allocate(
    client: IngotClient,
    plan: Plan,
    role: Role,
    index: int,
    candidates: Sequence[str] | None,
    *,
    timeout: float = 60.0,
) -> JSON:
    """Create the instance's allocation and wait for its node; AllocationFailed if none."""
    body: JSON = {
        "name": plan.allocation_name(role.name, index),
        "resource_class": role.resource_class,
        "traits": list(role.traits),
        "capabilities": dict(role.capabilities),
        "extra": {EXTRA_PLAN: plan.name, EXTRA_ROLE: role.name, EXTRA_INDEX: index},
    }
    chosen = list(candidates) if candidates is not None else list(role.candidates)
    if chosen:
        body["candidate_nodes"] = chosen
    allocation: JSON = client.request("POST", "/v1/allocations", json_body=body)
    # Ingot answers active or error at once; Ironic answers "allocating" and works behind.
    deadline = time.monotonic() + timeout
    while allocation.get("state") == "allocating" and time.monotonic() < deadline:
        time.sleep(0.5)
        allocation = client.get(f"/v1/allocations/{allocation['uuid']}")
    if allocation.get("state") != "active" or not allocation.get("node_uuid"):
        raise AllocationFailed(str(allocation.get("last_error") or "the allocation timed out"))
    return allocation


def configure(client: IngotClient, plan: Plan, role: Role, index: int, node: JSON) -> None:
    """Point the node at the role's image and tag it with its plan, role and index."""
    info = role.image.instance_info()
    info["display_name"] = role.hostname(plan.name, index)
    if role.traits:
        info["traits"] = list(role.traits)  # deploy templates named by a trait run on deploy
    if role.capabilities:
        info["capabilities"] = dict(role.capabilities)
    patch = [
        patch_add("/instance_info", info),
        patch_add(f"/extra/{EXTRA_PLAN}", plan.name),
        patch_add(f"/extra/{EXTRA_ROLE}", role.name),
        patch_add(f"/extra/{EXTRA_INDEX}", index),
        patch_add(f"/extra/{EXTRA_HOST}", role.hostname(plan.name, index)),
    ]
    if role.root_device:
        patch.append(patch_add("/properties/root_device", role.root_device))
    client.update_node(node["uuid"], patch)


def scale_down(client: IngotClient, inst: Instance) -> str:
    """Undeploy a surplus instance (its allocation goes with it); the node to wait for.

    A node never deployed only loses its allocation. Raises IngotError (e.g. for a node
    that is still deploying).
    """
    if inst.node is None:
        if inst.allocation is not None:
            client.request("DELETE", f"/v1/allocations/{inst.allocation['uuid']}")
        return ""
    uuid = inst.node["uuid"]
    extra = inst.node.get("extra") or {}
    tags = [patch_remove(f"/extra/{k}") for k in _TAGS if k in extra]
    if tags:
        client.update_node(uuid, tags)
    if inst.node["provision_state"] == "available":
        if inst.allocation is not None:
            client.request("DELETE", f"/v1/allocations/{inst.allocation['uuid']}")
        return ""
    client.set_provision_state(uuid, "undeploy")
    return str(uuid)


_TAGS = (EXTRA_PLAN, EXTRA_ROLE, EXTRA_INDEX, EXTRA_HOST)
