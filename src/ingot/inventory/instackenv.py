"""TripleO ``instackenv.json`` (or YAML): ``{"nodes": [{"pm_type": ..., "mac": [...]}, ...]}``.

Field meanings follow tripleo-common's node registration: ``cpu``/``memory``/``disk``/``arch``
become properties, ``kernel_id``/``ramdisk_id`` the deploy and rescue images, ``profile`` a
capability, ``platform`` ``extra.tripleo_platform``, and ``resource_class`` defaults to
``baremetal``. ``pm_*`` keys become the hardware type's ``driver_info``; keys already prefixed
with it (``ipmi_terminal_port``) pass through. Unlike TripleO, digit strings become integers
and a port given in ``pm_port`` is kept for Redfish.
"""

from __future__ import annotations

import re
from typing import Any

from ingot.inventory import assemble
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import BmcFields, Field, driver_info
from ingot.inventory.driver_names import IPMI, REDFISH
from ingot.inventory.model import NodeRequest
from ingot.inventory.problems import ProblemLog, Where

_PLAIN_FIELDS = (
    "pm_type",
    "pm_addr",
    "pm_port",
    "pm_user",
    "pm_password",
    "pm_system_id",
    "mac",
    "ports",
    "arch",
    "cpu",
    "memory",
    "disk",
    "name",
    "uuid",
    "capabilities",
    "profile",
    "root_device",
    "resource_class",
    "kernel_id",
    "ramdisk_id",
    "platform",
    "conductor_group",
    "_comment",
)
KNOWN_FIELDS = _PLAIN_FIELDS + assemble.INTERFACE_FIELDS
_PORT_FIELDS = ("address", "physical_network", "local_link_connection", "pxe_enabled")
_PREFIXES = {IPMI: "ipmi_", REDFISH: "redfish_"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def parse_instackenv(data: Any, file: str, log: ProblemLog) -> list[NodeRequest]:
    """Node requests for every entry of ``nodes`` (or of a bare list of nodes)."""
    entries = data.get("nodes") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        log.add(Where(file), "nodes", "expected a list of nodes", 'write {"nodes": [{...}, ...]}')
        return []
    if isinstance(data, dict):
        for key in sorted(set(data) - {"nodes"}):
            hint = assemble.suggest(key, ("nodes", "chassis", "ports", "portgroups"))
            log.add(
                Where(file),
                key,
                f"unknown top-level key{hint}",
                "an instackenv file holds only 'nodes'; remove it (ssh-user, host-ip and the "
                "like belonged to the retired SSH power driver)",
            )
    requests = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = Where(file, index, str(name) if name is not None else None)
        if not isinstance(entry, dict):
            log.add(where, None, "a node must be a mapping", "write each node as {key: value}")
            continue
        request = _node(entry, where, log)
        if request is not None:
            requests.append(request)
    return requests


def _node(entry: dict[str, Any], where: Where, log: ProblemLog) -> NodeRequest | None:
    def f(key: str) -> Field:
        return Field(key, entry.get(key))

    notes: list[str] = []
    node: dict[str, Any] = {}
    found = assemble.driver(log, where, f("pm_type"))
    prefix = _PREFIXES.get(found.hardware_type, "\0") if found else "\0"
    # With an unknown pm_type, do not also flag its driver-specific keys.
    _unknown_fields(entry, (prefix,) if found else tuple(_PREFIXES.values()), where, log)

    if found is not None:
        for key in assemble.INTERFACE_FIELDS:
            if entry.get(key) is not None:
                node[key] = str(entry[key])
        assemble.pin_interfaces(node, found, notes)
        bmc = BmcFields(
            f("pm_addr"), f("pm_port"), f("pm_user"), f("pm_password"), f("pm_system_id")
        )
        info = driver_info(found.hardware_type, bmc, where, log, notes)
        info.update({k: v for k, v in entry.items() if k.startswith(prefix)})
        _deploy_images(entry, info)
        node["driver_info"] = info
    if entry.get("name") is not None:
        name = check.node_name(log, where, "name", entry["name"])
        if name is not None:
            node["name"] = name
    if entry.get("uuid") is not None:
        if isinstance(entry["uuid"], str) and _UUID.match(entry["uuid"]):
            node["uuid"] = entry["uuid"].lower()
        else:
            log.add(where, "uuid", f"{entry['uuid']!r} is not a UUID", "remove it or fix it")
    caps = _capabilities(entry, where, log)
    node["properties"] = assemble.properties(
        log,
        where,
        cpus=f("cpu"),
        memory_mb=f("memory"),
        local_gb=f("disk"),
        cpu_arch=f("arch"),
        capabilities=Field("capabilities", caps) if caps else None,
        root_device=f("root_device"),
    )
    node["resource_class"] = str(entry.get("resource_class") or "baremetal")
    if entry.get("conductor_group") is not None:
        node["conductor_group"] = str(entry["conductor_group"])
    if entry.get("platform"):
        node["extra"] = {"tripleo_platform": str(entry["platform"])}
        if not entry.get("arch"):
            log.add(where, "platform", "platform given without arch", "add arch, like x86_64")
    ports = assemble.ports_from_macs(log, where, "mac", entry["mac"]) if "mac" in entry else []
    ports += _ports(entry.get("ports"), where, log)
    if log.count_for(where):
        return None
    return NodeRequest(node=node, ports=ports, notes=notes, source=where.source, where=where)


def _unknown_fields(
    entry: dict[str, Any], prefixes: tuple[str, ...], where: Where, log: ProblemLog
) -> None:
    for key in entry:
        if key in KNOWN_FIELDS or key.startswith(prefixes):
            continue
        log.add(
            where,
            key,
            f"unknown field{assemble.suggest(key, KNOWN_FIELDS)}",
            "remove it or rename it to a known instackenv field: " + ", ".join(KNOWN_FIELDS[:-1]),
        )


def _deploy_images(entry: dict[str, Any], info: dict[str, Any]) -> None:
    # tripleo-common uses the deploy ramdisk for rescue too.
    if entry.get("kernel_id") is not None:
        info["deploy_kernel"] = info["rescue_kernel"] = str(entry["kernel_id"])
    if entry.get("ramdisk_id") is not None:
        info["deploy_ramdisk"] = info["rescue_ramdisk"] = str(entry["ramdisk_id"])


def _capabilities(entry: dict[str, Any], where: Where, log: ProblemLog) -> str | None:
    caps = None
    if entry.get("capabilities") is not None:
        caps = check.capabilities(log, where, "capabilities", entry["capabilities"])
    if entry.get("profile") is not None:
        pairs = dict(p.split(":", 1) for p in caps.split(",")) if caps else {}
        pairs["profile"] = str(entry["profile"])
        caps = check.capabilities(log, where, "profile", pairs)
    return caps


def _ports(value: Any, where: Where, log: ProblemLog) -> list[dict[str, Any]]:
    """Newer TripleO ``ports: [{address, physical_network, local_link_connection}]``."""
    if value is None:
        return []
    if not isinstance(value, list):
        log.add(where, "ports", "expected a list of ports", "write ports: [{address: MAC}]")
        return []
    ports = []
    for i, item in enumerate(value):
        field = f"ports[{i}]"
        if not isinstance(item, dict) or "address" not in item:
            log.add(where, field, "a port needs an address", "write {address: MAC}")
            continue
        unknown = sorted(set(item) - set(_PORT_FIELDS))
        if unknown:
            log.add(
                where,
                f"{field}.{unknown[0]}",
                "unknown port field",
                "use " + ", ".join(_PORT_FIELDS),
            )
        mac = check.mac_address(log, where, f"{field}.address", item["address"])
        if mac is not None:
            port = {k: v for k, v in item.items() if k in _PORT_FIELDS}
            port["address"] = mac
            port.setdefault("pxe_enabled", True)
            ports.append(port)
    return ports
