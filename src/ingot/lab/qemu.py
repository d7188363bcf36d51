"""Virtual servers as real QEMU VMs (TCG) on taps in a private network namespace.

The root-only lab tier: each :class:`QemuServer` gives a :class:`VirtualMachine` its behaviour.
Power on starts QEMU booting from the machine's boot device (PXE through the NIC's iPXE ROM,
or the disk), power off kills it, and a guest that powers itself off (``poweroff -f`` with
``-no-reboot``) shows as off to the BMC. SeaBIOS or OVMF (UEFI) per server.

Machine quirks (LAB.md section 4): KVM here is KVM-PVM and unusable, so always ``-accel tcg``;
``-nographic -monitor none`` and a file serial so firmware text reaches the serial log; never
override the NIC ``romfile``. Boot order uses ``bootindex`` (OVMF ignores ``-boot order``).

:class:`Netns` makes the namespace: a bridge with an IPv4 /24 and an IPv6 ULA (dnsmasq's router
advertisements stop iPXE waiting ~16 s for IPv6 autoconf), plus one tap per server. Nothing
touches the root namespace. :func:`in_netns` runs Python code with sockets inside it.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from ingot.errors import ConfigError
from ingot.lab.machine import PowerEvent, VirtualMachine

LOG = logging.getLogger(__name__)
T = TypeVar("T")
Firmware = Literal["bios", "uefi"]
CLONE_NEWNET = 0x40000000
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def vm_tier_missing() -> str | None:
    """Why the VM tier cannot run here (not root, a tool missing), or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, taps, dnsmasq)"
    for tool, package in (("qemu-system-x86_64", "qemu-system-x86"), ("ip", "iproute2"),
                          ("dnsmasq", "dnsmasq-base"), ("qemu-img", "qemu-utils")):  # fmt: skip
        if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")):
            return f"{tool} missing: bash scripts/vm-tier-deps.sh (apt-get install {package})"
    return None


@dataclass
class Netns:
    """A network namespace with bridge ``br0`` (``prefix``.1/24, ``ula``::1/64) and taps."""

    name: str
    prefix: str = "10.231.0"
    ula: str = "fd99:231::"

    @property
    def bridge_ip(self) -> str:
        return f"{self.prefix}.1"

    def create(self) -> Netns:
        """Create the namespace and bridge; ConfigError if it exists (pick another name)."""
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.name, "link", "set", "br0", "type", "bridge", "stp_state", "0",
                "forward_delay", "0")  # fmt: skip
            _ip("-n", self.name, "addr", "add", f"{self.bridge_ip}/24", "dev", "br0")
            _ip("-n", self.name, "addr", "add", f"{self.ula}1/64", "dev", "br0", "nodad")
            _ip("-n", self.name, "link", "set", "br0", "up")
        except ConfigError:
            self.delete()
            raise
        return self

    def add_tap(self, tap: str) -> str:
        """A tap on the bridge for one VM (QEMU must run inside the namespace to open it)."""
        _ip("-n", self.name, "tuntap", "add", "dev", tap, "mode", "tap")
        _ip("-n", self.name, "link", "set", tap, "master", "br0", "up")
        return tap

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def delete(self) -> None:
        """Remove the namespace (its bridge and taps go with it); idempotent."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


def _enter(netns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{netns}", "rb") as handle:
        if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns} failed")


class NetnsExecutor:
    """A worker thread living in a network namespace: sockets it opens are in that namespace.

    The namespace is per thread in Linux, so the rest of the process stays where it was.
    """

    def __init__(self, netns: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"netns-{netns}", initializer=_enter,
            initargs=(netns,),
        )  # fmt: skip

    def call(self, fn: Callable[[], T], timeout: float | None = 120) -> T:
        return self._pool.submit(fn).result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` once in a thread inside ``netns`` (e.g. to bind a BMC's socket there)."""
    executor = NetnsExecutor(netns)
    try:
        return executor.call(fn)
    finally:
        executor.close()


