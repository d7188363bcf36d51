"""Lab servers that are real QEMU VMs: ``ingot lab up --vm`` (root only).

:class:`VmNetwork` is the lab's private network: a namespace with bridge ``br0``, one tap per
VM, and (``dhcp="lab"``) dnsmasq on the bridge answering the lab's MACs with Ingot's iPXE
script, or (``dhcp="ingot"``) no DHCP server of its own, for an ``ingot serve`` whose
``[dhcp] dhcp_provider = dnsmasq`` runs it on ``br0``. Ingot runs inside the namespace
(``ip netns exec NETNS ingot serve --host BRIDGE_IP``): the VMs reach its boot server and API
on the bridge address, and it reaches the agents on port 9999 and the BMCs, which listen on the
namespace's loopback. Nothing is attached to the root namespace.

:class:`VmServer` gives :class:`ingot.lab.runner.Lab` what it uses of a simulated
:class:`ingot.lab.servers.VirtualServer` (``name``, ``spec``, ``machine``, ``state()``,
``close()``), with a QEMU body (:class:`ingot.lab.qemu.QemuServer`): its BMC starts, stops and
re-boots the VM from the boot device it was given.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from ingot.errors import ConfigError, InvalidInput
from ingot.lab.machine import PowerEvent, VirtualMachine
from ingot.lab.qemu import Netns, NetnsExecutor, QemuConfig, QemuServer, vm_tier_missing
from ingot.lab.servers import ServerSpec, machine_state
from ingot.netboot.dnsmasq import Config, DhcpRange, DnsmasqProcess

T = TypeVar("T")
DhcpMode = Literal["lab", "ingot"]
DHCP_MODES = ("lab", "ingot")
PREFIX = "10.231.0"  # the bridge is .1, VM i gets .(10 + i); only inside the namespace
ULA = "fd99:231::"
BOOTED = re.compile(rb"INGOT-BOOTED hostname=(\S+)")  # the test image's first-boot marker


def default_boot_url(port: int = 8088) -> str:
    """Where VMs find Ingot's HTTP boot server: the bridge address inside the namespace."""
    return f"http://{PREFIX}.1:{port}"


class VmNetwork:
    """The namespace, bridge, taps and lab dnsmasq of a VM lab; :meth:`up` then :meth:`down`."""

    def __init__(self, netns: str, state_dir: Path, boot_url: str, dhcp: DhcpMode) -> None:
        missing = vm_tier_missing()
        if missing:
            raise ConfigError(f"ingot lab up --vm: {missing}")
        if dhcp not in DHCP_MODES:
            raise InvalidInput(f"--dhcp {dhcp!r}: use lab (the lab runs dnsmasq) or ingot.")
        self.netns = Netns(netns, PREFIX, ULA)
        self.state_dir = state_dir
        self.boot_url = boot_url
        self.dhcp = dhcp
        self._executor: NetnsExecutor | None = None
        self._dnsmasq: DnsmasqProcess | None = None
        self._up = False

    def ip_of(self, index: int) -> str:
        return f"{PREFIX}.{10 + index}"

    def up(self, servers: list[VmServer]) -> None:
        """Create the namespace, a tap per server and (``dhcp="lab"``) start dnsmasq."""
        try:
            self.netns.create()
        except ConfigError as exc:
            raise ConfigError(
                f"network namespace {self.netns.name} could not be made ({exc.message}); if an "
                f"old lab left it, `ip netns del {self.netns.name}`, or pick --netns NAME."
            ) from exc
        self._up = True
        try:
            for server in servers:
                self.netns.add_tap(server.tap)
            self._executor = NetnsExecutor(self.netns.name)
            if self.dhcp == "lab":
                self._dnsmasq = DnsmasqProcess(self._dnsmasq_config(), netns=self.netns.name)
                hosts = self._dnsmasq.start()
                for server in servers:
                    hosts.allow(server.mac, server.name, ip=server.ip)
        except BaseException:
            self.down()
            raise

    def _dnsmasq_config(self) -> Config:
        return Config(
            state_dir=self.state_dir / "dnsmasq", interface="br0",
            server_ip=self.netns.bridge_ip, http_url=self.boot_url, ra_prefix=ULA,
            user="root", dhcp_ranges=(DhcpRange(f"{PREFIX}.100", f"{PREFIX}.200"),),
        )  # fmt: skip

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a thread inside the namespace: sockets it binds live there."""
        if self._executor is None:
            raise ConfigError("the VM lab network is not up; call up() first.")
        return self._executor.call(fn)

    def down(self) -> None:
        """Stop dnsmasq and remove the namespace (taps and bridge go with it); idempotent."""
        if self._dnsmasq is not None:
            self._dnsmasq.stop()
            self._dnsmasq = None
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self._up:
            self.netns.delete()
            self._up = False

    def describe(self) -> dict[str, Any]:
        """lab.json's ``vm`` entry: where things are, and how to run Ingot against them."""
        ip = self.netns.bridge_ip
        return {
            "netns": self.netns.name,
            "bridge": "br0",
            "bridge_ip": ip,
            "ula": f"{ULA}1",
            "dhcp": self.dhcp,
            "dnsmasq_pid": self._dnsmasq.pid if self._dnsmasq is not None else None,
            "serve": f"ip netns exec {self.netns.name} ingot serve --host {ip} "
            "--allow-open-api --state-dir STATE",
            "serve_env": {
                "INGOT_DEPLOY__HTTP_HOST": ip,
                **(
                    {
                        "INGOT_DHCP__DHCP_PROVIDER": "dnsmasq",
                        "INGOT_DHCP__INTERFACE": "br0",
                        "INGOT_DHCP__DHCP_RANGE": f'["{PREFIX}.100,{PREFIX}.200"]',
                        "INGOT_DHCP__RA_PREFIX": ULA,
                    }
                    if self.dhcp == "ingot"
                    else {}
                ),
            },
        }


