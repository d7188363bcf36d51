"""Pieces every format needs to build a node body: driver, interfaces, properties, ports."""

from __future__ import annotations

import difflib
from typing import Any

from ingot.drivers.interfaces import KINDS
from ingot.inventory import field_checks as check
from ingot.inventory.bmc import Field
from ingot.inventory.driver_names import DriverName, lookup_driver, unknown_driver_fix
from ingot.inventory.problems import ProblemLog, Where

INTERFACE_FIELDS = tuple(f"{kind}_interface" for kind in KINDS)


def driver(log: ProblemLog, where: Where, f: Field) -> DriverName | None:
    """The hardware type for a driver name as written; unknown or missing names are problems."""
    if not f.given or not isinstance(f.value, str) or not f.value.strip():
        log.add(where, f.name, "missing the driver", f"add {f.name}; {unknown_driver_fix()}")
        return None
    found = lookup_driver(f.value)
    if found is None:
        log.add(where, f.name, f"unknown driver {f.value!r}", unknown_driver_fix())
    return found


def pin_interfaces(node: dict[str, Any], found: DriverName, notes: list[str]) -> None:
    """Set the driver and the interfaces its old name implied; the file's own choices win."""
    node["driver"] = found.hardware_type
    note = found.note()
    if note:
        notes.append(note)
    for kind, implied in sorted(found.interfaces.items()):
        written = node.get(kind)
        if written is None:
            node[kind] = implied
        elif written != implied:
            notes.append(f"{kind} {written!r} from the file kept over {implied!r}")


def properties(
    log: ProblemLog,
    where: Where,
    *,
    cpus: Field,
    memory_mb: Field,
    local_gb: Field,
    cpu_arch: Field,
    capabilities: Field | None = None,
    root_device: Field | None = None,
) -> dict[str, Any]:
    """Ironic ``properties`` from the sizing fields, converting digit strings to integers."""
    props: dict[str, Any] = {}
    for key, f, unit in (
        ("cpus", cpus, "CPU count"),
        ("memory_mb", memory_mb, "memory in MiB"),
        ("local_gb", local_gb, "disk size in GiB"),
    ):
        if f.given:
            number = check.whole_number(log, where, f.name, f.value, unit)
            if number is not None:
                props[key] = number
    if cpu_arch.given:
        arch = check.text_value(log, where, cpu_arch.name, cpu_arch.value)
        if arch is not None:
            props["cpu_arch"] = arch
    if capabilities is not None and capabilities.given:
        caps = check.capabilities(log, where, capabilities.name, capabilities.value)
        if caps:
            props["capabilities"] = caps
    if root_device is not None and root_device.given:
        hints = check.mapping(log, where, root_device.name, root_device.value)
        if hints is not None:
            props["root_device"] = hints
    return props


def ports_from_macs(log: ProblemLog, where: Where, field: str, macs: Any) -> list[dict[str, Any]]:
    """Port bodies from a MAC or a list of MACs; every port may PXE boot, as Ironic defaults."""
    if isinstance(macs, str):
        macs = [macs]
    if not isinstance(macs, list):
        log.add(where, field, "expected a list of MAC addresses", check.MAC_FIX)
        return []
    ports = []
    for i, value in enumerate(macs):
        mac = check.mac_address(log, where, f"{field}[{i}]", value)
        if mac is not None:
            ports.append({"address": mac, "pxe_enabled": True})
    return ports


def suggest(name: str, known: list[str] | tuple[str, ...]) -> str:
    """' (did you mean x?)' for a probable typo, or ''."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
