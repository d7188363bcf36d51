"""The real path a physical server takes, on two QEMU VMs at once (one BIOS, one UEFI):
firmware PXE -> DHCP from dnsmasq -> iPXE -> HTTP kernel + ramdisk -> ingot-agent ->
inspection -> deploy of the test image with a config drive -> boot from disk ->
``INGOT-BOOTED hostname=<h>`` on the serial console -> undeploy with cleaning -> available,
partition table erased. Power and boot device go over IPMI.

The site is ``ingot lab up --vm`` (:class:`ingot.lab.runner.Lab` with ``vm=True``): a network
namespace with a bridge, a tap and a virtual IPMI BMC per VM, and dnsmasq; ``ingot serve`` runs
inside the namespace, bound to the bridge address, and nodes are created from the lab's
inventory.json. Root only; needs the deploy ramdisk built beforehand (``make test-vm`` does it):

    ingot ramdisk build -o /var/tmp/ingot-ramdisk && INGOT_VM_RAMDISK=/var/tmp/ingot-ramdisk
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingot.errors import ConfigError
from ingot.images.build_test import MARKER, TestImageSpec, build_test_image
from ingot.lab.qemu import vm_tier_missing
from ingot.lab.runner import Lab, LabConfig
from ingot.lab.vm_servers import VmServer, default_boot_url
from tests.e2e.conftest import VENV_BIN, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
API_PORT, BOOT_PORT = 6385, 8088
STEP_TIMEOUT = 600  # seconds for one PXE-booted step; two TCG VMs share the host's cores


@dataclass
class Site:
    lab: Lab
    api_url: str
    boot_url: str
    state: Path

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        # The API listens inside the lab's namespace: connect from a thread that lives there.
        url, headers = self.api_url + path, {"X-OpenStack-Ironic-API-Version": "latest"}
        assert self.lab.vm is not None
        return self.lab.vm.call(lambda: httpx.request(method, url, json=body, headers=headers))

    def provision(self, node: str, target: str, **extra: Any) -> None:
        r = self.request("PUT", f"/v1/nodes/{node}/states/provision", {"target": target, **extra})
        assert r.status_code == 202, r.text

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


def cannot_run(reason: str) -> None:
    """Skip, or fail under ``make test-vm`` (INGOT_VM_REQUIRED=1), where a skip would hide it."""
    if os.environ.get("INGOT_VM_REQUIRED"):
        pytest.fail(f"QEMU VM tier cannot run: {reason}")
    pytest.skip(f"QEMU VM tier: {reason}")


@pytest.fixture
def ramdisk_dir() -> Path:
    reason = vm_tier_missing()
    if reason:
        cannot_run(reason)
    value = os.environ.get("INGOT_VM_RAMDISK")
    if not value or not (Path(value) / "deploy_ramdisk").is_file():
        cannot_run("build the ramdisk (ingot ramdisk build -o DIR), set INGOT_VM_RAMDISK=DIR")
    return Path(str(value))


@pytest.fixture
def site(tmp_path: Path, ramdisk_dir: Path) -> Iterator[Site]:
    boot_url = default_boot_url(BOOT_PORT)
    lab = Lab(LabConfig(state_dir=tmp_path / "lab", nodes=2, boot="mixed", disk_gb=5,
                        memory_mb=1024, cpus=1, boot_url=boot_url, vm=True,
                        ramdisk=ramdisk_dir, netns=f"ingot-t{os.getpid() % 100000}"))  # fmt: skip
    assert lab.vm is not None
    stack: list[Callable[[], None]] = [lab.stop]
    log_path = tmp_path / "server.log"
    try:
        lab.start()
        bridge = lab.vm.netns.bridge_ip
        state = tmp_path / "state"
        env = dict(os.environ)
        env.update(
            INGOT_DEPLOY__HTTP_HOST=bridge,
            INGOT_DEPLOY__HTTP_PORT=str(BOOT_PORT),
            # The metadata erase is what the test checks; a whole-disk erase of 5 GiB under TCG
            # takes 2-3 minutes. (The setting does not reach the agent's clean step yet.)
            INGOT_DEPLOY__ERASE_DEVICES_PRIORITY="0",
            INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT=str(STEP_TIMEOUT),
            INGOT_CONDUCTOR__CLEAN_CALLBACK_TIMEOUT=str(STEP_TIMEOUT),
            INGOT_CONDUCTOR__INSPECT_WAIT_TIMEOUT=str(STEP_TIMEOUT),
        )
        with log_path.open("w") as log:
            serve = subprocess.Popen(
                [*lab.vm.netns.exec_prefix(), str(VENV_BIN / "ingot"), "serve", "--state-dir",
                 str(state), "--host", bridge, "--port", str(API_PORT), "--allow-open-api"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        stack.append(lambda: stop_process_group(serve))
        result = Site(lab, f"http://{bridge}:{API_PORT}", boot_url, state)
        wait_until(lambda: _answers(result), 30, "ingot serve")
        yield result
    finally:
        for undo in reversed(stack):
            undo()
        print(log_path.read_text()[-3000:] if log_path.exists() else "")


def _answers(site: Site) -> bool:
    try:
        return site.request("GET", "/").status_code == 200
    except httpx.HTTPError:
        return False


def create_node(site: Site, entry: dict[str, Any]) -> str:
    """A node from one inventory.json entry, as an importer maps instackenv fields."""
    r = site.request("POST", "/v1/nodes", {
        "name": entry["name"], "driver": entry["pm_type"], "boot_interface": "ipxe",
        "deploy_interface": "direct", "inspect_interface": "agent", "automated_clean": False,
        "driver_info": {
            "ipmi_address": entry["pm_addr"], "ipmi_port": entry["pm_port"],
            "ipmi_username": entry["pm_user"], "ipmi_password": entry["pm_password"],
            "deploy_kernel": entry["kernel_id"], "deploy_ramdisk": entry["ramdisk_id"],
        },
        "properties": {"capabilities": entry["capabilities"]},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    node: str = r.json()["uuid"]
    for mac in entry["mac"]:
        assert site.request("POST", "/v1/ports", {"node_uuid": node, "address": mac}).is_success
    return node


def first_sector(disk: Path, out: Path) -> bytes:
    # -U: QEMU may still hold the image open (a powered-on VM locks it).
    subprocess.run(["qemu-img", "dd", "-U", "-f", "qcow2", "-O", "raw", "bs=512", "count=1",
                    f"if={disk}", f"of={out}"], check=True, capture_output=True)  # fmt: skip
    return out.read_bytes()


def drive(site: Site, entry: dict[str, Any], image: dict[str, str], tmp: Path) -> dict[str, float]:
    """One server's whole life; returns how long each stage took."""
    vm = site.lab.server(entry["name"])
    assert isinstance(vm, VmServer)
    firmware = vm.spec.boot_mode
    timings: dict[str, float] = {}

    def lookups() -> int:
        # The agent logs this once its lookup succeeded; its first heartbeat follows at once.
        return vm.serial_log.read_text(errors="replace").count("found; heartbeat timeout")

    node = create_node(site, entry)
    site.provision(node, "manage")
    assert site.wait(node, {"manageable", "enroll"}, 60)["provision_state"] == "manageable"

    started = time.monotonic()
    site.provision(node, "inspect")
    body = site.wait(node, {"manageable", "inspect failed"}, STEP_TIMEOUT)
    assert body["provision_state"] == "manageable", body["last_error"]
    timings["inspect"] = time.monotonic() - started
    props = body["properties"]
    assert int(props["memory_mb"]) >= 900 and int(props["cpus"]) == 1, props
    assert int(props["local_gb"]) >= 4, props

    site.provision(node, "provide")
    assert site.wait(node, {"available"}, 60)["provision_state"] == "available"
    r = site.request("PATCH", f"/v1/nodes/{node}", [
        {"op": "add", "path": "/instance_info", "value": image},
    ])  # fmt: skip
    assert r.is_success, r.text

    hostname = f"vm-{firmware}-1"
    seen = lookups()
    started = time.monotonic()
    site.provision(node, "active", configdrive={"meta_data": {"hostname": hostname}})
    timings["PXE to agent lookup"] = wait_until(
        lambda: lookups() > seen, STEP_TIMEOUT, f"{entry['name']}'s agent lookup"
    )
    body = site.wait(node, {"active", "deploy failed"}, STEP_TIMEOUT)
    assert body["provision_state"] == "active", body["last_error"]
    timings["deploy"] = time.monotonic() - started
    marker = f"{MARKER} hostname={hostname}"
    timings["disk boot"] = wait_until(
        lambda: marker in vm.serial_log.read_text(errors="replace"), 300, repr(marker)
    )
    assert first_sector(vm.disk_path, tmp / f"{vm.name}.mbr")[510:] == b"\x55\xaa"
    wait_until(lambda: vm.state()["booted_hostname"] == hostname, 10, "lab.json's hostname")

    started = time.monotonic()
    r = site.request("PATCH", f"/v1/nodes/{node}", [
        {"op": "replace", "path": "/automated_clean", "value": True},
    ])  # fmt: skip
    assert r.is_success, r.text
    site.provision(node, "deleted")
    body = site.wait(node, {"available", "clean failed", "error"}, STEP_TIMEOUT)
    assert body["provision_state"] == "available", body["last_error"]
    timings["undeploy + clean"] = time.monotonic() - started
    assert first_sector(vm.disk_path, tmp / f"{vm.name}.mbr") == bytes(512)
    assert vm.qemu.boots[:1] == ["pxe"] and "disk" in vm.qemu.boots, vm.qemu.boots
    return timings


