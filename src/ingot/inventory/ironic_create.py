"""Ironic's own ``baremetal create`` files: ``chassis`` and ``nodes``, with nested resources.

As in python-ironicclient, a chassis may hold ``nodes``, a node ``ports`` and ``portgroups``, and
a port group its member ``ports``. We also accept top-level ``ports``/``portgroups`` that name
their node by ``node_uuid`` (or ``node``: a name or UUID); those pointing at nodes in the same
file are attached to them, the others are kept for the importer to resolve. Bodies pass through
as written, except that old driver names are translated and MACs and sizes are normalised.
"""

from __future__ import annotations

from typing import Any

from ingot.inventory import assemble
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import Field
from ingot.inventory.model import ChassisRequest, Inventory, NodeRequest
from ingot.inventory.problems import ProblemLog, Where

TOP_LEVEL = ("chassis", "nodes", "ports", "portgroups")
NODE_FIELDS = (
    "name",
    "uuid",
    "driver",
    "driver_info",
    "properties",
    "extra",
    "instance_info",
    "resource_class",
    "chassis_uuid",
    "conductor_group",
    "network_data",
    "owner",
    "lessee",
    "description",
    "automated_clean",
    "protected",
    "protected_reason",
    "retired",
    "retired_reason",
    "shard",
    "parent_node",
    "disable_power_off",
    "ports",
    "portgroups",
    *assemble.INTERFACE_FIELDS,
)


def looks_like_ironic_create(data: Any) -> bool:
    if not isinstance(data, dict) or not data or not set(data) <= set(TOP_LEVEL):
        return False
    nodes = data.get("nodes") or []
    has_pm_type = any(isinstance(n, dict) and "pm_type" in n for n in nodes)
    return not has_pm_type and (
        set(data) != {"nodes"} or any(isinstance(n, dict) and "driver" in n for n in nodes)
    )


def parse_ironic_create(data: dict[str, Any], file: str, log: ProblemLog) -> Inventory:
    inventory = Inventory(source=file, format="ironic")
    for key in sorted(set(data) - set(TOP_LEVEL)):
        log.add(Where(file), key, "unknown top-level key", "use " + ", ".join(TOP_LEVEL))
    # (node, chassis index, path in the document); chassis' nodes come first, as Ironic's
    # client creates them.
    entries: list[tuple[dict[str, Any], int | None, str]] = []
    for c_index, chassis in enumerate(_list(data, "chassis", Where(file), log)):
        body = {k: v for k, v in chassis.items() if k != "nodes"}
        inventory.chassis.append(ChassisRequest(body, f"{file}:chassis[{c_index}]"))
        nested = _list(chassis, "nodes", Where(file, path=f"chassis[{c_index}]"), log)
        entries += [(n, c_index, f"chassis[{c_index}].nodes[{i}]") for i, n in enumerate(nested)]
    top = _list(data, "nodes", Where(file), log)
    entries += [(n, None, f"nodes[{i}]") for i, n in enumerate(top)]
    for index, (entry, chassis_index, path) in enumerate(entries):
        name = str(entry["name"]) if entry.get("name") else None
        where = Where(file, index, name, path=path)
        request = _node(entry, where, log, chassis_index)
        if request is not None:
            inventory.nodes.append(request)
    _top_level(data, inventory, file, log)
    return inventory


def _list(data: dict[str, Any], key: str, where: Where, log: ProblemLog) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        log.add(where, key, "expected a list of mappings", f"write {key}: [{{...}}, ...]")
        return []
    return value


