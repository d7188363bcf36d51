"""Lab servers network-boot over real HTTP/TFTP from files BootFiles wrote, into the real agent.

The only fake is Ingot's agent API (lookup + heartbeat) on 127.0.0.1; everything else is the
real boot servers, the real ``ingot-agent`` process and, for IPMI, pyghmi on both ends.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingot.drivers.ipmi.client import IpmiClient
from ingot.lab.runner import PASSWORD, USERNAME, Lab, LabConfig
from ingot.netboot import http, tftp
from ingot.netboot.bootfiles import BootFiles
from ingot.netboot.templates import AgentCmdline

NODE_UUID = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
TOKEN = "lab-test-token"


class FakeIngotApi:
    """Ingot's agent endpoints only: answers lookup for known MACs and records heartbeats."""

    def __init__(self, macs: set[str]) -> None:
        self.macs = macs
        self.lookups: list[str] = []
        self.heartbeats: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/":
                    self._json(200, {"default_version": {"version": "1.68"}})
                elif self.path.startswith("/v1/lookup"):
                    api.lookups.append(self.path)
                    if any(mac.replace(":", "%3A") in self.path for mac in api.macs):
                        node = {"uuid": NODE_UUID, "properties": {}, "instance_info": {}}
                        config = {"agent_token": TOKEN, "heartbeat_timeout": 60}
                        self._json(200, {"node": node, "config": config})
                    else:
                        self._json(404, {"error_message": "no node"})
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.heartbeats.append(json.loads(body or b"{}"))
                self._json(202, None)

            def _json(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); the lab reaps its agents, so treat "Z" as gone too.
    return " Z " not in Path(f"/proc/{pid}/stat").read_text()


@pytest.fixture
def boot_root(tmp_path: Path) -> Iterator[tuple[Path, str, tuple[str, int]]]:
    root = tmp_path / "boot"
    root.mkdir()
    web = http.start(http.Config(root=root, port=0))
    files = tftp.start(tftp.Config(root=root, port=0))
    try:
        yield root, web.url, ("127.0.0.1", files.port)
    finally:
        files.stop()
        web.stop()


@pytest.fixture
def lab_factory(
    tmp_path: Path, boot_root: tuple[Path, str, tuple[str, int]]
) -> Iterator[Callable[..., tuple[Lab, FakeIngotApi, BootFiles]]]:
    made: list[tuple[Lab, FakeIngotApi]] = []
    root, url, (host, port) = boot_root

    def make(
        bmc: str = "manual", boot: str = "uefi", post: float = 0
    ) -> tuple[Lab, FakeIngotApi, BootFiles]:
        config = LabConfig(tmp_path / "lab", post_seconds=post, nodes=1, bmc=bmc, boot=boot,  # type: ignore[arg-type]
                           disk_gb=0.01, boot_url=url, tftp=f"{host}:{port}")  # fmt: skip
        lab = Lab(config)
        api = FakeIngotApi(set(lab.servers[0].spec.macs[:1]))
        made.append((lab, api))
        lab.start()
        bootfiles = BootFiles(root, url)
        bootfiles.ensure_chain_files()
        (root / "agent.kernel").write_bytes(b"kernel stand-in")
        (root / "agent.ramdisk").write_bytes(b"ramdisk stand-in")
        return lab, api, bootfiles

    yield make
    for lab, api in made:
        lab.stop()
        api.stop()


