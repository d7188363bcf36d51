"""The virtual lab: N servers, their BMCs (IPMI, Redfish or none), and its description files.

``DIR/inventory.json`` is an instackenv-style inventory ready for ``ingot import`` or
``baremetal create``-style tooling; ``DIR/lab.json`` is the lab's own live description
(rewritten atomically on every change; boot-device changes made through a BMC are picked up
within ``STATE_POLL`` seconds). A small HTTP control endpoint on loopback takes the agents'
power callbacks (``standby.power_off``) and, for BMC-less servers, the operator's button
presses (``ingot lab power NODE on``).

The lab netboots from Ingot's boot server: ``boot_url`` (HTTP: iPXE scripts, kernels) and
``tftp`` (``HOST:PORT``: pxelinux and GRUB configs); both on loopback.

``vm=True`` (root) makes the servers QEMU VMs on a bridge in a network namespace instead
(:mod:`ingot.lab.vm_servers`); their BMCs listen on that namespace's loopback, and Ingot runs
inside it. The description files keep the same shape.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, TypeVar

from ingot.errors import InvalidInput
from ingot.lab.firmware import parse_tftp
from ingot.lab.servers import GIB, ServerSpec, VirtualServer
from ingot.lab.vm_servers import DhcpMode, VmNetwork, VmServer, default_boot_url

T = TypeVar("T")
LOG = logging.getLogger(__name__)
BmcKind = Literal["ipmi", "redfish", "manual", "mixed"]
USERNAME = "admin"
PASSWORD = "password"  # a lab default, written to inventory.json as operators' files have it
BMC_KINDS = ("ipmi", "redfish", "manual", "mixed")
MAX_MEMORY_MB = 16 * 1024 * 1024  # 16 TiB: above it a size is surely a typo (KiB, bytes)
STATE_POLL = 0.5  # seconds between checks of state no listener reports (boot device)


@dataclass
class LabConfig:
    """What ``ingot lab up`` takes; ``api_url`` is only a fallback for boot configs without
    ``ipa-api-url``, ``tftp`` is ``HOST:PORT`` of the TFTP boot server (None: HTTP only)."""

    state_dir: Path
    nodes: int = 3
    bmc: BmcKind = "ipmi"
    boot: Literal["bios", "uefi", "mixed"] = "uefi"  # mixed: even servers BIOS, odd UEFI
    disk_gb: float = 1.0
    memory_mb: int | Sequence[int] = 2048  # MiB; a list is cycled: [2048, 4096] alternates
    cpus: int = 2
    nics: int = 2
    boot_url: str | None = "http://127.0.0.1:8088"
    api_url: str | None = None
    tftp: str | None = None
    post_seconds: float = 1.0  # firmware POST before booting; see VirtualServer
    vm: bool = False  # QEMU VMs in a network namespace (root); see ingot.lab.vm_servers
    ramdisk: Path | None = None  # vm: the dir of `ingot ramdisk build` (deploy_kernel/_ramdisk)
    netns: str = "ingot-lab"  # vm: the namespace's name
    dhcp: DhcpMode = "lab"  # vm: "lab" runs dnsmasq on the bridge, "ingot" leaves it to Ingot

    def memory_of(self, index: int) -> int:
        """Server ``index``'s memory: lets one lab hold small and large servers, so
        inspection rules and plans that select by memory have something to tell apart."""
        sizes = memory_sizes(self.memory_mb)
        return sizes[index % len(sizes)]


def memory_sizes(memory_mb: int | Sequence[int]) -> list[int]:
    """``memory_mb`` as a checked list of sizes; InvalidInput naming the bad value."""
    sizes = [memory_mb] if isinstance(memory_mb, int) else list(memory_mb)
    bad = [m for m in sizes if not _valid_memory(m)]
    if not sizes or bad:
        shown = ",".join(str(m) for m in sizes) or "(empty)"
        raise InvalidInput(f"--memory-mb {shown}: give MiB per server, a whole number from 1 to "
                           f"{MAX_MEMORY_MB}, or a list of them cycled over the servers "
                           "(e.g. 2048,4096).")  # fmt: skip
    return sizes


def _valid_memory(size: object) -> bool:
    return isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_MEMORY_MB


MAX_SERVERS = 1000


def mac_for(index: int, nic: int = 0) -> str:
    """The MAC of a lab server's NIC: QEMU's 52:54:00 prefix, the same in every run.

    The fourth byte carries the index's high bits (``1a`` for the first 256 servers), so the
    MACs of small labs read as they always did.
    """
    return f"52:54:00:{0x1A + (index >> 8):02x}:{nic:02x}:{index & 0xFF:02x}"


class Lab:
    """Start with :meth:`start`, stop with :meth:`stop` (both idempotent)."""

    def __init__(self, config: LabConfig) -> None:
        if not 1 <= config.nodes <= MAX_SERVERS:
            raise InvalidInput(f"--nodes {config.nodes}: a lab has 1 to {MAX_SERVERS} servers.")
        if config.bmc not in BMC_KINDS:
            raise InvalidInput(f"--bmc {config.bmc!r}: use {', '.join(BMC_KINDS)}.")
        if config.boot not in ("bios", "uefi", "mixed"):
            raise InvalidInput(f"--boot {config.boot!r}: use bios, uefi or mixed.")
        if config.disk_gb <= 0:
            raise InvalidInput(f"--disk-gb {config.disk_gb}: give a positive size.")
        if not 0 <= config.post_seconds <= 600:
            raise InvalidInput(f"--post-seconds {config.post_seconds}: give 0 to 600.")
        memory_sizes(config.memory_mb)  # raises InvalidInput on a bad size
        if config.vm and not (config.ramdisk and (config.ramdisk / "deploy_ramdisk").is_file()):
            raise InvalidInput("--vm needs --ramdisk DIR with deploy_kernel and deploy_ramdisk: "
                               "build them with `ingot ramdisk build -o DIR`.")  # fmt: skip
        self.config = config
        self.tftp = parse_tftp(config.tftp) if config.tftp else None
        self.dir = config.state_dir.resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._last_state: str | None = None
        self._stopping = threading.Event()
        self._started = False
        self.vm: VmNetwork | None = None
        if config.vm:
            url = config.boot_url or default_boot_url()
            self.vm = VmNetwork(config.netns, self.dir, url, config.dhcp)
        self._control = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.control_url = f"http://127.0.0.1:{self._control.server_address[1]}"
        self.servers: list[VirtualServer | VmServer] = [
            self._server(i) for i in range(config.nodes)
        ]
        self._bmc_servers: list[Any] = []
        self.bmc: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []

    def _server(self, index: int) -> VirtualServer | VmServer:
        c = self.config
        name = f"node-{index}"
        macs = [mac_for(index, nic) for nic in range(1 if self.vm else c.nics)]
        spec = ServerSpec(
            name=name,
            macs=macs,
            disk_bytes=int(c.disk_gb * GIB),
            memory_mb=c.memory_of(index),
            cpus=c.cpus,
            boot_mode=c.boot if c.boot != "mixed" else ("bios", "uefi")[index % 2],
            index=index,
        )
        if self.vm:
            return VmServer(spec, self.dir / name, self.vm, on_change=self.write_state)
        return VirtualServer(
            spec,
            self.dir / name,
            c.boot_url,
            f"{self.control_url}/power/{name}",
            on_change=self.write_state,
            tftp=self.tftp,
            api_url=c.api_url,
            post_seconds=c.post_seconds,
        )

    def _kind(self, index: int) -> str:
        if self.config.bmc == "mixed":
            # Every fourth server has no BMC, as in seed 000's fake_pxe racks.
            return ("ipmi", "redfish", "ipmi", "manual")[index % 4]
        return self.config.bmc

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        from ingot.lab.bmc.ipmi import start_ipmi_bmcs
        from ingot.lab.bmc.redfish import start_redfish

        if self.vm:
            self.vm.up([s for s in self.servers if isinstance(s, VmServer)])
        kinds = {s.name: self._kind(i) for i, s in enumerate(self.servers)}
        ipmi = [s for s in self.servers if kinds[s.name] == "ipmi"]
        redfish = [s for s in self.servers if kinds[s.name] == "redfish"]
        if ipmi:
            server = self._bind(
                lambda: start_ipmi_bmcs([(s.machine, 0) for s in ipmi], USERNAME, PASSWORD)
            )
            self._bmc_servers.append(server)
            for s in ipmi:
                self.bmc[s.name] = {"type": "ipmi", "address": "127.0.0.1",
                                    "port": server.port_of(s.machine)}  # fmt: skip
        if redfish:
            rf = self._bind(lambda: start_redfish([s.machine for s in redfish], 0, USERNAME,
                                                  PASSWORD))  # fmt: skip
            self._bmc_servers.append(rf)
            for s in redfish:
                self.bmc[s.name] = {"type": "redfish", "address": rf.url, "port": rf.port,
                                    "system_id": rf.system_path(s.machine)}  # fmt: skip
        for s in self.servers:
            if s.name not in self.bmc:
                # No BMC: like a real server set to network boot first in its firmware.
                self.bmc[s.name] = {"type": "manual"}
                s.machine.set_boot_device("pxe", persistent=True)
        self._started = True
        for target, name in ((self._control.serve_forever, "lab-control"),
                             (self._poll_state, "lab-state")):  # fmt: skip
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self._threads.append(thread)
        self._deploy_ramdisk()
        self.write_inventory()
        self.write_state()
        LOG.info("lab with %d servers up in %s", len(self.servers), self.dir)

    def stop(self) -> None:
        """Stop every agent (by PID), BMC and thread of the lab; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for s in self.servers:
            s.close()
        for bmc in self._bmc_servers:
            bmc.stop()
        self._bmc_servers.clear()
        if self._started:
            self._control.shutdown()  # blocks until serve_forever returns, so only if it runs
        self._control.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.vm:
            self.vm.down()
        self.write_state()

    def _bind(self, start: Callable[[], T]) -> T:
        """Start a BMC where Ingot reaches it: in the VM lab's namespace, else right here."""
        return self.vm.call(start) if self.vm else start()

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poll_state(self) -> None:
        # VirtualMachine reports power changes but not boot-device changes made over a BMC.
        while not self._stopping.wait(STATE_POLL):
            self.write_state()

    def _deploy_ramdisk(self) -> None:
        """The lab firmware runs the agent itself; these stand in for kernel and initramfs."""
        if self.vm:
            return  # real servers boot the real deploy ramdisk (config.ramdisk)
        images = self.dir / "images"
        images.mkdir(exist_ok=True)
        (images / "agent.kernel").write_bytes(b"ingot lab: the firmware runs ingot-agent\n")
        (images / "agent.initramfs").write_bytes(b"ingot lab: the firmware runs ingot-agent\n")

    # --- description files ---------------------------------------------------------------

    def write_inventory(self) -> None:
        nodes = []
        images = self.dir / "images"
        kernel, ramdisk = images / "agent.kernel", images / "agent.initramfs"
        if self.vm and self.config.ramdisk:
            kernel, ramdisk = (
                self.config.ramdisk / "deploy_kernel",
                self.config.ramdisk / ("deploy_ramdisk"),
            )
        for s in self.servers:
            bmc = self.bmc[s.name]
            entry: dict[str, Any] = {
                "name": s.name,
                "mac": s.spec.macs,
                "arch": "x86_64",
                "cpu": s.spec.cpus,
                "memory": s.spec.memory_mb,
                "disk": max(int(s.spec.disk_bytes / GIB), 1),
                "kernel_id": str(kernel),
                "ramdisk_id": str(ramdisk),
                "capabilities": f"boot_mode:{s.spec.boot_mode}",
            }
            if bmc["type"] == "ipmi":
                entry.update(pm_type="ipmi", pm_addr="127.0.0.1", pm_port=bmc["port"],
                             pm_user=USERNAME, pm_password=PASSWORD)  # fmt: skip
            elif bmc["type"] == "redfish":
                # pm_addr keeps its http:// scheme: without one, importers assume https.
                entry.update(pm_type="redfish", pm_addr=bmc["address"], pm_port=bmc["port"],
                             pm_user=USERNAME, pm_password=PASSWORD,
                             pm_system_id=bmc["system_id"])  # fmt: skip
            else:
                entry.update(pm_type="manual-management")
            nodes.append(entry)
        _write_json(self.dir / "inventory.json", {"nodes": nodes})

    def write_state(self) -> None:
        """Rewrite lab.json (atomically) if anything in it changed."""
        with self._write_lock:
            data = {
                "control_url": self.control_url,
                "boot_url": self.config.boot_url,
                "tftp": self.config.tftp,
                "api_url": self.config.api_url,
                "running": not self._stopping.is_set(),
                **({"vm": self.vm.describe()} if self.vm else {}),
                "machines": [{**s.state(), "bmc": self.bmc.get(s.name)} for s in self.servers],
            }
            text = json.dumps(data, indent=1)
            if text != self._last_state:
                _write_text(self.dir / "lab.json", text)
                self._last_state = text

    def server(self, name: str) -> VirtualServer | VmServer:
        for s in self.servers:
            if s.name == name:
                return s
        raise KeyError(f"no lab server named {name}")

    # --- control endpoint ------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        lab = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if len(parts) != 2 or parts[0] != "power":
                        raise KeyError(self.path)
                    action = {"off": "off", "on": "on", "reboot": "reset", "reset": "reset"}[
                        str(body.get("action"))
                    ]
                    machine = lab.server(parts[1]).machine
                    if action == "reset" and machine.get_power() == "off":
                        action = "on"
                    machine.power(action)  # type: ignore[arg-type]
                except (KeyError, ValueError) as exc:
                    self.send_error(404, f"unknown lab request: {exc}")
                    return
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                LOG.debug("lab control: " + format, *args)

        return Handler


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=1))


def _write_text(path: Path, text: str) -> None:
    # Readers (ingot lab status, tests) never see half a file: write aside, then rename.
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.{time.monotonic_ns()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
