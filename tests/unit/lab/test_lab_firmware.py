"""The lab firmware's reading of boot configs (as BootFiles renders them) and of deployed disks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingot.configdrive import build_iso
from ingot.lab.runner import MAX_SERVERS, Lab, LabConfig, mac_for
from ingot.lab.servers import parse_boot_config, read_config_drive
from ingot.netboot import templates

MAC = "52:54:00:aa:bb:cc"
CMDLINE = "ipa-api-url=http://127.0.0.1:6385 BOOTIF=01-52-54-00-aa-bb-cc console=ttyS0"


@pytest.mark.parametrize("loader", ["ipxe", "pxelinux", "grub"])
def test_ramdisk_configs_give_kernel_initrd_and_cmdline(loader: templates.Loader) -> None:
    text = templates.render_ramdisk(loader, node_uuid="u1", mac=MAC, kernel="http://h/k",
                                    ramdisk="http://h/r", cmdline=CMDLINE)  # fmt: skip
    parsed = parse_boot_config(loader, text)
    assert parsed is not None
    kernel, initrd, cmdline = parsed
    assert kernel == "http://h/k" and initrd == "http://h/r"
    assert cmdline.split() == CMDLINE.split()


@pytest.mark.parametrize("loader", ["ipxe", "pxelinux", "grub"])
@pytest.mark.parametrize("mode", ["bios", "uefi"])
def test_local_boot_configs_mean_boot_the_disk(loader: templates.Loader, mode: str) -> None:
    text = templates.render_local_boot(loader, mode, node_uuid="u1", mac=MAC)  # type: ignore[arg-type]
    assert parse_boot_config(loader, text) is None


def test_disk_without_partition_table_does_not_boot(tmp_path: Path) -> None:
    disk = tmp_path / "vda.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    assert read_config_drive(disk) is None


def test_config_drive_partition_is_read(tmp_path: Path) -> None:
    from ingot_agent.partition_table import append_partition, create_gpt

    disk = tmp_path / "vda.img"
    size = 32 * 1024 * 1024
    iso = build_iso({"uuid": "u-1", "hostname": "web-1", "public_keys": {"0": "ssh-ed25519 AAA"}})
    with open(disk, "w+b") as fh:
        fh.truncate(size)
        create_gpt(fh, size, [("root", 4 * 1024 * 1024, "0FC63DAF-8483-4772-8E79-3D69D8477DE4")])
        _table, part = append_partition(fh, size, len(iso), "config-2")
        fh.seek(part.start * 512)
        fh.write(iso)
    meta = read_config_drive(disk)
    assert meta is not None and meta["hostname"] == "web-1"


def test_lab_writes_inventory_and_state(tmp_path: Path) -> None:
    lab = Lab(LabConfig(tmp_path / "lab", nodes=3, bmc="mixed", disk_gb=0.01))
    lab.start()
    try:
        inventory = json.loads((lab.dir / "inventory.json").read_text())
        kinds = [n["pm_type"] for n in inventory["nodes"]]
        assert kinds == ["ipmi", "redfish", "ipmi"]
        assert inventory["nodes"][0]["mac"] == [mac_for(0, 0), mac_for(0, 1)]
        assert inventory["nodes"][1]["pm_system_id"].startswith("/redfish/v1/Systems/")
        state = json.loads((lab.dir / "lab.json").read_text())
        assert [m["power_state"] for m in state["machines"]] == ["off"] * 3
        # disks are sparse: nothing allocated
        disk = Path(state["machines"][0]["disks"][0])
        assert disk.stat().st_size == int(0.01 * 1024**3) and disk.stat().st_blocks == 0
    finally:
        lab.stop()


def test_lab_macs_are_unique_up_to_the_largest_lab_and_stable_for_small_ones() -> None:
    macs = [mac_for(i, nic) for i in range(MAX_SERVERS) for nic in range(4)]
    assert len(set(macs)) == len(macs)
    assert (mac_for(3, 1), mac_for(255, 0), mac_for(256, 0)) == (
        "52:54:00:1a:01:03", "52:54:00:1a:00:ff", "52:54:00:1b:00:00",
    )  # fmt: skip
