"""Partition images, install_bootloader, system logs, and the CLI as a real process."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from conftest import MiB, http, make_disk_image, run_command
from ingot_agent.agent import Agent
from ingot_agent.partition_table import EFI_SYSTEM_GUID, LINUX_FS_GUID, create_gpt


def test_partition_image_then_bootloader_not_supported(
    agent: Agent, image_server: tuple[str, Path]
) -> None:
    url, www = image_server
    data = bytes(1024) + b"\x53\xef" + bytes(4 * MiB)  # not a real fs; bytes are what count
    (www / "root.img").write_bytes(data)
    info = {
        "id": "p",
        "urls": [url + "/root.img"],
        "os_hash_algo": "sha256",
        "os_hash_value": hashlib.sha256(data).hexdigest(),
        "image_type": "partition",
        "root_mb": 32,
        "swap_mb": 8,
        "disk_format": "raw",
    }
    result = run_command(agent, "standby.prepare_image", {"image_info": info})
    assert result["command_status"] == "SUCCEEDED", result["command_error"]
    parts = result["command_result"]["partition_table"]["partitions"]
    assert [(p["name"], p["size"]) for p in parts] == [("root", 32 * MiB), ("swap", 8 * MiB)]
    disk = agent.ctx.hardware.list_block_devices()[0].path
    with open(disk, "rb") as fh:
        fh.seek(parts[0]["offset"])
        assert fh.read(len(data)) == data
    uuids = run_command(agent, "standby.get_partition_uuids", {})["command_result"]
    assert uuids["partitions"] == {"root": "/dev/vda1", "swap": "/dev/vda2"}
    boot = run_command(
        agent,
        "image.install_bootloader",
        {"root_uuid": uuids["root uuid"], "target_boot_mode": "uefi"},
    )
    assert boot["command_status"] == "FAILED"
    assert "partition images is not supported" in boot["command_error"]["details"]


def write_whole_disk(agent: Agent, esp: bool) -> None:
    disk = agent.ctx.hardware.list_block_devices()[0].path
    layout = [("esp", 8 * MiB, EFI_SYSTEM_GUID)] if esp else []
    with open(disk, "r+b") as fh:
        create_gpt(fh, 256 * MiB, [*layout, ("root", 16 * MiB, LINUX_FS_GUID)])


def test_install_bootloader_whole_disk(agent: Agent) -> None:
    write_whole_disk(agent, esp=False)
    bios = run_command(agent, "image.install_bootloader", {"target_boot_mode": "bios"})
    assert bios["command_status"] == "SUCCEEDED"
    uefi = run_command(agent, "image.install_bootloader", {"target_boot_mode": "uefi"})
    assert uefi["command_status"] == "FAILED"
    assert "no EFI system partition" in uefi["command_error"]["details"]
    write_whole_disk(agent, esp=True)
    uefi = run_command(agent, "image.install_bootloader", {"target_boot_mode": "uefi"})
    assert uefi["command_status"] == "SUCCEEDED", uefi["command_error"]


def test_collect_system_logs(agent: Agent) -> None:
    run_command(agent, "standby.sync", {})
    result = run_command(agent, "log.collect_system_logs", {})
    blob = base64.b64decode(result["command_result"]["system_logs"])
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        names = tar.getnames()
        log = tar.extractfile("ingot-agent.log").read().decode()  # type: ignore[union-attr]
    assert {"ingot-agent.log", "inventory.json", "version"} <= set(names)
    assert "command sync" in log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_process_serves_and_powers_off(
    machine_dir: Path, image_server: tuple[str, Path]
) -> None:
    url, www = image_server
    data = make_disk_image(www / "disk.raw")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingot_agent.cli",
            "--cmdline",
            "BOOTIF=01-52-54-00-00-00-30",
            "--hardware",
            "virtual",
            "--root-dir",
            str(machine_dir),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--standalone",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if http("GET", base + "/v1/status")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        info = {
            "id": "i",
            "urls": [url + "/disk.raw"],
            "os_hash_algo": "sha256",
            "os_hash_value": hashlib.sha256(data).hexdigest(),
        }
        status, started = http(
            "POST",
            base + "/v1/commands/",
            {"name": "standby.prepare_image", "params": {"image_info": info}},
        )
        assert status == 200
        status, done = http("GET", base + f"/v1/commands/{started['id']}?wait=true")
        assert done["command_status"] == "SUCCEEDED", done["command_error"]
        http("POST", base + "/v1/commands/", {"name": "standby.power_off", "params": {}})
        assert proc.wait(timeout=10) == 0
        assert (machine_dir / "power").read_text().strip() == "off"
        inv = json.loads((machine_dir / "machine.json").read_text())
        assert inv["hostname"] == "node-0"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
