"""The lab's machine: described by ``<root_dir>/machine.json``, disks are (sparse) files.

Description keys (all optional but ``disks`` and ``nics``)::

    {"hostname": "node-0", "cpus": 2, "cpu_arch": "x86_64", "cpu_model": "QEMU Virtual CPU",
     "memory_mb": 2048, "boot_mode": "uefi", "vendor": "Ingot Lab", "product": "Virtual Server",
     "serial": "LAB0001", "bmc_address": "127.0.0.1",
     "disks": [{"name": "/dev/vda", "file": "vda.img", "size": 1073741824, "serial": "S1",
                "wwn": "0x5000c500a0b1c2d3", "model": "VDISK", "rotational": false}],
     "nics": [{"name": "eth0", "mac": "52:54:00:00:00:30", "ipv4_address": "10.99.0.30",
               "speed_mbps": 1000, "lldp": [[1, "04525400000001"]]}],
     "power_url": "http://127.0.0.1:8000/power/node-0"}

Power actions write ``<root_dir>/power`` ("off" or "reboot") and POST ``{"action": ...}`` to
``power_url`` when set, so the lab can stop the agent process and flip the virtual BMC state.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingot_agent.errors import AgentError
from ingot_agent.hardware.base import (
    BlockDevice,
    BootInfo,
    Cpu,
    HardwareManager,
    Memory,
    NetworkInterface,
    SystemVendor,
)

LOG = logging.getLogger(__name__)
MACHINE_FILE = "machine.json"


class MachineDescriptionError(AgentError):
    message = "Invalid machine description"


class VirtualHardwareManager(HardwareManager):
    """Reads the machine description; creates missing disk files as sparse files of their size."""

    name = "virtual"

    def __init__(self, root_dir: Path, on_power: Callable[[str], None] | None = None) -> None:
        self.root_dir = Path(root_dir)
        path = self.root_dir / MACHINE_FILE
        try:
            self.spec: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MachineDescriptionError(
                f"cannot read machine description {path}: {exc}; write a JSON file there"
            ) from exc
        self.on_power = on_power
        self._disks = [self._disk(i, d) for i, d in enumerate(self.spec.get("disks", []))]

    def _disk(self, index: int, spec: dict[str, Any]) -> BlockDevice:
        name = spec.get("name") or f"/dev/vd{chr(ord('a') + index)}"
        file = self.root_dir / spec.get("file", Path(name).name + ".img")
        if "size" not in spec and not file.exists():
            raise MachineDescriptionError(f"disk {name}: give 'size' (bytes) or an existing file")
        if not file.exists():
            with open(file, "wb") as fh:
                fh.truncate(int(spec["size"]))
        size = int(spec.get("size", file.stat().st_size))
        return BlockDevice(
            name=name,
            size=size,
            path=str(file),
            model=spec.get("model", "VIRTUAL-DISK"),
            vendor=spec.get("vendor", "ingot"),
            serial=spec.get("serial"),
            wwn=spec.get("wwn"),
            wwn_with_extension=spec.get("wwn_with_extension", spec.get("wwn")),
            rotational=bool(spec.get("rotational", False)),
            hctl=spec.get("hctl"),
            by_path=spec.get("by_path", f"/dev/disk/by-path/virtual-disk-{index}"),
        )

    def list_block_devices(self) -> list[BlockDevice]:
        return list(self._disks)

    def list_network_interfaces(self) -> list[NetworkInterface]:
        nics = []
        for i, nic in enumerate(self.spec.get("nics", [])):
            nics.append(
                NetworkInterface(
                    name=nic.get("name", f"eth{i}"),
                    mac_address=nic["mac"].lower(),
                    ipv4_address=nic.get("ipv4_address"),
                    ipv6_address=nic.get("ipv6_address"),
                    has_carrier=bool(nic.get("has_carrier", True)),
                    speed_mbps=nic.get("speed_mbps"),
                    vendor=nic.get("vendor", "0x1af4"),
                    product=nic.get("product", "0x0001"),
                    lldp=nic.get("lldp"),
                )
            )
        return nics

    def get_cpus(self) -> Cpu:
        count = int(self.spec.get("cpus", 1))
        return Cpu(
            model_name=self.spec.get("cpu_model", "Ingot Virtual CPU"),
            frequency=str(self.spec.get("cpu_frequency", "2000.000")),
            count=count,
            architecture=self.spec.get("cpu_arch", "x86_64"),
            flags=list(self.spec.get("cpu_flags", ["fpu", "sse2"])),
            socket_count=int(self.spec.get("sockets", 1)),
        )

    def get_memory(self) -> Memory:
        mb = int(self.spec.get("memory_mb", 1024))
        return Memory(total=mb * 1024 * 1024, physical_mb=mb)

    def get_system_vendor_info(self) -> SystemVendor:
        return SystemVendor(
            product_name=self.spec.get("product", "Virtual Server"),
            serial_number=self.spec.get("serial", ""),
            manufacturer=self.spec.get("vendor", "Ingot Lab"),
            firmware={"vendor": "ingot", "version": "1.0", "build_date": ""},
        )

    def get_boot_info(self) -> BootInfo:
        return BootInfo(current_boot_mode=self.spec.get("boot_mode", "bios"))

    def get_hostname(self) -> str:
        return str(self.spec.get("hostname", "localhost"))

    def get_bmc_address(self) -> str | None:
        value = self.spec.get("bmc_address")
        return str(value) if value else None

    def _power(self, action: str) -> None:
        (self.root_dir / "power").write_text(action + "\n")
        url = self.spec.get("power_url")
        if url:
            body = json.dumps({"action": action}).encode()
            req = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=10):
                    pass
            except OSError as exc:  # the lab may already be gone; the file still says it
                LOG.warning("power %s callback to %s failed: %s", action, url, exc)
        if self.on_power is not None:
            self.on_power(action)

    def power_off(self) -> None:
        self._power("off")

    def reboot(self) -> None:
        self._power("reboot")

    def system_log_sources(self) -> dict[str, list[str]]:
        return {}

    def rescue_password_path(self) -> str:
        return os.fspath(self.root_dir / "rescue-password")

    def machine_file(self) -> str:
        return os.fspath(self.root_dir / MACHINE_FILE)
