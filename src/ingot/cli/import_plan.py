"""What ``ingot import`` will do: each file node matched to an existing node, or not.

A node of the file is the same server as an existing node when it has the same UUID, name or
port MAC, so importing a file twice updates instead of duplicating. Differences become a JSON
patch that only adds or replaces what the file says (what inspection filled in and the file
does not mention stays). ``driver_info`` secrets come back masked, so a secret the node
already has counts as unchanged unless the caller asks to resend secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingot.client import JSON, IngotClient, patch_add
from ingot.inventory import Inventory, NodeRequest, is_secret_key
from ingot.inventory.model import MASK

DICT_FIELDS = ("driver_info", "properties", "extra", "instance_info")
PORT_KEYS_IGNORED = ("address", "node_uuid", "portgroup_uuid")


@dataclass
class NodePlan:
    """One file node: ``action`` is create, update, unchanged or conflict."""

    request: NodeRequest
    action: str
    existing: JSON | None = None
    matched_by: str | None = None
    patch: list[JSON] = field(default_factory=list)
    new_ports: list[JSON] = field(default_factory=list)
    port_patches: dict[str, list[JSON]] = field(default_factory=dict)  # port uuid -> patch
    new_portgroups: list[int] = field(default_factory=list)  # indexes into request.portgroups
    portgroup_uuids: dict[int, str] = field(default_factory=dict)  # existing groups by index
    reason: str = ""

    @property
    def label(self) -> str:
        node = self.existing or {}
        return str(self.request.name or node.get("name") or node.get("uuid") or self.request.source)

    def changes(self) -> list[str]:
        """Human summary of what applying this plan changes (never secret values)."""
        out = [_describe(op) for op in self.patch]
        out += [f"add port {p['address']}" for p in self.new_ports]
        out += [f"update port {uuid}" for uuid in self.port_patches]
        out += [
            f"add port group {self.request.portgroups[i].get('name')}" for i in self.new_portgroups
        ]
        return out


@dataclass
class Existing:
    """What the API already holds, fetched once so that 500 nodes take one request each."""

    nodes: list[JSON]
    ports: list[JSON]
    portgroups: list[JSON]
    chassis: list[JSON]

    def __post_init__(self) -> None:
        self._by: dict[str, dict[Any, JSON]] = {
            key: {n[key]: n for n in self.nodes if n.get(key) is not None}
            for key in ("uuid", "name")
        }
        self._ports = {str(p.get("address", "")).lower(): p for p in self.ports}

    @classmethod
    def fetch(cls, api: IngotClient) -> Existing:
        return cls(
            api.list_nodes(detail=True), api.list_ports(), api.list_portgroups(), api.list_chassis()
        )

    def node_by(self, key: str, value: Any) -> JSON | None:
        return self._by[key].get(value) if value is not None else None

    def port_by_mac(self, mac: str) -> JSON | None:
        return self._ports.get(mac.lower())


def plan_import(
    inventory: Inventory, existing: Existing, *, update_secrets: bool = False
) -> list[NodePlan]:
    return [plan_node(r, existing, update_secrets=update_secrets) for r in inventory.nodes]


def plan_node(
    request: NodeRequest, existing: Existing, *, update_secrets: bool = False
) -> NodePlan:
    matches: dict[str, JSON] = {}
    by_uuid = existing.node_by("uuid", request.node.get("uuid"))
    by_name = existing.node_by("name", request.name)
    if by_uuid:
        matches["uuid"] = by_uuid
    if by_name:
        matches["name"] = by_name
    port_owners: dict[str, JSON] = {}
    for mac in request.macs:
        port = existing.port_by_mac(mac)
        owner = existing.node_by("uuid", port.get("node_uuid")) if port else None
        if owner is not None:
            port_owners[mac] = owner
            matches.setdefault("mac", owner)
    owners = {n["uuid"]: n for n in [*matches.values(), *port_owners.values()]}
    if len(owners) > 1:
        names = ", ".join(f"{n.get('name') or n['uuid']}" for n in owners.values())
        how = ", ".join(f"{k}" for k in matches)
        why = f"matches several existing nodes ({names}) by {how}; fix the file or delete one"
        return NodePlan(request, "conflict", reason=why)
    if not owners:
        return NodePlan(request, "create", new_ports=[dict(p) for p in request.ports],
                        new_portgroups=list(range(len(request.portgroups))))  # fmt: skip
    node = next(iter(owners.values()))
    plan = NodePlan(request, "update", existing=node, matched_by=next(iter(matches)))
    plan.patch = node_patch(request.node, node, update_secrets=update_secrets)
    _plan_portgroups(plan, existing)
    _plan_ports(plan, existing)
    if not plan.changes():
        plan.action = "unchanged"
    return plan


def node_patch(desired: JSON, current: JSON, *, update_secrets: bool = False) -> list[JSON]:
    """Add/replace operations for each field of ``desired`` that ``current`` lacks or differs in."""
    patch: list[JSON] = []
    for key, value in desired.items():
        if key == "uuid":
            continue
        if key in DICT_FIELDS and isinstance(value, dict):
            have = current.get(key) or {}
            for sub, sub_value in value.items():
                masked = key == "driver_info" and is_secret_key(sub) and have.get(sub) == MASK
                if masked and not update_secrets:
                    continue
                if masked or have.get(sub) != sub_value:
                    patch.append(patch_add(f"/{key}/{_escape(sub)}", sub_value))
        elif current.get(key) != value:
            patch.append(patch_add(f"/{key}", value))
    return patch


def _plan_portgroups(plan: NodePlan, existing: Existing) -> None:
    node_uuid = (plan.existing or {}).get("uuid")
    mine = [g for g in existing.portgroups if g.get("node_uuid") == node_uuid]
    for index, group in enumerate(plan.request.portgroups):
        found = next(
            (g for g in mine if (group.get("name") and g.get("name") == group.get("name"))
             or (group.get("address") and g.get("address") == group.get("address"))),
            None,
        )  # fmt: skip
        if found is None:
            plan.new_portgroups.append(index)
        else:
            plan.portgroup_uuids[index] = str(found["uuid"])


def _plan_ports(plan: NodePlan, existing: Existing) -> None:
    for port in plan.request.ports:
        found = existing.port_by_mac(str(port["address"]))
        if found is None:
            plan.new_ports.append(dict(port))
            continue
        patch = [patch_add(f"/{k}", v) for k, v in port.items()
                 if k not in PORT_KEYS_IGNORED and found.get(k) != v]  # fmt: skip
        group = plan.request.port_portgroups.get(str(port["address"]))
        if group is not None:
            wanted = plan.portgroup_uuids.get(group)
            if wanted is None or found.get("portgroup_uuid") != wanted:
                patch.append(
                    {"op": "add", "path": "/portgroup_uuid", "value": wanted, "group": group}
                )
        if patch:
            plan.port_patches[str(found["uuid"])] = patch


def _describe(op: JSON) -> str:
    path = str(op["path"]).lstrip("/").replace("/", ".")
    key = path.rsplit(".", 1)[-1]
    if op["op"] == "remove":
        return f"remove {path}"
    value = MASK if is_secret_key(key) else op.get("value")
    return f"{path}={value}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
