"""The hardware seam: what the command code needs from a machine, real or virtual.

Field names follow IPA's ``get_inventory`` so Ironic-style inspection code reads them as is.
"""

from __future__ import annotations

import abc
import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BlockDevice:
    """A disk. ``path`` is where to open it (``/dev/sda``, or a file in the lab)."""

    name: str
    size: int
    path: str
    model: str = ""
    vendor: str = ""
    serial: str | None = None
    wwn: str | None = None
    wwn_with_extension: str | None = None
    wwn_vendor_extension: str | None = None
    rotational: bool = False
    hctl: str | None = None
    by_path: str | None = None
    logical_sectors: int = 512
    physical_sectors: int = 512

    def to_inventory(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data


@dataclass
class NetworkInterface:
    name: str
    mac_address: str
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    has_carrier: bool = True
    speed_mbps: int | None = None
    vendor: str | None = None
    product: str | None = None
    lldp: list[list[Any]] | None = None
    client_id: str | None = None
    biosdevname: str | None = None


@dataclass
class Cpu:
    model_name: str
    frequency: str
    count: int
    architecture: str
    flags: list[str] = field(default_factory=list)
    socket_count: int | None = None


@dataclass
class Memory:
    total: int
    physical_mb: int


@dataclass
class SystemVendor:
    product_name: str = ""
    serial_number: str = ""
    manufacturer: str = ""
    firmware: dict[str, str] = field(default_factory=dict)


@dataclass
class BootInfo:
    current_boot_mode: str
    pxe_interface: str | None = None


class HardwareManager(abc.ABC):
    """One machine. Command code only calls these methods, so it runs unchanged in the lab."""

    name = "base"
    version = "1.0"

    @abc.abstractmethod
    def list_block_devices(self) -> list[BlockDevice]: ...

    @abc.abstractmethod
    def list_network_interfaces(self) -> list[NetworkInterface]: ...

    @abc.abstractmethod
    def get_cpus(self) -> Cpu: ...

    @abc.abstractmethod
    def get_memory(self) -> Memory: ...

    @abc.abstractmethod
    def get_system_vendor_info(self) -> SystemVendor: ...

    @abc.abstractmethod
    def get_boot_info(self) -> BootInfo: ...

    @abc.abstractmethod
    def get_hostname(self) -> str: ...

    @abc.abstractmethod
    def get_bmc_address(self) -> str | None: ...

    @abc.abstractmethod
    def power_off(self) -> None:
        """Turn the machine off (the agent process stops with it)."""

    @abc.abstractmethod
    def reboot(self) -> None: ...

    def rescue_password_path(self) -> str:
        """Where the rescue ramdisk's setup reads the rescue user's password (as IPA)."""
        return "/etc/ipa-rescue-config/ipa-rescue-password"

    def is_block_device_file(self, device: BlockDevice) -> bool:
        """True when the disk is a regular file (lab): sparse writes and hole punching are safe."""
        return os.path.isfile(device.path)

    def reread_partition_table(self, device: BlockDevice) -> None:
        """Ask the kernel to re-read the partition table; a no-op for file-backed disks."""
        return None

    def system_log_sources(self) -> dict[str, list[str]]:
        """Commands whose output goes into ``log.collect_system_logs`` (name -> argv)."""
        return {}

    def get_inventory(self, boot_mac: str | None = None) -> dict[str, Any]:
        """The inventory in IPA's shape (``system.get_inventory`` and inspection data)."""
        boot = self.get_boot_info()
        if boot_mac and not boot.pxe_interface:
            boot.pxe_interface = boot_mac
        return {
            "cpu": asdict(self.get_cpus()),
            "memory": asdict(self.get_memory()),
            "disks": [d.to_inventory() for d in self.list_block_devices()],
            "interfaces": [asdict(i) for i in self.list_network_interfaces()],
            "system_vendor": asdict(self.get_system_vendor_info()),
            "boot": asdict(boot),
            "hostname": self.get_hostname(),
            "bmc_address": self.get_bmc_address() or "0.0.0.0",
            "bmc_v6address": "::/0",
        }
