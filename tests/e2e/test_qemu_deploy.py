"""The real path a physical server takes, on a QEMU VM: firmware PXE -> DHCP from dnsmasq ->
iPXE -> HTTP kernel + ramdisk -> ingot-agent -> image on the VM's disk -> boot from disk ->
``INGOT-BOOTED hostname=<h>`` on the serial console. Power and boot device go over IPMI.

Root only: it creates a network namespace with a bridge, a tap, dnsmasq, ``ingot serve``
(bound to the bridge address) and a virtual IPMI BMC on the namespace's loopback. Needs the
deploy ramdisk built beforehand (about 2 minutes, cached):

    ingot ramdisk build -o /var/tmp/ingot-ramdisk && INGOT_VM_RAMDISK=/var/tmp/ingot-ramdisk
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyghmi.ipmi.private.session as ipmisession
import pytest

from ingot.errors import ConfigError
from ingot.images.build_test import MARKER, TestImageSpec, build_test_image
from ingot.lab.bmc.ipmi import IpmiBmcServer, start_ipmi_bmcs
from ingot.lab.machine import VirtualMachine
from ingot.lab.qemu import (
    Firmware,
    Netns,
    NetnsExecutor,
    QemuConfig,
    QemuServer,
    in_netns,
    vm_tier_missing,
)
from ingot.netboot.bootfiles import BootFiles
from ingot.netboot.dnsmasq import Config, DhcpRange, DnsmasqProcess
from tests.e2e.conftest import VENV_BIN, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
API_PORT, BOOT_PORT = 6385, 8088
MAC = "52:54:00:23:10:01"


@dataclass
class Lab:
    netns: Netns
    api: NetnsExecutor
    state: Path
    boot_url: str
    timings: dict[str, float] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        url = f"http://{self.netns.bridge_ip}:{API_PORT}{path}"
        headers = {"X-OpenStack-Ironic-API-Version": "latest"}
        return self.api.call(lambda: httpx.request(method, url, json=body, headers=headers))

    def wait(self, node: str, states: set[str], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.request("GET", f"/v1/nodes/{node}").json()
            if body["provision_state"] in states and body["reservation"] is None:
                return body
            time.sleep(1)
        raise AssertionError(f"{node}: wanted {states}, got {body.get('provision_state')}: "
                             f"{body.get('last_error')}")  # fmt: skip


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def ramdisk_dir() -> Path:
    reason = vm_tier_missing()
    if reason:
        pytest.skip(f"QEMU VM tier: {reason}")
    value = os.environ.get("INGOT_VM_RAMDISK")
    if not value or not (Path(value) / "deploy_ramdisk").is_file():
        pytest.skip("QEMU VM tier: build the ramdisk (ingot ramdisk build -o DIR) and set "
                    "INGOT_VM_RAMDISK=DIR")  # fmt: skip
    return Path(value)


@pytest.fixture
def lab(tmp_path: Path, ramdisk_dir: Path) -> Iterator[Lab]:
    netns = Netns(f"ingot-t{os.getpid() % 100000}").create()
    stack: list[Callable[[], None]] = [netns.delete]
    try:
        netns.add_tap("tap0")
        state = tmp_path / "state"
        boot_root = state / "boot"
        boot_root.mkdir(parents=True)
        boot_url = f"http://{netns.bridge_ip}:{BOOT_PORT}"
        BootFiles(boot_root, boot_url).ensure_chain_files()
        dnsmasq = DnsmasqProcess(
            Config(state_dir=tmp_path / "dnsmasq", interface="br0", server_ip=netns.bridge_ip,
                   http_url=boot_url, ra_prefix=netns.ula, user="root",
                   dhcp_ranges=(DhcpRange(f"{netns.prefix}.100", f"{netns.prefix}.200"),)),
            netns=netns.name,
        )  # fmt: skip
        hosts = dnsmasq.start()
        stack.append(dnsmasq.stop)
        hosts.allow(MAC, "vm0")
        env = dict(os.environ)
        env.update(
            INGOT_DEPLOY__HTTP_HOST=netns.bridge_ip,
            INGOT_DEPLOY__HTTP_PORT=str(BOOT_PORT),
            INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT="600",
        )
        log = (tmp_path / "server.log").open("w")
        serve = subprocess.Popen(
            [*netns.exec_prefix(), str(VENV_BIN / "ingot"), "serve", "--state-dir", str(state),
             "--host", netns.bridge_ip, "--port", str(API_PORT), "--allow-open-api"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        stack.append(lambda: stop_process_group(serve))
        api = NetnsExecutor(netns.name)
        stack.append(api.close)
        result = Lab(netns, api, state, boot_url)
        wait_until(lambda: _answers(result), 30, "ingot serve")
        yield result
    finally:
        for undo in reversed(stack):
            undo()
        print((tmp_path / "server.log").read_text()[-3000:] if (tmp_path / "server.log").exists()
              else "")  # fmt: skip


def _start_bmc(machine: VirtualMachine) -> IpmiBmcServer:
    # pyghmi wakes its I/O thread through iosockets[0]. With no pyghmi client in this process
    # (ingot serve is the client), the first BMC's socket is iosockets[0]; stopping that BMC
    # removes it and leaves the I/O thread asleep in select(), so a later BMC never answers.
    # A client socket created first stays as the wake-up socket for the whole process.
    if not ipmisession.iosockets:
        ipmisession.Session._assignsocket()
    return start_ipmi_bmcs([(machine, 0)], "admin", "password")


def _answers(lab: Lab) -> bool:
    try:
        return lab.request("GET", "/").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_ipmi_ipxe_direct_deploy_on_a_vm(
    lab: Lab, tmp_path: Path, ramdisk_dir: Path, firmware: Firmware
) -> None:
    started = time.monotonic()
    image = lab.state / "boot" / "test-image.raw"
    try:
        built = build_test_image(TestImageSpec(size_mb=64), image,
                                 Path(os.environ.get("INGOT_VM_CACHE", "~/.cache/ingot/ramdisk"))
                                 .expanduser())  # fmt: skip
    except ConfigError as exc:
        pytest.skip(f"test image: {exc.message}")
    lab.timings["test image"] = time.monotonic() - started

    machine = VirtualMachine("vm0", boot_mode=firmware)
    disk = tmp_path / "vm0.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "5G"], check=True)
    server = QemuServer(machine, QemuConfig(name="vm0", netns=lab.netns.name, tap="tap0",
                                            mac=MAC, disk=disk, firmware=firmware,
                                            serial_log=tmp_path / "vm0.serial.log"))  # fmt: skip
    bmcs: IpmiBmcServer = in_netns(lab.netns.name, lambda: _start_bmc(machine))
    try:
        r = lab.request("POST", "/v1/nodes", {
            "driver": "ipmi", "name": "vm0", "boot_interface": "ipxe",
            "deploy_interface": "direct",
            "driver_info": {
                "ipmi_address": "127.0.0.1", "ipmi_port": bmcs.port_of(machine),
                "ipmi_username": "admin", "ipmi_password": "password",
                "deploy_kernel": str(ramdisk_dir / "deploy_kernel"),
                "deploy_ramdisk": str(ramdisk_dir / "deploy_ramdisk"),
            },
            "properties": {"capabilities": f"boot_mode:{firmware}"},
        })  # fmt: skip
        assert r.status_code == 201, r.text
        node = r.json()["uuid"]
        assert lab.request("POST", "/v1/ports", {"node_uuid": node, "address": MAC}).is_success
        lab.request("PATCH", f"/v1/nodes/{node}", [
            {"op": "add", "path": "/automated_clean", "value": False},
            {"op": "add", "path": "/instance_info", "value": {
                "image_source": f"{lab.boot_url}/test-image.raw",
                "image_checksum": built.sha256}},
        ])  # fmt: skip
        for verb, target in (("manage", "manageable"), ("provide", "available")):
            assert lab.request("PUT", f"/v1/nodes/{node}/states/provision", {"target": verb})
            body = lab.wait(node, {target, "enroll", "clean failed"}, 60)
            assert body["provision_state"] == target, body["last_error"]

        started = time.monotonic()
        deploy = {
            "target": "active",
            "configdrive": {"meta_data": {"hostname": f"vm-{firmware}-1"}},
        }
        r = lab.request("PUT", f"/v1/nodes/{node}/states/provision", deploy)
        assert r.status_code == 202, r.text
        # The agent logs "node <uuid> found" once its lookup succeeded; it heartbeats right after.
        lab.timings["PXE to agent lookup"] = wait_until(
            lambda: f"node {node} found" in server.serial_text(), 400, "the agent's lookup"
        )
        body = lab.wait(node, {"active", "deploy failed"}, 600)
        assert body["provision_state"] == "active", body["last_error"]
        lab.timings["deploy"] = time.monotonic() - started
        marker = f"{MARKER} hostname=vm-{firmware}-1"
        lab.timings["disk boot"] = wait_until(
            lambda: marker in server.serial_text(), 180, f"{marker!r} on the serial console"
        )
        assert server.boots[0] == "pxe" and server.boots[-1] == "disk", server.boots
    finally:
        print(f"timings {firmware}: { {k: round(v, 1) for k, v in lab.timings.items()} }")
        print(server.serial_text()[-4000:])
        server.stop()
        bmcs.stop()
