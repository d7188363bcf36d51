"""A virtual server: a VirtualMachine with sparse disk files, NICs, a serial log and firmware.

Firmware behaviour on power on, by the (one-time or persistent) boot device:

* ``pxe``: network boot over real HTTP/TFTP from Ingot's boot server (:mod:`ingot.lab.firmware`),
  load the kernel and ramdisk the config names, and "boot" them: run the real ``ingot-agent``
  (``--hardware virtual``, this server's directory) with that kernel command line, one process
  per powered-on server. A local-boot config, or nothing to netboot, goes to the disk stage.
* ``disk``: read the partition table and config drive (:mod:`ingot.lab.diskboot`) and come up as
  the host it names (``BOOTED-FROM-DISK hostname=...``), or print ``No bootable device`` and
  stay on, as firmware does.

Power off (BMC, control endpoint, or the agent's ``standby.power_off``) stops the agent by PID:
SIGTERM to its process group, a bounded wait, then SIGKILL. An agent that exits by itself after
writing ``DIR/power`` (its callback could not reach the lab) powers the server off or reboots it.
Everything a console would show, including the agent's own output, goes to the serial log.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingot.lab.diskboot import DiskBoot, inspect_disk, read_config_drive
from ingot.lab.firmware import BootServer, NetBoot, parse_boot_config
from ingot.lab.machine import BootMode, PowerEvent, VirtualMachine
from ingot.lab.ports import free_port
from ingot.processes import stop_process_group

__all__ = [
    "GIB",
    "ServerSpec",
    "VirtualServer",
    "machine_state",
    "parse_boot_config",
    "read_config_drive",
]

LOG = logging.getLogger(__name__)
GIB = 1024**3
AGENT_STOP_TIMEOUT = 5.0
_KILL_TIMEOUT = 5.0


@dataclass
class ServerSpec:
    """What the server is made of; ``index`` makes serials and WWNs unique within a lab."""

    name: str
    macs: list[str]
    disk_bytes: int
    memory_mb: int
    cpus: int
    boot_mode: BootMode
    index: int = 0


@dataclass
class VirtualServer:
    """One lab server; ``on_change`` is called after anything lab.json shows changes.

    ``boot_url`` (HTTP boot server) and ``tftp`` (host, port) say where the firmware netboots
    from; ``api_url`` is given to the agent only when the kernel command line has no
    ``ipa-api-url`` (the boot config is what a real ramdisk would go by). ``post_seconds`` is
    the firmware's power-on self test: real servers take minutes, and a service that assumes
    the agent cannot call back within a second of power on is wrong, but that is a race to
    test on purpose, not in every demo.
    """

    spec: ServerSpec
    root: Path
    boot_url: str | None
    power_url: str
    on_change: Callable[[], None] = lambda: None
    tftp: tuple[str, int] | None = None
    api_url: str | None = None
    post_seconds: float = 0.0
    machine: VirtualMachine = field(init=False)
    agent: subprocess.Popen[bytes] | None = field(default=None, init=False)
    agent_port: int | None = field(default=None, init=False)
    booted_hostname: str | None = field(default=None, init=False)
    booted_uuid: str | None = field(default=None, init=False)
    booted_keys: list[str] = field(default_factory=list, init=False)
    booted_disk: dict[str, Any] | None = field(default=None, init=False)
    last_boot: str | None = field(default=None, init=False)
    netboot: dict[str, Any] | None = field(default=None, init=False)
    _generation: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.machine = VirtualMachine(name=self.spec.name, boot_mode=self.spec.boot_mode)
        disk = self.disk_path
        if not disk.exists():
            with open(disk, "wb") as fh:
                fh.truncate(self.spec.disk_bytes)  # sparse: nothing is allocated
        self.serial_log.touch()  # exists from the start, as a console does
        self.describe()
        self.machine.add_listener(self._on_power)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def disk_path(self) -> Path:
        return self.root / "vda.img"

    @property
    def serial_log(self) -> Path:
        return self.root / "serial.log"

    def describe(self) -> None:
        """machine.json: what the agent's virtual hardware manager reads."""
        spec = self.spec
        description = {
            "hostname": "localhost",
            "cpus": spec.cpus,
            "cpu_arch": "x86_64",
            "memory_mb": spec.memory_mb,
            "boot_mode": spec.boot_mode,
            "vendor": "Ingot Lab",
            "product": "Virtual Server",
            "serial": f"LAB-{spec.name}",
            "bmc_address": "127.0.0.1",
            "disks": [{"name": "/dev/vda", "file": self.disk_path.name, "size": spec.disk_bytes,
                       "serial": f"DISK-{spec.name}", "model": "LAB-VDISK", "rotational": False,
                       "wwn": f"0x5000c500{spec.index:08x}",
                       "by_path": f"/dev/disk/by-path/pci-0000:00:{4 + spec.index % 24:02x}.0"}],
            "nics": [{"name": f"eth{i}", "mac": mac, "speed_mbps": 1000}
                     for i, mac in enumerate(spec.macs)],
            "power_url": self.power_url,
        }  # fmt: skip
        tmp = self.root / "machine.json.tmp"
        tmp.write_text(json.dumps(description, indent=1))
        tmp.replace(self.root / "machine.json")

    def console(self, text: str) -> None:
        """One line on the serial console (the agent appends to the same file)."""
        stamp = time.strftime("%H:%M:%S")
        with open(self.serial_log, "a") as fh:
            fh.write(f"[{stamp}] {text}\n")

    # --- power ---------------------------------------------------------------------------

    def _on_power(self, _machine: VirtualMachine, event: PowerEvent) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
        if event in ("off", "reset"):
            self.stop_agent()
            self.console("power off" if event == "off" else "reset")
        if event in ("on", "reset"):
            # The BMC thread must answer quickly; the firmware runs on its own thread.
            threading.Thread(target=self._boot, args=(generation,), daemon=True,
                             name=f"firmware-{self.name}").start()  # fmt: skip
        self.on_change()

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def _boot(self, generation: int) -> None:
        deadline = time.monotonic() + self.post_seconds
        while time.monotonic() < deadline:
            if not self._current(generation):
                return  # powered off during POST
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if not self._current(generation):
            return
        device = self.machine.take_boot_device()  # a one-time device reverts to disk here
        self.console(f"power on: firmware ({self.machine.boot_mode}) boots from {device}")
        self.on_change()
        try:
            if device == "pxe":
                self._netboot(generation)
            elif device == "disk":
                self._disk_boot()
            else:
                self.console(f"{device}: nothing to boot in the lab; halted")
        except Exception as exc:  # firmware prints and halts; the node's timeout will notice
            self.console(f"boot failed: {exc}")
            LOG.warning("%s: boot failed: %s", self.name, exc)
        self.on_change()

    def close(self) -> None:
        """Stop the agent and start no new one (a boot in progress is abandoned); idempotent."""
        with self._lock:
            self._closed = True
            self._generation += 1
        self.stop_agent()

    def stop_agent(self) -> None:
        """Stop the agent process (group) by PID: SIGTERM, bounded wait, SIGKILL; idempotent."""
        with self._lock:
            proc, self.agent, self.agent_port = self.agent, None, None
        if proc is None:
            return
        stop_process_group(proc, AGENT_STOP_TIMEOUT, _KILL_TIMEOUT)
        self.console(f"agent pid {proc.pid} stopped (exit {proc.returncode})")

    # --- network boot ----------------------------------------------------------------------

    def _netboot(self, generation: int) -> None:
        netboot = NetBoot(BootServer(self.boot_url, self.tftp), self.console)
        plan = netboot.find_config(self.spec.macs, self.machine.boot_mode)
        if plan is None:
            self.console("PXE: nothing to boot from the network; trying the disk")
            self._disk_boot()
            return
        self.netboot = {
            "loader": plan.kind,
            "transport": plan.transport,
            "mac": plan.mac,
            "kernel": plan.kernel,
            "initrd": plan.initrd,
            "cmdline": plan.cmdline,
        }
        if plan.local:
            self._disk_boot()
            return
        netboot.load(plan)
        self.console(f"booting kernel with cmdline: {plan.cmdline}")
        with self._lock:
            if generation != self._generation or self._closed:
                return  # powered off (or reset, or the lab stopped) while loading
            self._start_agent(plan.cmdline, plan.mac)
        self.last_boot = "pxe"

    def _start_agent(self, cmdline: str, boot_mac: str) -> None:
        """Run ingot-agent for this server; called with ``_lock`` held."""
        port = free_port()
        argv = [str(Path(sys.executable).parent / "ingot-agent"), "--hardware", "virtual",
                "--root-dir", str(self.root), "--listen-host", "127.0.0.1", "--listen-port",
                str(port), "--boot-mac", boot_mac, "--cmdline", cmdline]  # fmt: skip
        if self.api_url and "ipa-api-url=" not in cmdline:
            argv += ["--api-url", self.api_url]
        (self.root / "power").unlink(missing_ok=True)
        with open(self.serial_log, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.agent, self.agent_port = proc, port
        self.console(f"agent pid {proc.pid} listening on 127.0.0.1:{port}")
        threading.Thread(target=self._watch_agent, args=(proc,), daemon=True,
                         name=f"agent-watch-{self.name}").start()  # fmt: skip

    def _watch_agent(self, proc: subprocess.Popen[bytes]) -> None:
        """When the agent exits by itself, do what it asked through ``DIR/power``."""
        code = proc.wait()  # ends when the agent ends; stop_agent() bounds that
        with self._lock:
            if self.agent is not proc:
                return  # stopped by us (power off or reset)
            self.agent, self.agent_port = None, None
        power_file = self.root / "power"
        action = power_file.read_text().strip() if power_file.exists() else ""
        self.console(
            f"agent exited with status {code}" + (f", asked for {action}" if action else "")
        )
        if action == "off":
            self.machine.power("off")
        elif action == "reboot":
            self.machine.power("reset")
        self.on_change()

    # --- disk boot -------------------------------------------------------------------------

    def _disk_boot(self) -> None:
        found = inspect_disk(self.disk_path)
        self.booted_disk = found.summary()
        if not found.bootable:
            self.console("No bootable device.")
            self.last_boot = "none"
            return
        self._record_disk(found)

    def _record_disk(self, found: DiskBoot) -> None:
        self.last_boot = "disk"
        for problem in found.problems:
            self.console(f"config drive: {problem}")
        if found.meta_data is None:
            self.console(f"Booted {found.table} disk without a config drive; host unconfigured.")
            return
        self.booted_hostname, self.booted_uuid = found.hostname, found.uuid
        self.booted_keys = found.public_keys
        self.console(f"BOOTED-FROM-DISK hostname={found.hostname} uuid={found.uuid}")
        for key in self.booted_keys:
            self.console(f"authorized SSH key: {key[:60]}")
        if found.user_data is not None:
            first = found.user_data.split(b"\n", 1)[0].decode("utf-8", "replace")
            self.console(f"user data: {len(found.user_data)} bytes, starting {first!r}")
        if found.network_data is not None:
            links = ", ".join(self.booted_disk["network_links"]) if self.booted_disk else ""
            self.console(f"network data: links {links or '(none)'}")

    def state(self) -> dict[str, Any]:
        """This server's entry in lab.json."""
        proc = self.agent
        return {
            **machine_state(self.spec, self.machine, self.disk_path, self.serial_log),
            "agent_pid": proc.pid if proc is not None and proc.poll() is None else None,
            "agent_port": self.agent_port,
            "last_boot": self.last_boot,
            "netboot": self.netboot,
            "booted_hostname": self.booted_hostname,
            "booted_uuid": self.booted_uuid,
            "booted_ssh_keys": self.booted_keys,
            "booted_disk": self.booted_disk,
        }


def machine_state(
    spec: ServerSpec, machine: VirtualMachine, disk: Path, serial_log: Path
) -> dict[str, Any]:
    """The lab.json fields every kind of lab server has (simulated or a QEMU VM)."""
    device, persistent = machine.get_boot_device()
    return {
        "name": spec.name,
        "uuid": machine.uuid,
        "macs": spec.macs,
        "power_state": machine.get_power(),
        "boot_device": device,
        "boot_persistent": persistent,
        "boot_mode": machine.boot_mode,
        "disks": [str(disk)],
        "serial_log": str(serial_log),
    }
