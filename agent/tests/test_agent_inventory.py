"""Inventory in IPA's shape from the virtual machine description and from a fake sysfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MiB, run_command, write_machine
from ingot_agent.agent import Agent
from ingot_agent.hardware.linux import GenericHardwareManager
from ingot_agent.hardware.virtual import MachineDescriptionError, VirtualHardwareManager


def test_virtual_inventory_shape(agent: Agent) -> None:
    inv = run_command(agent, "system.get_inventory", {})["command_result"]["inventory"]
    assert set(inv) >= {
        "cpu",
        "memory",
        "disks",
        "interfaces",
        "system_vendor",
        "boot",
        "hostname",
        "bmc_address",
    }
    assert inv["cpu"]["count"] == 4 and inv["cpu"]["architecture"] == "x86_64"
    assert inv["memory"]["physical_mb"] == 2048
    disk = inv["disks"][0]
    assert disk["name"] == "/dev/vda" and disk["size"] == 256 * MiB
    assert disk["serial"] == "VDA-1" and disk["wwn"] == "0x5000c500a0b1c2d3"
    assert disk["rotational"] is False and disk["by_path"]
    assert "path" not in disk  # the lab's file path is not hardware
    nic = inv["interfaces"][0]
    assert nic["mac_address"] == "52:54:00:00:00:30" and nic["speed_mbps"] == 1000
    assert inv["boot"]["current_boot_mode"] == "uefi"
    assert inv["system_vendor"]["manufacturer"] == "Ingot Lab"
    assert inv["bmc_address"] == "127.0.0.1"


def test_virtual_disk_files_created_sparse(tmp_path: Path) -> None:
    root = write_machine(tmp_path / "m", disks=[{"name": "/dev/sda", "size": 1024 * MiB}])
    hw = VirtualHardwareManager(root)
    path = Path(hw.list_block_devices()[0].path)
    assert path.stat().st_size == 1024 * MiB and path.stat().st_blocks == 0


def test_virtual_description_errors(tmp_path: Path) -> None:
    with pytest.raises(MachineDescriptionError, match=r"machine\.json"):
        VirtualHardwareManager(tmp_path)
    root = write_machine(tmp_path / "m", disks=[{"name": "/dev/sda"}])
    with pytest.raises(MachineDescriptionError, match="size"):
        VirtualHardwareManager(root)


def test_power_off_writes_state_and_stops(machine_dir: Path) -> None:
    from conftest import make_agent

    agent = make_agent(machine_dir)
    result = run_command(agent, "standby.power_off", {})
    assert result["command_status"] == "SUCCEEDED"
    assert agent.wait(5), "agent did not stop after power_off"
    assert (machine_dir / "power").read_text().strip() == "off"


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_linux_manager_reads_fake_sysfs(tmp_path: Path) -> None:
    r = tmp_path
    write(
        r,
        "proc/cpuinfo",
        "processor\t: 0\nmodel name\t: Xeon\ncpu MHz\t\t: 2400.0\n"
        "flags\t\t: fpu vmx\nphysical id\t: 0\n\nprocessor\t: 1\nmodel name\t: Xeon\n"
        "physical id\t: 0",
    )
    write(r, "proc/meminfo", "MemTotal:        8000000 kB")
    write(r, "sys/devices/system/memory/block_size_bytes", "8000000")
    for i in range(64):
        write(r, f"sys/devices/system/memory/memory{i}/online", "1")
    write(r, "sys/block/sda/size", str(2 * 1024 * 1024 * 2))
    write(r, "sys/block/sda/queue/rotational", "1")
    write(r, "sys/block/sda/device/model", "ST2000")
    write(r, "sys/block/sda/device/wwid", "naa.5000c500")
    write(r, "sys/block/sda/device/serial", "Z1")
    write(r, "sys/block/loop0/size", "100")
    write(r, "sys/class/net/eth0/address", "AA:BB:CC:00:11:22")
    write(r, "sys/class/net/eth0/speed", "10000")
    write(r, "sys/class/net/eth0/carrier", "1")
    (r / "sys/class/net/eth0/device").mkdir()
    write(r, "sys/class/net/lo/address", "00:00:00:00:00:00")
    write(r, "sys/class/dmi/id/sys_vendor", "Dell Inc.")
    write(r, "sys/class/dmi/id/product_name", "PowerEdge R640")
    (r / "sys/firmware/efi").mkdir(parents=True)
    (r / "dev/disk/by-path").mkdir(parents=True)
    (r / "dev/disk/by-path/pci-0000:00:1f.2-ata-1").symlink_to("../../sda")
    hw = GenericHardwareManager(root=r)
    inv = hw.get_inventory()
    assert inv["cpu"]["count"] == 2 and inv["cpu"]["flags"] == ["fpu", "vmx"]
    assert inv["cpu"]["socket_count"] == 1
    assert inv["memory"]["physical_mb"] == 8192 and inv["memory"]["total"] == 8000000 * 1024
    assert [d["name"] for d in inv["disks"]] == ["/dev/sda"]
    sda = inv["disks"][0]
    assert sda["size"] == 2 * 1024**3 and sda["rotational"] is True
    assert sda["wwn"] == "naa.5000c500" and sda["serial"] == "Z1"
    assert sda["by_path"] == "/dev/disk/by-path/pci-0000:00:1f.2-ata-1"
    assert [n["mac_address"] for n in inv["interfaces"]] == ["aa:bb:cc:00:11:22"]
    assert inv["interfaces"][0]["speed_mbps"] == 10000
    assert inv["boot"]["current_boot_mode"] == "uefi"
    assert inv["system_vendor"]["product_name"] == "PowerEdge R640"


def test_linux_manager_on_this_host() -> None:
    inv = GenericHardwareManager().get_inventory()
    assert inv["cpu"]["count"] >= 1 and inv["memory"]["total"] > 0