def test_bios_and_uefi_vms_inspect_deploy_boot_and_clean(site: Site, tmp_path: Path) -> None:
    started = time.monotonic()
    try:
        built = build_test_image(TestImageSpec(size_mb=64), site.state / "boot" / "test-image.raw",
                                 Path(os.environ.get("INGOT_VM_CACHE", "~/.cache/ingot/ramdisk"))
                                 .expanduser())  # fmt: skip
    except ConfigError as exc:
        cannot_run(f"test image: {exc.message}")
        raise
    print(f"test image built in {time.monotonic() - started:.1f} s")
    image = {"image_source": f"{site.boot_url}/test-image.raw", "image_checksum": built.sha256}
    inventory = json.loads((site.lab.dir / "inventory.json").read_text())["nodes"]
    assert [n["capabilities"] for n in inventory] == ["boot_mode:bios", "boot_mode:uefi"]
    lab_json = json.loads((site.lab.dir / "lab.json").read_text())
    assert all(Path(m["serial_log"]).is_file() for m in lab_json["machines"])

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {n["name"]: pool.submit(drive, site, n, image, tmp_path) for n in inventory}
        results: dict[str, dict[str, float] | BaseException] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BaseException as exc:  # report both servers before failing
                results[name] = exc
    for server in site.lab.servers:
        assert isinstance(server, VmServer)
        tail = server.serial_log.read_text(errors="replace")[-3000:]
        print(f"--- {server.name} ({server.spec.boot_mode}) serial log tail ---\n{tail}")
    for name, result in results.items():
        if isinstance(result, BaseException):
            raise result
        print(f"timings {name}: { {k: round(v, 1) for k, v in result.items()} }")
    print(f"total {time.monotonic() - started:.1f} s")
