"""The real machine, read from /proc and /sys (no lsblk/udev dependency, so it fits a ramdisk)."""

from __future__ import annotations

import fcntl
import logging
import os
import platform
import shutil
import socket
import struct
import subprocess
from pathlib import Path

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
SIOCGIFADDR = 0x8915
BLKRRPART = 0x125F
# Pseudo or removable-media devices that are never install targets.
SKIP_PREFIXES = ("loop", "ram", "zram", "sr", "fd", "nbd", "dm-")


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


class GenericHardwareManager(HardwareManager):
    """Reads the running Linux machine. ``root`` lets tests point it at a fake sysfs tree."""

    name = "generic_hardware_manager"
    version = "1.1"

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = Path(root)

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def _by_path_map(self) -> dict[str, str]:
        """Map ``sda`` -> ``/dev/disk/by-path/pci-...`` from udev's symlinks when present."""
        result: dict[str, str] = {}
        base = self._p("/dev/disk/by-path")
        if base.is_dir():
            for link in sorted(base.iterdir()):
                target = os.path.basename(os.path.realpath(link))
                result.setdefault(target, "/dev/disk/by-path/" + link.name)
        return result

    def list_block_devices(self) -> list[BlockDevice]:
        devices = []
        by_path = self._by_path_map()
        sys_block = self._p("/sys/block")
        for entry in sorted(sys_block.iterdir()) if sys_block.is_dir() else []:
            name = entry.name
            if name.startswith(SKIP_PREFIXES):
                continue
            sectors = int(_read(entry / "size", "0") or 0)
            if sectors == 0:
                continue
            dev = entry / "device"
            wwid = _read(dev / "wwid") or _read(entry / "wwid") or None
            hctl = None
            scsi = dev / "scsi_device"
            if scsi.is_dir():
                names = [p.name for p in scsi.iterdir()]
                hctl = names[0] if names else None
            devices.append(
                BlockDevice(
                    name="/dev/" + name,
                    size=sectors * 512,  # /sys/block/*/size is always in 512-byte units
                    path=str(self._p("/dev/" + name)),
                    model=_read(dev / "model"),
                    vendor=_read(dev / "vendor"),
                    serial=_read(dev / "serial") or _read(entry / "serial") or None,
                    wwn=wwid,
                    wwn_with_extension=wwid,
                    rotational=_read(entry / "queue/rotational", "0") == "1",
                    hctl=hctl,
                    by_path=by_path.get(name),
                    logical_sectors=int(_read(entry / "queue/logical_block_size", "512")),
                    physical_sectors=int(_read(entry / "queue/physical_block_size", "512")),
                )
            )
        return devices

    def _ipv4(self, ifname: str) -> str | None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            packed = struct.pack("256s", ifname.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(sock.fileno(), SIOCGIFADDR, packed)[20:24])
        except OSError:
            return None
        finally:
            sock.close()

    def list_network_interfaces(self) -> list[NetworkInterface]:
        nics = []
        base = self._p("/sys/class/net")
        for entry in sorted(base.iterdir()) if base.is_dir() else []:
            if not (entry / "device").exists():  # lo, bridges, veths: not physical NICs
                continue
            speed = _read(entry / "speed")
            nics.append(
                NetworkInterface(
                    name=entry.name,
                    mac_address=_read(entry / "address").lower(),
                    ipv4_address=self._ipv4(entry.name) if self.root == Path("/") else None,
                    has_carrier=_read(entry / "carrier", "0") == "1",
                    speed_mbps=int(speed)
                    if speed.lstrip("-").isdigit() and int(speed) > 0
                    else None,
                    vendor=_read(entry / "device/vendor") or None,
                    product=_read(entry / "device/device") or None,
                )
            )
        return nics

    def get_cpus(self) -> Cpu:
        model, freq = "", ""
        flags: list[str] = []
        count = 0
        sockets: set[str] = set()
        for line in _read(self._p("/proc/cpuinfo")).splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "processor":
                count += 1
            elif key == "model name" and not model:
                model = value
            elif key == "cpu MHz" and not freq:
                freq = value
            elif key == "flags" and not flags:
                flags = value.split()
            elif key == "physical id":
                sockets.add(value)
        return Cpu(
            model_name=model,
            frequency=freq,
            count=count or (os.cpu_count() or 1),
            architecture=platform.machine(),
            flags=flags,
            socket_count=len(sockets) or None,
        )

    def get_memory(self) -> Memory:
        total_kb = 0
        for line in _read(self._p("/proc/meminfo")).splitlines():
            if line.startswith("MemTotal:"):
                total_kb = int(line.split()[1])
        physical = self._physical_mb() or -(-total_kb // 1024)
        return Memory(total=total_kb * 1024, physical_mb=physical)

    def _physical_mb(self) -> int:
        """Sum of online memory blocks: closer to installed RAM than MemTotal (kernel reserves)."""
        base = self._p("/sys/devices/system/memory")
        size_hex = _read(base / "block_size_bytes")
        if not size_hex:
            return 0
        block = int(size_hex, 16)
        online = sum(1 for m in base.glob("memory[0-9]*") if _read(m / "online", "0") == "1")
        return online * block // (1024 * 1024)

    def get_system_vendor_info(self) -> SystemVendor:
        dmi = self._p("/sys/class/dmi/id")
        return SystemVendor(
            product_name=_read(dmi / "product_name"),
            serial_number=_read(dmi / "product_serial"),
            manufacturer=_read(dmi / "sys_vendor"),
            firmware={
                "vendor": _read(dmi / "bios_vendor"),
                "version": _read(dmi / "bios_version"),
                "build_date": _read(dmi / "bios_date"),
            },
        )

    def get_boot_info(self) -> BootInfo:
        mode = "uefi" if self._p("/sys/firmware/efi").is_dir() else "bios"
        return BootInfo(current_boot_mode=mode)

    def get_hostname(self) -> str:
        return socket.gethostname()

    def get_bmc_address(self) -> str | None:
        if not shutil.which("ipmitool"):
            return None
        try:
            out = subprocess.run(
                ["ipmitool", "lan", "print"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        for line in out.splitlines():
            key, _, value = (p.strip() for p in line.partition(":"))
            if key == "IP Address" and value:
                return value
        return None

    def power_off(self) -> None:
        os.sync()
        subprocess.run(["poweroff", "-f"], check=False)

    def reboot(self) -> None:
        os.sync()
        subprocess.run(["reboot", "-f"], check=False)

    def reread_partition_table(self, device: BlockDevice) -> None:
        fd = os.open(device.path, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, BLKRRPART)
        except OSError as exc:  # busy device: the new table is still on disk, log and go on
            LOG.warning("re-reading partition table of %s failed: %s", device.name, exc)
        finally:
            os.close(fd)

    def system_log_sources(self) -> dict[str, list[str]]:
        return {
            "dmesg": ["dmesg"],
            "journal": ["journalctl", "-b", "--no-pager"],
            "ip_addr": ["ip", "addr"],
            "lsblk": ["lsblk", "--all", "-o", "+UUID,PARTUUID,LABEL,SERIAL,WWN"],
            "mount": ["mount"],
            "ps": ["ps", "aux"],
        }
