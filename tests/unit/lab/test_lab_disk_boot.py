"""Booting a lab server from its disk: the partition table and config drive decide who it is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingot.configdrive import build_iso
from ingot.lab.diskboot import inspect_disk
from ingot.lab.runner import Lab, LabConfig
from ingot_agent.partition_table import append_partition, create_gpt

LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
NETWORK = {"links": [{"id": "bond0", "type": "bond"}, {"id": "vlan20", "type": "vlan"}]}


def write_deployed_disk(disk: Path, hostname: str, *, config_drive: bool = True) -> None:
    """What a deploy leaves: a GPT with a root partition and (optionally) a config-2 ISO."""
    size = disk.stat().st_size
    with open(disk, "r+b") as fh:
        create_gpt(fh, size, [("root", 4 * 1024 * 1024, LINUX_FS)])
        if config_drive:
            iso = build_iso(
                {"uuid": "u-42", "hostname": hostname, "public_keys": {"0": "ssh-ed25519 AAAA k"}},
                user_data=b"#cloud-config\nusers: [ops]\n",
                network_data=NETWORK,
            )
            _table, part = append_partition(fh, size, len(iso), "config-2")
            fh.seek(part.start * 512)
            fh.write(iso)


def wait_log(lab: Lab, text: str, timeout: float = 10.0) -> str:
    log = lab.servers[0].serial_log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {log}:\n{log.read_text()}")


def wait_state(lab: Lab, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        machine: dict[str, Any] = json.loads((lab.dir / "lab.json").read_text())["machines"][0]
        if check(machine):
            return machine
        time.sleep(0.05)
    raise AssertionError(f"lab.json never matched: {machine}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    # No boot server at all: a disk boot must not need one.
    with Lab(LabConfig(tmp_path / "lab", post_seconds=0, nodes=1, bmc="manual", disk_gb=0.05,
                       boot_url=None)) as running:  # fmt: skip
        running.servers[0].machine.set_boot_device("disk", persistent=True)
        yield running


def test_deployed_disk_boots_as_its_config_drive_host(lab: Lab) -> None:
    server = lab.servers[0]
    write_deployed_disk(server.disk_path, "web-1.example")
    server.machine.power("on")
    # The network line is the console's last for this boot; the others come before it.
    log = wait_log(lab, "network data:")
    assert "BOOTED-FROM-DISK hostname=web-1.example uuid=u-42" in log
    assert "authorized SSH key: ssh-ed25519 AAAA k" in log
    assert "network data: links bond0, vlan20" in log
    machine = wait_state(lab, lambda m: m["booted_hostname"] is not None)
    assert machine["booted_hostname"] == "web-1.example"
    assert machine["booted_uuid"] == "u-42"
    assert machine["booted_ssh_keys"] == ["ssh-ed25519 AAAA k"]
    assert machine["booted_disk"]["user_data_bytes"] == len(b"#cloud-config\nusers: [ops]\n")
    assert machine["last_boot"] == "disk" and machine["agent_pid"] is None


def test_blank_disk_is_no_bootable_device_and_stays_on(lab: Lab) -> None:
    server = lab.servers[0]
    server.machine.power("on")
    wait_log(lab, "No bootable device")
    assert server.machine.get_power() == "on"
    assert server.booted_hostname is None


def test_disk_without_config_drive_boots_unconfigured(lab: Lab) -> None:
    server = lab.servers[0]
    write_deployed_disk(server.disk_path, "unused", config_drive=False)
    server.machine.power("on")
    wait_log(lab, "without a config drive")
    assert server.booted_hostname is None


def test_reset_boots_again_and_one_time_pxe_reverts_to_disk(lab: Lab) -> None:
    server = lab.servers[0]
    write_deployed_disk(server.disk_path, "db-1")
    server.machine.set_boot_device("pxe", persistent=False)
    server.machine.power("on")  # no boot server: PXE finds nothing and falls to the disk
    wait_log(lab, "BOOTED-FROM-DISK hostname=db-1")
    assert server.machine.get_boot_device() == ("disk", True)
    server.machine.power("reset")
    wait_log(lab, "reset")
    deadline = time.monotonic() + 10
    while server.serial_log.read_text().count("BOOTED-FROM-DISK") < 2:
        assert time.monotonic() < deadline, "the reset did not boot the disk again"
        time.sleep(0.05)
    assert "boots from disk" in server.serial_log.read_text()


def test_power_off_during_post_boots_nothing(tmp_path: Path) -> None:
    config = LabConfig(tmp_path / "lab", nodes=1, bmc="manual", disk_gb=0.01, boot_url=None,
                       post_seconds=0.5)  # fmt: skip
    with Lab(config) as lab:
        server = lab.servers[0]
        server.machine.power("on")
        server.machine.power("off")
        time.sleep(0.8)
        assert "boots from" not in server.serial_log.read_text()
        server.machine.power("on")
        wait_log(lab, "boots from pxe")  # BMC-less servers netboot first


@pytest.mark.parametrize("content", [b"", b"\x55\xaa" * 10, b"EFI PART" + b"\xff" * 100])
def test_inspect_disk_without_a_table(tmp_path: Path, content: bytes) -> None:
    disk = tmp_path / "d.img"
    with open(disk, "wb") as fh:
        fh.write(content)
        fh.truncate(1024 * 1024)
    found = inspect_disk(disk)
    assert found.table is None and not found.bootable
    assert found.summary()["config_drive"] is False


def test_inspect_disk_reports_a_damaged_config_drive(tmp_path: Path) -> None:
    disk = tmp_path / "d.img"
    size = 16 * 1024 * 1024
    with open(disk, "w+b") as fh:
        fh.truncate(size)
        create_gpt(fh, size, [("root", 4 * 1024 * 1024, LINUX_FS)])
        _table, part = append_partition(fh, size, 1024 * 1024, "config-2")
        fh.seek(part.start * 512)
        fh.write(b"not an ISO" * 100)
    found = inspect_disk(disk)
    assert found.bootable and found.meta_data is None
    assert found.problems and "not readable" in found.problems[0]


def test_inspect_disk_finds_the_config_drive_of_an_mbr_disk_by_its_iso_label(
    tmp_path: Path,
) -> None:
    # MBR partitions have no names: cloud-init (and the lab) find config-2 by the ISO's label.
    disk = tmp_path / "d.img"
    size = 16 * 1024 * 1024
    mbr = bytearray(512)
    mbr[446:462] = (
        bytes([0x80, 0, 0, 0, 0x83, 0, 0, 0])
        + (2048).to_bytes(4, "little")
        + (4096).to_bytes(4, "little")
    )
    mbr[510:512] = b"\x55\xaa"
    iso = build_iso({"uuid": "u-7", "hostname": "mbr-1.example"})
    with open(disk, "w+b") as fh:
        fh.truncate(size)
        fh.write(mbr)
        _table, part = append_partition(fh, size, len(iso), "config-2")
        fh.seek(part.start * 512)
        fh.write(iso)
    found = inspect_disk(disk)
    assert (found.table, found.partitions, found.hostname) == ("msdos", 2, "mbr-1.example")
