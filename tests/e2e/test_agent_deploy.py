"""A direct deploy through the real ingot-agent: lookup, token, heartbeats, image streamed
to a file-backed disk, config drive partition, power off, active — and undeploy with cleaning.

The node is fake-hardware with the ipxe boot and direct deploy interfaces; the test plays
the firmware (it starts the agent when the conductor "powers on" the node), which the lab
does for real in the lab tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import VENV_BIN, Server, free_port, stop_process_group

MAC = "52:54:00:12:34:56"


def wait_for(server: Server, node: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = server.http.get(f"/v1/nodes/{node}").json()
        if body["provision_state"] in states and body["reservation"] is None:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{node}: wanted {states}, got {body.get('provision_state')}: "
                         f"{body.get('last_error')}")  # fmt: skip


def whole_disk_image(path: Path, size: int = 8 * 1024 * 1024) -> bytes:
    """A small whole-disk image: a GPT with one root partition holding random bytes."""
    from ingot_agent.partition_table import create_gpt

    linux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    with open(path, "w+b") as fh:
        fh.truncate(size)
        table = create_gpt(fh, size, [("root", 3 * 1024 * 1024, linux)])
        part = table.partitions[0]
        fh.seek(part.start * 512)
        fh.write(os.urandom(3 * 1024 * 1024))
    return path.read_bytes()


def kernel_cmdline(server: Server) -> str:
    """The agent's kernel command line, read from the node's iPXE script as firmware would."""
    script = (server.state_dir / "boot" / "ipxe" / f"{MAC.replace(':', '-')}.ipxe").read_text()
    line = next(line for line in script.splitlines() if line.startswith("kernel "))
    words = line.split("||")[0].split()[1:]
    return " ".join(w for w in words if "=" in w and not w.startswith("initrd="))


def start_agent(server: Server, root: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [str(VENV_BIN / "ingot-agent"), "--hardware", "virtual", "--root-dir", str(root),
           "--listen-host", "127.0.0.1", "--listen-port", str(free_port()),
           "--cmdline", kernel_cmdline(server), "--heartbeat-interval", "0.5"]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    stop_process_group(proc, timeout=10)


def test_direct_deploy_with_real_agent(server: Server, tmp_path: Path) -> None:
    image = tmp_path / "boot" / "image.raw"
    server_boot = server.state_dir / "boot"
    server_boot.mkdir(parents=True, exist_ok=True)
    payload = whole_disk_image(tmp_path / "build.raw")
    (server_boot / "image.raw").write_bytes(payload)
    for name in ("agent.kernel", "agent.initramfs"):
        (tmp_path / name).write_bytes(b"lab kernel")
    machine = tmp_path / "machine"
    machine.mkdir()
    (machine / "machine.json").write_text(json.dumps({
        "cpus": 4, "memory_mb": 8192, "boot_mode": "uefi",
        "disks": [{"name": "/dev/vda", "file": "vda.img", "size": 128 * 1024 * 1024}],
        "nics": [{"name": "eth0", "mac": MAC}],
    }))  # fmt: skip
    del image

    http = server.http
    r = http.post("/v1/nodes", json={
        "driver": "fake-hardware", "name": "d1", "boot_interface": "ipxe",
        "deploy_interface": "direct", "rescue_interface": "agent",
        "driver_info": {"deploy_kernel": str(tmp_path / "agent.kernel"),
                        "deploy_ramdisk": str(tmp_path / "agent.initramfs")},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    assert (
        http.post("/v1/ports", json={"node_uuid": r.json()["uuid"], "address": MAC}).status_code
        == 201
    )
    http.patch("/v1/nodes/d1", json=[
        {"op": "add", "path": "/automated_clean", "value": False},
        {"op": "add", "path": "/instance_info", "value": {
            "image_source": f"{server.boot_url}/image.raw",
            "image_checksum": hashlib.sha256(payload).hexdigest()}},
    ])  # fmt: skip
    assert http.put("/v1/nodes/d1/states/provision", json={"target": "manage"}).status_code == 202
    wait_for(server, "d1", {"manageable"})

    # Inspection: the agent posts its inventory to /v1/continue_inspection.
    http.patch(
        "/v1/nodes/d1", json=[{"op": "replace", "path": "/inspect_interface", "value": "agent"}]
    )
    assert http.put("/v1/nodes/d1/states/provision", json={"target": "inspect"}).status_code == 202
    wait_for(server, "d1", {"inspect wait", "inspect failed"}, 30)
    agent = start_agent(server, machine, tmp_path / "agent.log")
    try:
        node = wait_for(server, "d1", {"manageable", "inspect failed"}, 60)
        assert node["provision_state"] == "manageable", node["last_error"]
    finally:
        stop(agent)
    props = node["properties"]
    assert (props["cpus"], props["memory_mb"], props["cpu_arch"]) == (4, 8192, "x86_64")
    inventory = http.get("/v1/nodes/d1/inventory").json()["inventory"]
    assert inventory["interfaces"][0]["mac_address"] == MAC

    assert http.put("/v1/nodes/d1/states/provision", json={"target": "provide"}).status_code == 202
    wait_for(server, "d1", {"available"})

    r = http.put(
        "/v1/nodes/d1/states/provision",
        json={
            "target": "active",
            "configdrive": {"meta_data": {"hostname": "web-1"}, "user_data": "#cloud-config\n{}\n"},
        },
    )
    assert r.status_code == 202, r.text
    node = wait_for(server, "d1", {"wait call-back", "deploy failed"}, 30)
    assert node["provision_state"] == "wait call-back", node["last_error"]
    ipxe = (server_boot / "ipxe" / f"{MAC.replace(':', '-')}.ipxe").read_text()
    assert f"ipa-api-url={server.url}" in ipxe and "BOOTIF=01-52-54-00-12-34-56" in ipxe

    agent = start_agent(server, machine, tmp_path / "agent.log")
    try:
        node = wait_for(server, "d1", {"active", "deploy failed"}, 90)
        assert node["provision_state"] == "active", node["last_error"]
    finally:
        stop(agent)
    from ingot_agent.partition_table import read_partition_table

    with open(machine / "vda.img", "rb") as fh:
        table = read_partition_table(fh)
        assert table is not None
        drive = table.find("config-2")
        assert drive is not None, "config drive partition missing"
        fh.seek(table.partitions[0].start * 512)
        root = fh.read(3 * 1024 * 1024)
        fh.seek(drive.start * 512)
        iso = fh.read(drive.sectors * 512)
    start = table.partitions[0].start * 512
    assert root == payload[start : start + len(root)]
    assert b"web-1" in iso
    local_boot = (server_boot / "ipxe" / f"{MAC.replace(':', '-')}.ipxe").read_text()
    assert "deploy_kernel" not in local_boot
    history = [e["event"] for e in http.get("/v1/nodes/d1/history").json()["history"]]
    assert any("write_image" in e for e in history)
    # no secret leaks: the agent token is masked in the API
    assert http.get("/v1/nodes/d1").json()["driver_internal_info"].get("agent_secret_token") in (
        None,
        "******",
    )

    # Rescue: the agent ramdisk boots, receives the password (hashed) and stays as rescue system.
    r = http.put(
        "/v1/nodes/d1/states/provision", json={"target": "rescue", "rescue_password": "s3cret"}
    )
    assert r.status_code == 202, r.text
    wait_for(server, "d1", {"rescue wait", "rescue failed"}, 30)
    agent = start_agent(server, machine, tmp_path / "agent.log")
    try:
        node = wait_for(server, "d1", {"rescue", "rescue failed"}, 60)
        assert node["provision_state"] == "rescue", node["last_error"]
        stored = (machine / "rescue-password").read_text()
        assert stored.startswith("sha512:") and "s3cret" not in stored
    finally:
        stop(agent)
    assert http.put("/v1/nodes/d1/states/provision", json={"target": "unrescue"}).status_code == 202
    wait_for(server, "d1", {"active"}, 30)

    # Undeploy: tear down, then automated cleaning on the agent erases the disk.
    http.patch("/v1/nodes/d1", json=[{"op": "replace", "path": "/automated_clean", "value": True}])
    assert http.put("/v1/nodes/d1/states/provision", json={"target": "deleted"}).status_code == 202
    node = wait_for(server, "d1", {"clean wait", "clean failed"}, 30)
    assert node["provision_state"] == "clean wait", node["last_error"]
    agent = start_agent(server, machine, tmp_path / "agent.log")
    try:
        node = wait_for(server, "d1", {"available", "clean failed"}, 90)
        assert node["provision_state"] == "available", node["last_error"]
    finally:
        stop(agent)
    with open(machine / "vda.img", "rb") as fh:
        assert read_partition_table(fh) is None, "cleaning left the partition table"
    events = [e["event"] for e in http.get("/v1/nodes/d1/history").json()["history"]]
    assert any("erase_devices_metadata" in e and "erase_devices" in e for e in events)
