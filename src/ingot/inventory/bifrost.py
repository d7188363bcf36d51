"""Bifrost JSON/YAML inventories: ``{name: {driver, driver_info, nics, properties, ...}}``.

``driver_info`` may be flat (today's Bifrost) or split into ``power``/``deploy``/``management``/
``console`` sections (older Bifrost); the sections are merged. Properties use Bifrost's names
(``ram``, ``disk_size``) or Ironic's. ``ipa_kernel_url``/``ipa_ramdisk_url`` become the deploy
images. Host variables that are not node fields (``ipv4_address``, ``host_groups``, ...) are kept
unchanged in ``extra["ingot_host_vars"]`` and ``node_network_data`` (network_data.json form) in
``extra["ingot_network_data"]``, for the config drive.
"""

from __future__ import annotations

from typing import Any

from ingot.inventory import assemble
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import BmcFields, Field, driver_info
from ingot.inventory.driver_names import IPMI, REDFISH
from ingot.inventory.model import NodeRequest, is_secret_key
from ingot.inventory.problems import ProblemLog, Where

_SECTIONS = ("power", "deploy", "management", "console")
# Ironic node fields Bifrost passes straight through.
_NODE_FIELDS = (
    "uuid",
    "resource_class",
    "conductor_group",
    "owner",
    "lessee",
    "description",
    "automated_clean",
    "network_interface",
    *assemble.INTERFACE_FIELDS,
)
_HANDLED = (
    "name",
    "driver",
    "driver_info",
    "nics",
    "properties",
    "instance_info",
    "extra",
    "ipa_kernel_url",
    "ipa_ramdisk_url",
    "node_network_data",
)
_BMC_KEYS = {
    IPMI: ("ipmi_address", "ipmi_port", "ipmi_username", "ipmi_password", None),
    REDFISH: (
        "redfish_address",
        None,
        "redfish_username",
        "redfish_password",
        "redfish_system_id",
    ),
}


def looks_like_bifrost(data: Any) -> bool:
    """A mapping of host name to host mappings that carry Bifrost's keys."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) for v in data.values())
        and any({"driver", "nics", "driver_info"} & set(v) for v in data.values())
    )


def parse_bifrost(data: dict[str, Any], file: str, log: ProblemLog) -> list[NodeRequest]:
    requests = []
    for index, (key, host) in enumerate(data.items()):
        name = host.get("name", key) if isinstance(host, dict) else key
        where = Where(file, index, str(name))
        if not isinstance(host, dict):
            log.add(where, None, "a host must be a mapping", "write each host as {key: value}")
            continue
        request = _host(str(key), host, where, log)
        if request is not None:
            requests.append(request)
    return requests


def _host(key: str, host: dict[str, Any], where: Where, log: ProblemLog) -> NodeRequest | None:
    notes: list[str] = []
    node: dict[str, Any] = {k: host[k] for k in _NODE_FIELDS if host.get(k) is not None}
    name = check.node_name(log, where, "name", host.get("name", key))
    if name is not None:
        node["name"] = name
        if name != key:
            notes.append(f"host key {key!r} differs from its name; the name {name!r} is used")
    found = assemble.driver(log, where, Field("driver", host.get("driver")))
    info = _flat_driver_info(host.get("driver_info"), where, log, notes)
    if found is not None:
        assemble.pin_interfaces(node, found, notes)
        node["driver_info"] = _bmc(found.hardware_type, info, where, log, notes)
        for url_key, info_key in (
            ("ipa_kernel_url", "deploy_kernel"),
            ("ipa_ramdisk_url", "deploy_ramdisk"),
        ):
            if host.get(url_key):
                node["driver_info"].setdefault(info_key, str(host[url_key]))
    node["properties"] = _properties(host.get("properties"), where, log)
    for field in ("instance_info", "extra"):
        if host.get(field) is not None:
            value = check.mapping(log, where, field, host[field])
            if value is not None:
                node[field] = value
    extra = _host_vars(host, notes)
    if extra:
        node["extra"] = {**node.get("extra", {}), **extra}
    ports = _nics(host.get("nics"), where, log)
    if log.count_for(where):
        return None
    return NodeRequest(node=node, ports=ports, notes=notes, source=where.source, where=where)


def _flat_driver_info(
    value: Any, where: Where, log: ProblemLog, notes: list[str]
) -> dict[str, Any]:
    if value is None:
        return {}
    info = check.mapping(log, where, "driver_info", value)
    if info is None:
        return {}
    merged = {k: v for k, v in info.items() if k not in _SECTIONS or not isinstance(v, dict)}
    sections = [s for s in _SECTIONS if isinstance(info.get(s), dict)]
    for section in sections:
        merged.update(info[section])
    if sections:
        notes.append(f"driver_info sections {', '.join(sections)} merged into one driver_info")
    return merged


def _bmc(
    hardware_type: str, info: dict[str, Any], where: Where, log: ProblemLog, notes: list[str]
) -> dict[str, Any]:
    keys = _BMC_KEYS.get(hardware_type)
    if keys is None:
        return info
    rest = dict(info)
    fields = [Field(f"driver_info.{k or 'port'}", rest.pop(k, None) if k else None) for k in keys]
    result = driver_info(hardware_type, BmcFields(*fields), where, log, notes)
    rest.update(result)
    return rest


def _properties(value: Any, where: Where, log: ProblemLog) -> dict[str, Any]:
    if value is None:
        return {}
    props = check.mapping(log, where, "properties", value)
    if props is None:
        return {}

    def pick(*names: str) -> Field:
        for n in names:
            if props.get(n) is not None:
                return Field(f"properties.{n}", props[n])
        return Field(f"properties.{names[0]}")

    result = assemble.properties(
        log,
        where,
        cpus=pick("cpus"),
        memory_mb=pick("ram", "memory_mb"),
        local_gb=pick("disk_size", "local_gb"),
        cpu_arch=pick("cpu_arch"),
        capabilities=pick("capabilities"),
        root_device=pick("root_device"),
    )
    used = {"cpus", "ram", "memory_mb", "disk_size", "local_gb", "cpu_arch"}
    used |= {"capabilities", "root_device"}
    return {**{k: v for k, v in props.items() if k not in used}, **result}


def _host_vars(host: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if host.get("node_network_data") is not None:
        extra["ingot_network_data"] = host["node_network_data"]
    leftover = {k: v for k, v in host.items() if k not in _HANDLED and k not in _NODE_FIELDS}
    secrets = sorted(k for k in leftover if is_secret_key(k))
    if secrets:
        notes.append(f"host variables {secrets} look like secrets and were not stored in extra")
    kept = {k: v for k, v in leftover.items() if k not in secrets}
    if kept:
        extra["ingot_host_vars"] = kept
    return extra


def _nics(value: Any, where: Where, log: ProblemLog) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        log.add(where, "nics", "expected a list of NICs", "write nics: [{mac: MAC}, ...]")
        return []
    macs = []
    for i, nic in enumerate(value):
        if not isinstance(nic, dict) or "mac" not in nic:
            log.add(where, f"nics[{i}]", "a NIC needs a mac", "write {mac: MAC}")
            continue
        macs.append(nic["mac"])
    return assemble.ports_from_macs(log, where, "nics", macs)