def _node(
    entry: dict[str, Any], where: Where, log: ProblemLog, chassis_index: int | None
) -> NodeRequest | None:
    notes: list[str] = []
    for key in entry:
        if key not in NODE_FIELDS:
            log.add(
                where,
                key,
                f"not a node field{assemble.suggest(key, NODE_FIELDS)}",
                "remove it (or put it under extra)",
            )
    node = {k: v for k, v in entry.items() if k not in ("ports", "portgroups")}
    found = assemble.driver(log, where, Field("driver", entry.get("driver")))
    if found is not None:
        assemble.pin_interfaces(node, found, notes)
    if entry.get("name") is not None:
        check.node_name(log, where, "name", entry["name"])
    if entry.get("properties") is not None:
        props = check.mapping(log, where, "properties", entry["properties"])
        if props is not None:
            node["properties"] = _properties(props, where, log)
    ports = [
        p
        for p in (
            _port(p, where, log, "ports", i)
            for i, p in enumerate(_list(entry, "ports", where, log))
        )
        if p is not None
    ]
    request = NodeRequest(
        node=node,
        ports=ports,
        notes=notes,
        source=where.source,
        where=where,
        chassis_index=chassis_index,
    )
    for g_index, group in enumerate(_list(entry, "portgroups", where, log)):
        _attach_portgroup(request, group, where, log, f"portgroups[{g_index}]")
    if log.count_for(where):
        return None
    return request


def _properties(props: dict[str, Any], where: Where, log: ProblemLog) -> dict[str, Any]:
    result = dict(props)
    sized = assemble.properties(
        log,
        where,
        cpus=Field("properties.cpus", props.get("cpus")),
        memory_mb=Field("properties.memory_mb", props.get("memory_mb")),
        local_gb=Field("properties.local_gb", props.get("local_gb")),
        cpu_arch=Field("properties.cpu_arch", props.get("cpu_arch")),
        capabilities=Field("properties.capabilities", props.get("capabilities")),
        root_device=Field("properties.root_device", props.get("root_device")),
    )
    result.update(sized)
    return result


def _port(
    port: dict[str, Any], where: Where, log: ProblemLog, path: str, index: int
) -> dict[str, Any] | None:
    field = f"{path}[{index}].address"
    if "address" not in port:
        log.add(where, field, "a port needs an address", "add address: MAC")
        return None
    mac = check.mac_address(log, where, field, port["address"])
    if mac is None:
        return None
    return {**{k: v for k, v in port.items() if k != "node_uuid"}, "address": mac}


def _attach_portgroup(
    request: NodeRequest, group: dict[str, Any], where: Where, log: ProblemLog, path: str
) -> None:
    body = {k: v for k, v in group.items() if k not in ("ports", "node_uuid")}
    if body.get("address") is not None:
        mac = check.mac_address(log, where, f"{path}.address", body["address"])
        if mac is not None:
            body["address"] = mac
    request.portgroups.append(body)
    group_index = len(request.portgroups) - 1
    for i, member in enumerate(_list(group, "ports", where, log)):
        port = _port(member, where, log, f"{path}.ports", i)
        if port is not None:
            request.ports.append(port)
            request.port_portgroups[port["address"]] = group_index


def _top_level(data: dict[str, Any], inventory: Inventory, file: str, log: ProblemLog) -> None:
    by_ref: dict[str, NodeRequest] = {}
    for request in inventory.nodes:
        for key in ("uuid", "name"):
            if request.node.get(key):
                by_ref[str(request.node[key])] = request
    for kind in ("portgroups", "ports"):
        for i, item in enumerate(_list(data, kind, Where(file), log)):
            ref = item.get("node_uuid") or item.get("node")
            where = Where(file, None, None)
            if not ref:
                log.add(where, f"{kind}[{i}].node_uuid", "no node given", "add node_uuid")
                continue
            owner = by_ref.get(str(ref))
            body = {k: v for k, v in item.items() if k != "node"}
            if owner is not None and kind == "ports":
                port = _port(body, Where(file), log, kind, i)
                if port is not None:
                    owner.ports.append(port)
            elif owner is not None:
                _attach_portgroup(owner, body, Where(file), log, f"{kind}[{i}]")
            elif kind == "ports":
                port = _port(body, Where(file), log, kind, i)
                if port is not None:
                    inventory.ports.append({**port, "node_uuid": ref})
            else:
                inventory.portgroups.append({**body, "node_uuid": ref})
