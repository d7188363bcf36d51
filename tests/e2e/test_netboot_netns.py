"""Network boot end to end, as root, inside throwaway network namespaces (LAB.md section 3).

A real in-process conductor with ``[dhcp] dhcp_provider = dnsmasq`` starts dnsmasq (inside the
server namespace) through ``boot_servers``; ``provide`` takes two nodes (one ``ipxe``, one
``pxe``) into cleaning, whose boot interface writes their boot files and DHCP host entries.
From the client namespace, busybox ``udhcpc`` must then receive the next-server and the boot
file Ingot configured for each MAC (BIOS, UEFI via option 93 = 7, iPXE user class), and TFTP
and HTTP fetches of the per-MAC configs must carry the agent's kernel command line. After the
boot interface's clean-up, DHCP ignores both MACs; on exit dnsmasq is gone.

Topology (nothing in the root namespace)::

    <srv> br0 10.99.8.1/24 -- vsrv0 ~ vcli0 52:54:00:00:00:30  (ipxe node, 10.99.8.20)
                           -- vsrv1 ~ vcli1 52:54:00:00:00:31  (pxe node, BIOS, .21) <cli>
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingot.app_runtime import all_in_one
from ingot.conductor.task import load_task
from ingot.settings import load_settings

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(b) for b in ("ip", "dnsmasq", "busybox")),
    reason="needs root (network namespaces), ip, dnsmasq (dnsmasq-base) and busybox",
)

SERVER_IP = "10.99.8.1"
HTTP_PORT = 8088
BOOT_URL = f"http://{SERVER_IP}:{HTTP_PORT}"
IPXE_MAC, PXE_MAC = "52:54:00:00:00:30", "52:54:00:00:00:31"
LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}
PRINT = '#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip siaddr=$siaddr boot_file=$boot_file"\n'


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def in_ns(ns: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    srv, cli = f"ingot-nb-srv-{suffix}", f"ingot-nb-cli-{suffix}"
    try:
        for name in (srv, cli):
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", srv, "link", "add", "br0", "type", "bridge")
        ip(
            "-n",
            srv,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        )
        ip("-n", srv, "addr", "add", f"{SERVER_IP}/24", "dev", "br0")
        ip("-n", srv, "link", "set", "br0", "up")
        for index, mac in enumerate((IPXE_MAC, PXE_MAC)):
            ip("-n", srv, "link", "add", f"vsrv{index}", "type", "veth", "peer", f"vcli{index}")
            ip("-n", srv, "link", "set", f"vcli{index}", "netns", cli)
            ip("-n", srv, "link", "set", f"vsrv{index}", "master", "br0", "up")
            ip("-n", cli, "link", "set", f"vcli{index}", "address", mac, "up")
        # the client's own address for TFTP/HTTP fetches (DHCP answers are only printed)
        ip("-n", cli, "addr", "add", "10.99.8.50/24", "dev", "vcli0")
        yield srv, cli
    finally:
        for name in (cli, srv):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


@pytest.fixture
def http_in_srv(netns: tuple[str, str], tmp_path: Path) -> Iterator[Path]:
    """Ingot's HTTP boot server inside the server namespace (where nodes can reach it)."""
    srv, cli = netns
    boot = tmp_path / "state" / "boot"
    boot.mkdir(parents=True)
    code = (
        "import asyncio, sys; from pathlib import Path; from ingot.netboot import http; "
        "asyncio.run(http.serve(http.Config(root=Path(sys.argv[1]), host=sys.argv[2], "
        "port=int(sys.argv[3]))))"
    )
    with (tmp_path / "http.log").open("wb") as log:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", srv, sys.executable, "-c", code, str(boot), SERVER_IP,
             str(HTTP_PORT)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        # up once it answers at all (a 404 for a file that is not there yet)
        while "404" not in in_ns(cli, "busybox", "wget", "-O", "-", f"{BOOT_URL}/x").stderr:
            assert time.monotonic() < deadline, (tmp_path / "http.log").read_text()
            time.sleep(0.2)
        yield boot
    finally:
        proc.terminate()
        proc.wait(10)


def lease(cli: str, script: Path, nic: str, *extra: str, tries: int = 3) -> str:
    done = in_ns(
        cli, "busybox", "udhcpc", "-i", nic, "-f", "-q", "-n", "-t", str(tries), "-T", "1",
        "-s", str(script), *extra,
    )  # fmt: skip
    return done.stdout.strip()


def tftp_get(cli: str, name: str, out: Path) -> bytes:
    done = in_ns(cli, "busybox", "tftp", "-g", "-r", name, "-l", str(out), SERVER_IP)
    assert done.returncode == 0, f"TFTP {name}: {done.stderr}"
    return out.read_bytes()