class VmServer:
    """One lab server as a QEMU VM: one NIC on its tap, a sparse qcow2 disk, a serial log."""

    def __init__(
        self,
        spec: ServerSpec,
        root: Path,
        network: VmNetwork,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec = spec
        self.root = root
        self.network = network
        self.tap = f"tap{spec.index}"
        self.ip = network.ip_of(spec.index)
        root.mkdir(parents=True, exist_ok=True)
        self.machine = VirtualMachine(name=spec.name, boot_mode=spec.boot_mode)
        if not self.disk_path.exists():
            result = subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(self.disk_path),
                 str(spec.disk_bytes)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise ConfigError(f"{spec.name}: qemu-img create failed: {result.stderr.strip()}")
        self.serial_log.touch()
        self.qemu = QemuServer(
            self.machine,
            QemuConfig(
                name=spec.name, netns=network.netns.name, tap=self.tap, mac=self.mac,
                disk=self.disk_path, serial_log=self.serial_log, firmware=spec.boot_mode,
                memory_mb=spec.memory_mb, cpus=spec.cpus,
            ),
        )  # fmt: skip
        self._on_change = on_change
        self._scanned = 0  # bytes of the serial log already searched for the boot marker
        self.booted_hostname: str | None = None
        self.machine.add_listener(self._on_power)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def mac(self) -> str:
        return self.spec.macs[0]

    @property
    def disk_path(self) -> Path:
        return self.root / "vda.qcow2"

    @property
    def serial_log(self) -> Path:
        return self.root / "serial.log"

    def _on_power(self, _machine: VirtualMachine, _event: PowerEvent) -> None:
        self._on_change()

    def close(self) -> None:
        """Stop the VM and start it no more; idempotent."""
        self.qemu.close()

    def _scan_serial(self) -> None:
        """Find the latest ``INGOT-BOOTED hostname=`` line, reading only what is new."""
        try:
            with self.serial_log.open("rb") as fh:
                fh.seek(max(self._scanned - 200, 0))  # a marker may straddle two reads
                data = fh.read()
        except FileNotFoundError:
            return
        found = BOOTED.findall(data)
        if found:
            self.booted_hostname = found[-1].decode("utf-8", "replace")
        self._scanned = max(self._scanned - 200, 0) + len(data)

    def state(self) -> dict[str, Any]:
        """This server's entry in lab.json: the simulated lab's fields, plus ``vm``."""
        self._scan_serial()
        boots = self.qemu.boots
        return {
            **machine_state(self.spec, self.machine, self.disk_path, self.serial_log),
            "agent_pid": None,
            "agent_port": None,
            "last_boot": boots[-1] if boots else None,
            "netboot": None,
            "booted_hostname": self.booted_hostname,
            "booted_uuid": None,
            "booted_ssh_keys": [],
            "booted_disk": None,
            "vm": {
                "qemu_pid": self.qemu.pid,
                "firmware": self.spec.boot_mode,
                "tap": self.tap,
                "ip": self.ip,
                "qemu_log": str(self.serial_log.with_suffix(".qemu.log")),
                "boots": list(boots),
            },
        }


def stop_stray_vms(lab: dict[str, Any]) -> list[str]:
    """After the lab process was killed: stop its QEMUs and dnsmasq by PID, drop the namespace.

    ``lab`` is lab.json's content. A PID counts only if its command line is still the program
    the lab started (not a reused PID). Returns what was done, for the operator.
    """
    done: list[str] = []
    vm = lab.get("vm") or {}
    pids = [(m.get("vm") or {}).get("qemu_pid") for m in lab.get("machines", [])]
    for pid, program in [*((p, b"qemu-system") for p in pids), (vm.get("dnsmasq_pid"), b"dnsmasq")]:
        if pid and _runs(int(pid), program):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
            done.append(f"killed {program.decode()} pid {pid}")
    if vm.get("netns"):
        Netns(str(vm["netns"])).delete()
        done.append(f"deleted network namespace {vm['netns']}")
    return done


def _runs(pid: int, program: bytes) -> bool:
    try:
        return program in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
