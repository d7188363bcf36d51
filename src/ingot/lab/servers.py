"""A virtual server: a VirtualMachine with sparse disk files, NICs, a serial log and firmware.

Firmware behaviour on power on, by the (one-time or persistent) boot device:

* ``pxe``: fetch the boot config for the first NIC's MAC from the boot server over real HTTP
  (iPXE script, else pxelinux, else GRUB config — the layouts ``BootFiles`` writes), fetch the
  kernel and ramdisk it names, and "boot" them: run the real ``ingot-agent`` with that kernel
  command line and this machine's description. A local-boot config goes to the disk stage.
* ``disk``: read the partition table and the config drive (``config-2``) from the disk and come
  up as the host it names (``BOOTED-FROM-DISK hostname=...`` on the serial log).

Power off stops the agent by PID. Everything a real console would show goes to the serial log.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ingot.lab.machine import PowerEvent, VirtualMachine

LOG = logging.getLogger(__name__)
GIB = 1024**3
_AGENT_STOP_TIMEOUT = 5.0


@dataclass
class ServerSpec:
    name: str
    macs: list[str]
    disk_bytes: int
    memory_mb: int
    cpus: int
    boot_mode: str


@dataclass
class VirtualServer:
    """One lab server; ``on_change`` is called after anything lab.json shows changes."""

    spec: ServerSpec
    root: Path
    boot_url: str
    power_url: str
    on_change: Callable[[], None] = lambda: None
    machine: VirtualMachine = field(init=False)
    agent: subprocess.Popen[bytes] | None = field(default=None, init=False)
    agent_port: int | None = field(default=None, init=False)
    booted_hostname: str | None = field(default=None, init=False)
    booted_uuid: str | None = field(default=None, init=False)
    booted_keys: list[str] = field(default_factory=list, init=False)
    last_boot: str | None = field(default=None, init=False)
    _generation: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.machine = VirtualMachine(name=self.spec.name, boot_mode=self.spec.boot_mode)  # type: ignore[arg-type]
        disk = self.disk_path
        if not disk.exists():
            with open(disk, "wb") as fh:
                fh.truncate(self.spec.disk_bytes)  # sparse: nothing is allocated
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
                       "serial": f"DISK-{spec.name}", "model": "LAB-VDISK", "rotational": False}],
            "nics": [{"name": f"eth{i}", "mac": mac, "speed_mbps": 1000}
                     for i, mac in enumerate(spec.macs)],
            "power_url": self.power_url,
        }  # fmt: skip
        tmp = self.root / "machine.json.tmp"
        tmp.write_text(json.dumps(description, indent=1))
        tmp.replace(self.root / "machine.json")

    def console(self, text: str) -> None:
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
            threading.Thread(target=self._boot, args=(generation,), daemon=True,
                             name=f"firmware-{self.name}").start()  # fmt: skip
        self.on_change()

    def _boot(self, generation: int) -> None:
        device = self.machine.take_boot_device()
        self.console(f"power on: firmware ({self.machine.boot_mode}) boots from {device}")
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

    def stop_agent(self) -> None:
        with self._lock:
            proc, self.agent, self.agent_port = self.agent, None, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(_AGENT_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass

    # --- network boot ----------------------------------------------------------------------

    def _netboot(self, generation: int) -> None:
        mac = self.spec.macs[0]
        self.console(f"PXE: DHCP on {mac}; iPXE asks the boot server {self.boot_url}")
        config = self._fetch_boot_config(mac)
        if config is None:
            self.console("PXE: no boot configuration for this MAC; trying the disk")
            self._disk_boot()
            return
        kind, text = config
        parsed = parse_boot_config(kind, text)
        if parsed is None:
            self.console(f"{kind}: local boot requested")
            self._disk_boot()
            return
        kernel, initrd, cmdline = parsed
        for url in (kernel, initrd):
            if url:
                self._fetch(url)
        self.console(f"booting kernel with: {cmdline}")
        with self._lock:
            if generation != self._generation:
                return  # powered off meanwhile
            self._start_agent(cmdline)
        self.last_boot = "pxe"

    def _fetch_boot_config(self, mac: str) -> tuple[str, str] | None:
        dashed = mac.lower().replace(":", "-")
        candidates = [
            ("ipxe", f"ipxe/{dashed}.ipxe"),
            ("pxelinux", f"pxelinux.cfg/01-{dashed}"),
            ("grub", f"grub/grub.cfg-01-{dashed}"),
        ]
        for kind, path in candidates:
            response = httpx.get(f"{self.boot_url}/{path}", timeout=10)
            if response.status_code == 200:
                self.console(f"{kind}: fetched {path} over HTTP")
                return kind, response.text
        return None

    def _fetch(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            url = f"{self.boot_url}/{url.lstrip('/')}"
        response = httpx.get(url, timeout=30)
        response.raise_for_status()
        self.console(f"loaded {url} ({len(response.content)} bytes)")

    def _start_agent(self, cmdline: str) -> None:
        from ingot.lab.ports import free_port

        port = free_port()
        argv = [str(Path(sys.executable).parent / "ingot-agent"), "--hardware", "virtual",
                "--root-dir", str(self.root), "--listen-host", "127.0.0.1",
                "--listen-port", str(port), "--cmdline", cmdline]  # fmt: skip
        log = open(self.serial_log, "ab")  # noqa: SIM115 - the agent writes it while it runs
        try:
            self.agent = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)  # fmt: skip
        finally:
            log.close()
        self.agent_port = port

    # --- disk boot -------------------------------------------------------------------------

    def _disk_boot(self) -> None:
        found = read_config_drive(self.disk_path)
        if found is None:
            self.console("No bootable device.")
            self.last_boot = "none"
            return
        if not found:
            self.console("Disk has a partition table but no config drive; booted unconfigured.")
            self.last_boot = "disk"
            return
        self.booted_hostname = found.get("hostname")
        self.booted_uuid = found.get("uuid")
        keys = found.get("public_keys") or {}
        self.booted_keys = list(keys.values()) if isinstance(keys, dict) else list(keys)
        self.last_boot = "disk"
        self.console(f"BOOTED-FROM-DISK hostname={self.booted_hostname} uuid={self.booted_uuid}")
        for key in self.booted_keys:
            self.console(f"authorized SSH key: {str(key)[:60]}")

    def state(self) -> dict[str, Any]:
        device, persistent = self.machine.get_boot_device()
        proc = self.agent
        return {
            "name": self.name,
            "macs": self.spec.macs,
            "power_state": self.machine.get_power(),
            "boot_device": device,
            "boot_persistent": persistent,
            "boot_mode": self.machine.boot_mode,
            "disks": [str(self.disk_path)],
            "serial_log": str(self.serial_log),
            "agent_pid": proc.pid if proc is not None and proc.poll() is None else None,
            "agent_port": self.agent_port,
            "last_boot": self.last_boot,
            "booted_hostname": self.booted_hostname,
            "booted_uuid": self.booted_uuid,
            "booted_ssh_keys": self.booted_keys,
        }


def parse_boot_config(kind: str, text: str) -> tuple[str | None, str | None, str] | None:
    """(kernel URL, initrd URL, kernel command line) from a boot config; None = local boot."""
    kernel = initrd = None
    cmdline: list[str] = []
    for raw in text.splitlines():
        line = raw.split("||")[0].strip()
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        head = words[0].lower()
        if kernel is None and head in ("sanboot", "exit", "localboot", "chainloader"):
            return None  # a local-boot config: boot the disk
        if kind == "ipxe" and head == "kernel":
            rest = _drop_name(words[1:])
            kernel, cmdline = rest[0], [w for w in rest[1:] if not w.startswith("initrd=")]
        elif kind == "ipxe" and head == "initrd":
            initrd = _drop_name(words[1:])[0]
        elif kind == "pxelinux" and head == "kernel":
            kernel = words[1]
        elif kind == "pxelinux" and head == "append":
            for w in words[1:]:
                if w.startswith("initrd="):
                    initrd = w.split("=", 1)[1]
                else:
                    cmdline.append(w)
        elif kind == "grub" and head in ("linux", "linuxefi"):
            kernel, cmdline = words[1], words[2:]
        elif kind == "grub" and head in ("initrd", "initrdefi"):
            initrd = words[1]
    if kernel is None:
        return None
    return kernel, initrd, " ".join(cmdline)


def _drop_name(words: list[str]) -> list[str]:
    """iPXE's ``--name X`` option comes before the URL."""
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word == "--name":
            skip = True
            continue
        if word.startswith("--"):
            continue
        out.append(word)
    return out


def read_config_drive(disk: Path) -> dict[str, Any] | None:
    """meta_data.json of the disk's config-2 partition; None when the disk cannot boot."""
    import pycdlib

    from ingot_agent.partition_table import read_partition_table

    with open(disk, "rb") as fh:
        table = read_partition_table(fh)
        if table is None:
            return None
        part = table.find("config-2")
        if part is None:
            return {}
        fh.seek(part.offset(table.sector))
        image = fh.read(part.size(table.sector))
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/openstack/latest/meta_data.json")
        data: dict[str, Any] = json.loads(out.getvalue())
        return data
    finally:
        iso.close()