def http_get(cli: str, path: str) -> bytes:
    done = subprocess.run(
        ["ip", "netns", "exec", cli, "busybox", "wget", "-q", "-O", "-", f"{BOOT_URL}/{path}"],
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, f"HTTP {path}: {done.stderr!r}"
    return done.stdout


def wait_state(c: TestClient, ident: str, wanted: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        node: dict[str, Any] = c.get(f"/v1/nodes/{ident}").json()
        if node["provision_state"] == wanted or time.monotonic() > deadline:
            assert node["provision_state"] == wanted, node["last_error"]
            return node
        time.sleep(0.1)


def enroll(c: TestClient, name: str, boot: str, mac: str, tmp: Path, **extra: Any) -> str:
    r = c.post("/v1/nodes", json={
        "driver": "fake-hardware", "name": name, "boot_interface": boot,
        "deploy_interface": "direct",
        "driver_info": {"deploy_kernel": str(tmp / "agent.kernel"),
                        "deploy_ramdisk": str(tmp / "agent.initramfs")},
        **extra,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    # Fixed addresses: dnsmasq pings a pool address before offering it, which outlasts
    # udhcpc's short retries here; a host entry's own address is offered at once.
    fixed = "10.99.8.20" if boot == "ipxe" else "10.99.8.21"
    port = {"node_uuid": r.json()["uuid"], "address": mac, "extra": {"fixed_ip": fixed}}
    assert c.post("/v1/ports", json=port).status_code == 201
    return str(r.json()["uuid"])


def test_dhcp_tftp_http_boot_in_netns(
    tmp_path: Path, netns: tuple[str, str], http_in_srv: Path
) -> None:
    srv, cli = netns
    script = tmp_path / "print.sh"
    script.write_text(PRINT)
    script.chmod(0o755)
    (tmp_path / "agent.kernel").write_bytes(b"KERNEL" * 1000)
    (tmp_path / "agent.initramfs").write_bytes(b"INITRD" * 1000)
    settings = load_settings(
        default={"state_dir": tmp_path / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
        deploy={"http_url": BOOT_URL, "http_port": 0},  # the namespace's server serves HTTP
        agent={"api_url": f"http://{SERVER_IP}:6385"},
        dhcp={
            "dhcp_provider": "dnsmasq", "interface": "br0", "netns": srv, "user": "root",
            "dhcp_range": ["10.99.8.100,10.99.8.150,255.255.255.0,10m"],
        },
    )  # fmt: skip
    with all_in_one(settings, with_boot_servers=True) as (_s, conductor, app):
        pid = int((tmp_path / "state" / "dnsmasq" / "dnsmasq.pid").read_text())
        with TestClient(app, headers=LATEST) as c:
            nodes = {
                "n-ipxe": enroll(c, "n-ipxe", "ipxe", IPXE_MAC, tmp_path),
                "n-pxe": enroll(
                    c, "n-pxe", "pxe", PXE_MAC, tmp_path,
                    properties={"capabilities": "boot_mode:bios"},
                ),
            }  # fmt: skip
            for name in nodes:  # manage, then provide: automated cleaning boots the ramdisk
                for verb, state in (("manage", "manageable"), ("provide", "clean wait")):
                    body = {"target": verb}
                    assert c.put(f"/v1/nodes/{name}/states/provision", json=body).status_code == 202
                    wait_state(c, name, state)

            # ipxe node: BIOS PXE ROM -> undionly.kpxe, UEFI -> ipxe.efi, iPXE -> the script
            bios = lease(cli, script, "vcli0")
            assert bios == f"ip=10.99.8.20 siaddr={SERVER_IP} boot_file=undionly.kpxe"
            assert lease(cli, script, "vcli0", "-x", "0x5d:0007").endswith("boot_file=ipxe.efi")
            ipxe = lease(cli, script, "vcli0", "-x", "0x4d:0469505845")
            assert ipxe.endswith(f"boot_file={BOOT_URL}/boot.ipxe")
            # pxe node (BIOS): pxelinux.0; its UEFI form would be GRUB
            assert (
                lease(cli, script, "vcli1")
                == f"ip=10.99.8.21 siaddr={SERVER_IP} boot_file=pxelinux.0"
            )
            assert lease(cli, script, "vcli1", "-x", "0x5d:0007").endswith("boot_file=grubx64.efi")

            # the files those boot files lead to, over TFTP (dnsmasq) and HTTP
            chain = http_get(cli, "boot.ipxe").decode()
            assert f"{BOOT_URL}/ipxe/" in chain
            undionly = Path("/usr/lib/ipxe/undionly.kpxe")  # Debian package ipxe
            if undionly.is_file():  # installed into the boot root by start_dnsmasq
                assert tftp_get(cli, "undionly.kpxe", tmp_path / "u") == undionly.read_bytes()
            name = "ipxe/52-54-00-00-00-30.ipxe"
            script_http = http_get(cli, name)
            assert tftp_get(cli, name, tmp_path / "s") == script_http
            text = script_http.decode()
            for word in (
                f"ipa-api-url=http://{SERVER_IP}:6385",
                "BOOTIF=01-52-54-00-00-00-30",
                "console=ttyS0",
                f"{BOOT_URL}/{nodes['n-ipxe']}/deploy_kernel",
            ):
                assert word in text
            assert http_get(cli, f"{nodes['n-ipxe']}/deploy_kernel") == b"KERNEL" * 1000

            pxelinux = tftp_get(cli, "pxelinux.cfg/01-52-54-00-00-00-31", tmp_path / "p").decode()
            assert "BOOTIF=01-52-54-00-00-00-31" in pxelinux
            assert f"kernel {nodes['n-pxe']}/deploy_kernel" in pxelinux
            staged = tftp_get(cli, f"{nodes['n-pxe']}/deploy_ramdisk", tmp_path / "r")
            assert staged == b"INITRD" * 1000

            # cleaning's end: the boot interface removes the files and DHCP ignores the MACs
            for ident in nodes.values():
                task = load_task(conductor, ident, lock=False)
                asyncio.run(task.boot.clean_up_ramdisk(task))
            assert lease(cli, script, "vcli0", tries=2) == ""
            assert lease(cli, script, "vcli1", tries=2) == ""
            assert in_ns(cli, "busybox", "tftp", "-g", "-r", name, "-l", "/dev/null",
                         SERVER_IP).returncode != 0  # fmt: skip
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # dnsmasq stopped by PID with the server
