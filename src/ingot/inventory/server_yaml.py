"""Per-server YAML of the ansible-ironic-standalone playbooks (``servers/<name>.yml``).

One file describes one server with ``baremetal_*`` variables: ``baremetal_ipmi_ip``/``_user``/
``_pass``, ``baremetal_mac``, ``baremetal_fqdn`` (the node name) and ``baremetal_network_list``.
The driver comes from ``baremetal_driver`` when the file has it, otherwise ``agent_ipmitool``, the
playbooks' default.

For the config drive: ``baremetal_network_list`` is stored unchanged (including its Jinja
``{{ baremetal_ip }}`` references) in ``extra["ingot_network"]``, and every other ``baremetal_*``
variable that is not a node field (``baremetal_ip``, ``baremetal_netmask``, ``baremetal_gw``,
``baremetal_os``...) in ``extra["ingot_host_vars"]``, so those references can be resolved later.
Nothing here renders templates.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from ingot.inventory import assemble
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import BmcFields, Field, driver_info
from ingot.inventory.model import NodeRequest, is_secret_key
from ingot.inventory.problems import ProblemLog, Where

DEFAULT_DRIVER = "agent_ipmitool"
_PREFIX = "baremetal_"
_HANDLED = {
    "baremetal_ipmi_ip",
    "baremetal_ipmi_port",
    "baremetal_ipmi_user",
    "baremetal_ipmi_pass",
    "baremetal_mac",
    "baremetal_fqdn",
    "baremetal_network_list",
    "baremetal_driver",
    "baremetal_deploy_kernel",
    "baremetal_deploy_ramdisk",
    "baremetal_image",
    "baremetal_image_checksum",
}


def looks_like_server_yaml(data: Any) -> bool:
    return isinstance(data, dict) and any(str(k).startswith(_PREFIX) for k in data)


def parse_server_yaml(data: dict[str, Any], file: str, log: ProblemLog) -> list[NodeRequest]:
    fqdn = data.get("baremetal_fqdn")
    where = Where(file, 0, str(fqdn) if fqdn else None)
    notes: list[str] = []
    node: dict[str, Any] = {}

    if fqdn:
        name = check.node_name(log, where, "baremetal_fqdn", fqdn)
    else:
        # The playbook is run with -e id=<file name>; without an fqdn that is the only name.
        name = check.node_name(log, where, "baremetal_fqdn", PurePath(file).stem)
        notes.append(f"no baremetal_fqdn; named after the file: {name}")
    if name is not None:
        node["name"] = name

    written = data.get("baremetal_driver")
    if written is None:
        written = DEFAULT_DRIVER
        notes.append(f"no baremetal_driver; assumed {DEFAULT_DRIVER!r}, the playbooks' default")
    found = assemble.driver(log, where, Field("baremetal_driver", written))
    if found is not None:
        assemble.pin_interfaces(node, found, notes)
        bmc = BmcFields(
            Field("baremetal_ipmi_ip", data.get("baremetal_ipmi_ip")),
            Field("baremetal_ipmi_port", data.get("baremetal_ipmi_port")),
            Field("baremetal_ipmi_user", data.get("baremetal_ipmi_user")),
            Field("baremetal_ipmi_pass", data.get("baremetal_ipmi_pass")),
            Field("baremetal_system_id", None),
        )
        node["driver_info"] = driver_info(found.hardware_type, bmc, where, log, notes)
        _images(data, node, notes)

    extra: dict[str, Any] = {}
    if data.get("baremetal_network_list") is not None:
        extra["ingot_network"] = data["baremetal_network_list"]
    leftover = {str(k): v for k, v in data.items() if k not in _HANDLED}
    secrets = sorted(k for k in leftover if is_secret_key(k))
    if secrets:
        notes.append(f"variables {secrets} look like secrets and were not stored in extra")
    host_vars = {k: v for k, v in leftover.items() if k not in secrets}
    if host_vars:
        extra["ingot_host_vars"] = host_vars
    if extra:
        node["extra"] = extra

    if data.get("baremetal_mac") is None:
        log.add(where, "baremetal_mac", "missing the MAC of the PXE NIC", "add baremetal_mac")
        ports: list[dict[str, Any]] = []
    else:
        ports = assemble.ports_from_macs(log, where, "baremetal_mac", data["baremetal_mac"])
    if log.count_for(where):
        return []
    return [NodeRequest(node=node, ports=ports, notes=notes, source=where.source, where=where)]


def _images(data: dict[str, Any], node: dict[str, Any], notes: list[str]) -> None:
    """Deploy ramdisk and instance image, unless they are unrendered Jinja templates."""
    targets = (
        ("baremetal_deploy_kernel", "driver_info", "deploy_kernel"),
        ("baremetal_deploy_ramdisk", "driver_info", "deploy_ramdisk"),
        ("baremetal_image", "instance_info", "image_source"),
        ("baremetal_image_checksum", "instance_info", "image_checksum"),
    )
    for key, section, field in targets:
        value = data.get(key)
        if value is None or value == "":
            continue
        if "{{" in str(value):
            notes.append(f"{key} is a Jinja template; not used (set {section}.{field} later)")
            continue
        node.setdefault(section, {})[field] = str(value)