@dataclass(frozen=True)
class QemuConfig:
    """One VM: NIC on ``tap`` with ``mac``, a qcow2 ``disk``, firmware, memory."""

    name: str
    netns: str
    tap: str
    mac: str
    disk: Path
    serial_log: Path
    firmware: Firmware = "bios"
    memory_mb: int = 1024
    cpus: int = 1  # TCG runs one host thread per vCPU: more than the host has only slows it
    binary: str = "qemu-system-x86_64"


def qemu_command(config: QemuConfig, boot: str, vars_file: Path | None) -> list[str]:
    """The QEMU command line booting ``boot`` ("pxe" or anything else: the disk) first."""
    nic_index, disk_index = (1, 2) if boot == "pxe" else (2, 1)
    command = [
        config.binary, "-accel", "tcg", "-m", str(config.memory_mb),
        "-smp", str(config.cpus), "-nodefaults",
        "-nographic", "-monitor", "none", "-no-reboot", "-name", config.name,
        # append=on keeps every boot in one log (a plain "file:" truncates at each start)
        "-chardev", f"file,id=s0,path={config.serial_log},append=on", "-serial", "chardev:s0",
        "-netdev", f"tap,id=n0,ifname={config.tap},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=n0,mac={config.mac},bootindex={nic_index}",
        # discard/write-zeroes reach the qcow2 as holes: the agent's "blkdiscard -z" erase of
        # a 5 GiB disk then takes seconds instead of minutes of zeros written under TCG.
        "-drive", f"file={config.disk},if=none,id=d0,format=qcow2,discard=unmap,"
        "detect-zeroes=unmap",
        "-device", f"virtio-blk-pci,drive=d0,bootindex={disk_index}",
    ]  # fmt: skip
    if config.firmware == "uefi":
        if vars_file is None:
            raise ConfigError(f"{config.name}: UEFI needs a copy of {OVMF_VARS}.")
        command += [
            "-machine", "q35",
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={vars_file}",
        ]  # fmt: skip
    return command


class QemuServer:
    """Gives a :class:`VirtualMachine` a real QEMU body; attach it as a power listener."""

    def __init__(self, machine: VirtualMachine, config: QemuConfig) -> None:
        self.machine = machine
        self.config = config
        self.boots: list[str] = []  # boot device of every start, for tests and logs
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._vars: Path | None = None
        if config.firmware == "uefi":
            if not OVMF_CODE.is_file():
                raise ConfigError(f"{OVMF_CODE} missing: apt-get install ovmf")
            self._vars = config.disk.with_suffix(".OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, self._vars)
        machine.add_listener(self._on_power)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _on_power(self, machine: VirtualMachine, event: PowerEvent) -> None:
        if event == "off":
            self.stop()
        elif event == "on":
            self.start()
        else:  # reset: a cold restart, taking the next boot device again
            self.stop()
            self.start()

    def start(self) -> None:
        with self._lock:
            if self.running or self._closed:
                return
            boot = self.machine.take_boot_device()
            self.boots.append(boot)
            command = [
                *["ip", "netns", "exec", self.config.netns],
                *qemu_command(self.config, boot, self._vars),
            ]
            stderr = self.config.serial_log.with_suffix(".qemu.log").open("ab")
            with self.config.serial_log.open("ab") as log:
                log.write(
                    f"\n=== ingot lab: power on {self.config.name}, boot {boot} ===\n".encode()
                )
            LOG.info("qemu %s: power on, boot %s", self.config.name, boot)
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
            stderr.close()
            self._proc = proc
        threading.Thread(target=self._watch, args=(proc,), daemon=True).start()

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        """When the guest powers itself off, QEMU exits: the BMC must then report off."""
        proc.wait()
        with self._lock:
            ours = self._proc is proc
            if ours:
                self._proc = None
        if ours:
            LOG.info("qemu %s exited (%s): power off", self.config.name, proc.returncode)
            self.machine.power("off")

    def stop(self, timeout: float = 10) -> None:
        """Kill QEMU (pulling the plug, as a BMC's hard power off does); idempotent."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        LOG.info("qemu %s: power off", self.config.name)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def close(self) -> None:
        """Stop QEMU and never start it again (the lab is going down); idempotent."""
        with self._lock:
            self._closed = True
        self.stop()

    def serial_text(self) -> str:
        try:
            return self.config.serial_log.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
