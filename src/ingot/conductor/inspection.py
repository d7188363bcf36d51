"""Turning the agent's inventory into node properties and ports, as Ironic's inspector does."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingot.conductor import rules
from ingot.conductor.task import Task
from ingot.db import history, models

_GIB = 1024**3


def root_disk(inventory: dict[str, Any], hints: dict[str, Any] | None) -> dict[str, Any] | None:
    """The disk the deploy would use: the hinted one, else the smallest of at least 4 GiB."""
    disks = [d for d in inventory.get("disks", []) if isinstance(d, dict)]
    if hints:
        for disk in disks:
            if all(str(disk.get(k)) == str(v) for k, v in hints.items() if k in disk):
                return disk
    big = [d for d in disks if int(d.get("size", 0)) >= 4 * _GIB] or disks
    return min(big, key=lambda d: int(d.get("size", 0)), default=None)


def properties_from(inventory: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    props = dict(current)
    cpu = inventory.get("cpu") or {}
    if cpu.get("count"):
        props["cpus"] = int(cpu["count"])
    if cpu.get("architecture"):
        props["cpu_arch"] = cpu["architecture"]
    memory = inventory.get("memory") or {}
    if memory.get("physical_mb"):
        props["memory_mb"] = int(memory["physical_mb"])
    disk = root_disk(inventory, current.get("root_device"))
    if disk is not None:
        # Ironic reports one GiB less, leaving room for the partition table and config drive.
        props["local_gb"] = max(int(int(disk.get("size", 0)) / _GIB) - 1, 0)
    return props


def apply_inventory(task: Task, inventory: dict[str, Any], data: dict[str, Any]) -> None:
    """Store the inventory, update properties and boot mode, add ports for new NICs."""
    node = task.node
    props = properties_from(inventory, node.properties)
    boot = (inventory.get("boot") or {}).get("current_boot_mode")
    node_id = node.id
    plugin_data = {k: v for k, v in data.items() if k != "inventory"}

    def write(session: Session) -> list[str]:
        row = session.scalar(
            select(models.NodeInventory).where(models.NodeInventory.node_id == node_id)
        )
        if row is None:
            session.add(
                models.NodeInventory(node_id=node_id, inventory=inventory, plugin_data=plugin_data)
            )
        else:
            row.inventory, row.plugin_data = inventory, plugin_data
        known = set(session.scalars(select(models.Port.address)))
        added = []
        for nic in inventory.get("interfaces", []):
            mac = str(nic.get("mac_address", "")).lower()
            if mac and mac not in known:
                session.add(
                    models.Port(
                        uuid=str(uuidlib.uuid4()),
                        address=mac,
                        node_id=node_id,
                        pxe_enabled=False,
                        extra={},
                        internal_info={},
                        local_link_connection=_llc(nic),
                    )
                )
                added.append(mac)
        return added

    added = task.write(write)
    task.update(properties=props)
    if boot in ("bios", "uefi"):
        task.update(boot_mode=boot)
    summary = ", ".join(
        f"{k}={props.get(k)}" for k in ("cpus", "memory_mb", "local_gb", "cpu_arch")
    )
    task.save(
        f"Inspection data stored: {summary}; new ports: {', '.join(added) or 'none'}",
        severity=history.INFO,
    )
    if rules.apply_rules(task, inventory, plugin_data):  # may raise RuleFailed ("fail" action)
        task.save()


def _llc(nic: dict[str, Any]) -> dict[str, Any]:
    lldp = nic.get("lldp") or {}
    if isinstance(lldp, dict) and lldp.get("switch_id"):
        return {k: lldp[k] for k in ("switch_id", "port_id", "switch_info") if k in lldp}
    return {}