def prepare(bootfiles: BootFiles, lab: Lab, api: FakeIngotApi, interface: str, mode: str) -> None:
    root = bootfiles.root_dir
    bootfiles.prepare_ramdisk(
        NODE_UUID, lab.servers[0].spec.macs[:1], mode,  # type: ignore[arg-type]
        root / "agent.kernel", root / "agent.ramdisk", AgentCmdline(api_url=api.url),
        interface=interface,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("interface", "mode", "loader", "transport"),
    [
        ("ipxe", "uefi", "ipxe", "http"),
        ("ipxe", "bios", "ipxe", "http"),
        ("pxe", "bios", "pxelinux", "tftp"),
        ("pxe", "uefi", "grub", "tftp"),
    ],
)
def test_pxe_boot_runs_the_agent_until_power_off(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
    interface: str,
    mode: str,
    loader: str,
    transport: str,
) -> None:
    lab, api, bootfiles = lab_factory(boot=mode)
    server = lab.servers[0]
    prepare(bootfiles, lab, api, interface, mode)
    server.machine.set_boot_device("pxe", persistent=False)
    server.machine.power("on")

    wait_for(lambda: api.heartbeats, "the agent's first heartbeat")
    assert api.heartbeats[0]["agent_token"] == TOKEN
    assert server.spec.macs[0].replace(":", "%3A") in api.lookups[0]
    state = json.loads((lab.dir / "lab.json").read_text())["machines"][0]
    pid = state["agent_pid"]
    assert pid and alive(pid)
    assert state["netboot"]["loader"] == loader and state["netboot"]["transport"] == transport
    assert f"ipa-api-url={api.url}" in state["netboot"]["cmdline"]
    assert state["boot_device"] == "disk", "a one-time PXE boot reverts to disk"
    log = server.serial_log.read_text()
    assert "booting kernel with cmdline: ipa-api-url=" in log
    assert f"{transport.upper()}: loaded" in log
    status = httpx.get(f"http://127.0.0.1:{state['agent_port']}/v1/status", timeout=5)
    assert status.status_code == 200

    server.machine.power("off")
    assert not alive(pid)
    state = wait_for(
        lambda: (
            (s := json.loads((lab.dir / "lab.json").read_text())["machines"][0])["agent_pid"]
            is None
            and s
        ),
        "lab.json to show the agent gone",
    )
    assert state["power_state"] == "off"


def test_agent_power_off_command_powers_the_server_off(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
) -> None:
    lab, api, bootfiles = lab_factory()
    server = lab.servers[0]
    prepare(bootfiles, lab, api, "ipxe", "uefi")
    server.machine.set_boot_device("pxe", persistent=True)
    server.machine.power("on")
    wait_for(lambda: api.heartbeats, "the agent's first heartbeat")
    callback = api.heartbeats[0]["callback_url"]
    answer = httpx.post(f"{callback}/v1/commands/", params={"agent_token": TOKEN},
                        json={"name": "standby.power_off", "params": {}}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    wait_for(lambda: server.machine.get_power() == "off", "the agent's power off")
    assert (server.root / "power").read_text().strip() == "off"
    wait_for(lambda: server.agent is None, "the agent process to be stopped")


def test_local_boot_config_goes_to_the_disk(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
) -> None:
    lab, _api, bootfiles = lab_factory(boot="bios")
    server = lab.servers[0]
    bootfiles.prepare_instance(NODE_UUID, server.spec.macs[:1], "bios", interface="pxe")
    server.machine.set_boot_device("pxe", persistent=True)
    server.machine.power("on")
    wait_for(lambda: "No bootable device" in server.serial_log.read_text(), "the disk stage")
    log = server.serial_log.read_text()
    assert "TFTP get pxelinux.cfg/01-" in log and "pxelinux: local boot requested" in log
    assert server.machine.get_power() == "on", "firmware with nothing to boot stays on"
    assert server.agent is None


def test_no_boot_config_for_the_mac_tries_the_disk(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
) -> None:
    lab, _api, _bootfiles = lab_factory()
    server = lab.servers[0]
    server.machine.set_boot_device("pxe", persistent=True)
    server.machine.power("on")
    wait_for(lambda: "No bootable device" in server.serial_log.read_text(), "the disk stage")
    assert "PXE-E53" in server.serial_log.read_text()


def test_ipmi_power_on_through_pyghmi_boots_the_agent(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
) -> None:
    lab, api, bootfiles = lab_factory(bmc="ipmi")
    prepare(bootfiles, lab, api, "ipxe", "uefi")
    inventory = json.loads((lab.dir / "inventory.json").read_text())["nodes"][0]
    client = IpmiClient(inventory["pm_addr"], inventory["pm_port"], USERNAME, PASSWORD)
    client.set_boot_device("pxe", persistent=False)
    client.set_power("on", 10)
    wait_for(lambda: api.heartbeats, "the agent's first heartbeat")
    client.set_power("off", 10)
    wait_for(lambda: lab.servers[0].agent is None, "the agent to be stopped")
    assert "boots from pxe" in lab.servers[0].serial_log.read_text()


def test_stopping_the_lab_during_post_starts_no_agent(
    lab_factory: Callable[..., tuple[Lab, FakeIngotApi, BootFiles]],
) -> None:
    lab, api, bootfiles = lab_factory(post=0.5)
    prepare(bootfiles, lab, api, "ipxe", "uefi")
    server = lab.servers[0]
    server.machine.set_boot_device("pxe", persistent=True)
    server.machine.power("on")
    lab.stop()
    time.sleep(0.8)
    assert server.agent is None and "agent pid" not in server.serial_log.read_text()
    assert not api.lookups
