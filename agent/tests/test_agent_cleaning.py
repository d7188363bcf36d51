"""Clean steps: erase_devices_metadata and erase_devices on file-backed disks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import MiB, make_agent, make_disk_image, run_command, write_machine
from ingot_agent.agent import Agent
from ingot_agent.erase import erase_device
from ingot_agent.hardware.base import BlockDevice
from ingot_agent.partition_table import read_partition_table


def fill(path: str, size: int) -> None:
    with open(path, "r+b") as fh:
        for _ in range(size // MiB):
            fh.write(b"\xab" * MiB)


@pytest.fixture
def small_agent(tmp_path: Path) -> Agent:
    root = write_machine(
        tmp_path / "m",
        disks=[{"name": "/dev/vda", "size": 8 * MiB}, {"name": "/dev/vdb", "size": 4 * MiB}],
    )
    agent = make_agent(root)
    yield agent  # type: ignore[misc]
    agent.stop()


def test_clean_steps_listed(small_agent: Agent) -> None:
    result = run_command(small_agent, "clean.get_clean_steps", {"node": {}, "ports": []})
    steps = result["command_result"]["clean_steps"]["GenericHardwareManager"]
    assert {s["step"]: s["priority"] for s in steps} == {
        "erase_devices": 10,
        "erase_devices_metadata": 99,
    }
    assert result["command_result"]["hardware_manager_version"] == {"virtual": "1.0"}


def test_erase_devices_metadata_wipes_tables(small_agent: Agent, tmp_path: Path) -> None:
    vda = small_agent.ctx.hardware.list_block_devices()[0].path
    image = make_disk_image(tmp_path / "img", size=8 * MiB)
    Path(vda).write_bytes(image)
    result = run_command(
        small_agent,
        "clean.execute_clean_step",
        {
            "step": {"step": "erase_devices_metadata", "priority": 99, "interface": "deploy"},
            "node": {},
            "ports": [],
        },
    )
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    assert result["command_result"]["clean_step"]["step"] == "erase_devices_metadata"
    with open(vda, "rb") as fh:
        assert read_partition_table(fh) is None
        fh.seek(-MiB, os.SEEK_END)
        assert fh.read() == bytes(MiB)  # backup GPT gone too
        fh.seek(2 * MiB)
        assert fh.read(MiB) == image[2 * MiB : 3 * MiB]  # data past the signatures is left


@pytest.mark.parametrize("method", ["discard", "zero", "shred"])
def test_erase_devices_methods(small_agent: Agent, method: str) -> None:
    for dev in small_agent.ctx.hardware.list_block_devices():
        fill(dev.path, dev.size)
    result = run_command(
        small_agent,
        "clean.execute_clean_step",
        {"step": {"step": "erase_devices", "args": {"method": method}}, "node": {}, "ports": []},
    )
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    assert len(result["command_result"]["clean_result"]) == 2
    for dev in small_agent.ctx.hardware.list_block_devices():
        data = Path(dev.path).read_bytes()
        assert len(data) == dev.size and data.count(0) == dev.size


def test_shred_without_zeroize_leaves_random(tmp_path: Path) -> None:
    path = tmp_path / "d"
    path.write_bytes(bytes(2 * MiB))
    dev = BlockDevice(name="/dev/x", size=2 * MiB, path=str(path))
    erase_device(dev, "shred", iterations=1, zeroize=False)
    assert path.read_bytes().count(0) < MiB // 100


def test_unknown_method_fails(small_agent: Agent) -> None:
    result = run_command(
        small_agent,
        "clean.execute_clean_step",
        {"step": {"step": "erase_devices", "args": {"method": "burn"}}, "node": {}, "ports": []},
    )
    assert result["command_status"] == "FAILED"
    assert "burn" in result["command_error"]["details"]
