"""dnsmasq as Ingot's DHCP server: its base config, per-MAC host entries, and the process.

dnsmasq re-reads ``dhcp-hostsdir`` through inotify, so a node's entry changes live: Ingot
writes ``MAC,set:<tag>[,set:pxe][,IP][,hostname]`` while a node is provisioning and
``MAC,ignore`` when it must not boot from us (Ironic's dnsmasq provider does the same).
dnsmasq only *adds* records on inotify; a deleted file's record stays until SIGHUP, so
prefer :meth:`HostsDir.ignore` to deleting, or call :meth:`DnsmasqProcess.reload`.

DHCP only ever runs on the interface the operator named (``interface`` + ``bind-interfaces``),
and ``port=0`` turns off dnsmasq's DNS server.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingot.errors import ConfigError, InvalidInput
from ingot.netboot.atomic import make_dirs, remove, write_atomic
from ingot.netboot.macs import hyphenated, normalize_mac

LOG = logging.getLogger(__name__)

# Tag set on hosts whose boot interface is "pxe": pxelinux/GRUB straight from the firmware
# instead of chain-loading iPXE.
PXE_TAG = "pxe"
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$")
_IFACE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")


@dataclass(frozen=True)
class DhcpRange:
    """An IPv4 pool dnsmasq leases from (``dhcp-range=start,end,netmask,lease``)."""

    start: str
    end: str
    netmask: str = "255.255.255.0"
    lease_time: str = "10m"

    def render(self) -> str:
        for name, value in (("start", self.start), ("end", self.end), ("netmask", self.netmask)):
            try:
                ipaddress.IPv4Address(value)
            except ValueError as exc:
                raise ConfigError(f"[dhcp] range {name} {value!r} is not an IPv4 address.") from exc
        if not re.fullmatch(r"\d+[smhd]?|infinite", self.lease_time):
            raise ConfigError(f"[dhcp] lease_time {self.lease_time!r}: use e.g. 10m, 1h or 3600.")
        return f"{self.start},{self.end},{self.netmask},{self.lease_time}"


@dataclass(frozen=True)
class Config:
    """Everything dnsmasq needs; all its files live in ``state_dir``.

    ``server_ip`` is the next-server for TFTP; ``http_url`` the HTTP boot server (iPXE gets
    ``<http_url>/boot.ipxe``). ``tftp_root`` turns on dnsmasq's own TFTP (production);
    leave it None when the embedded TFTP server is used. ``ra_prefix`` (e.g. ``fd99::``)
    sends IPv6 router advertisements, which stops iPXE waiting ~16 s for IPv6 autoconf.
    ``user`` is who dnsmasq drops privileges to (``root`` when files sit under /root).
    ``ignore_unknown`` answers only MACs with a host entry (no discovery of new servers).
    """

    state_dir: Path
    interface: str
    server_ip: str
    http_url: str
    dhcp_ranges: tuple[DhcpRange, ...]
    tftp_root: Path | None = None
    ra_prefix: str | None = None
    user: str | None = None
    ignore_unknown: bool = False
    bios_bootfile: str = "undionly.kpxe"
    uefi_bootfile: str = "ipxe.efi"
    pxelinux_bootfile: str = "pxelinux.0"
    grub_bootfile: str = "grubx64.efi"
    extra_lines: tuple[str, ...] = field(default=())

    @property
    def conf_file(self) -> Path:
        return self.state_dir / "dnsmasq.conf"

    @property
    def hostsdir(self) -> Path:
        return self.state_dir / "hostsdir"

    @property
    def optsdir(self) -> Path:
        return self.state_dir / "optsdir"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "dnsmasq.pid"


def render_config(config: Config) -> str:
    """The dnsmasq.conf text; raises ConfigError on an unsafe or malformed setting."""
    if not _IFACE.match(config.interface) or config.interface in {"*", "any"}:
        raise ConfigError(
            f"[dhcp] interface {config.interface!r} is not an interface name; name the "
            "provisioning interface explicitly (DHCP never runs on an unnamed one)."
        )
    if not config.dhcp_ranges:
        raise ConfigError("[dhcp] needs at least one dhcp_range for the provisioning network.")
    try:
        server = str(ipaddress.IPv4Address(config.server_ip))
    except ValueError as exc:
        raise ConfigError(f"[dhcp] server_ip {config.server_ip!r} is not an IPv4 address.") from exc
    for line in config.extra_lines:
        if "\n" in line:
            raise ConfigError(f"[dhcp] extra line {line!r} contains a newline.")
    state = config.state_dir
    http = config.http_url.rstrip("/")
    lines = [
        "# Written by Ingot at start-up; edits are lost. Host entries live in dhcp-hostsdir.",
        "port=0",
        f"interface={config.interface}",
        "bind-interfaces",
        f"pid-file={config.pid_file}",
        f"dhcp-leasefile={state / 'dnsmasq.leases'}",
        "log-dhcp",
        f"log-facility={state / 'dnsmasq.log'}",
        *([f"user={config.user}"] if config.user else []),
        *(f"dhcp-range={r.render()}" for r in config.dhcp_ranges),
        f"dhcp-hostsdir={config.hostsdir}",
        f"dhcp-optsdir={config.optsdir}",
        *(["dhcp-ignore=tag:!known"] if config.ignore_unknown else []),
        *(["enable-tftp", f"tftp-root={config.tftp_root}"] if config.tftp_root else []),
        "# iPXE announces itself with user-class iPXE (and option 175)",
        "dhcp-userclass=set:ipxe,iPXE",
        "dhcp-match=set:ipxe,175",
        "dhcp-match=set:efi64,option:client-arch,7",
        "dhcp-match=set:efi64,option:client-arch,9",
        "dhcp-match=set:efihttp,option:client-arch,16",
        f"# nodes with boot_interface pxe (host entry tag '{PXE_TAG}'): pxelinux or GRUB",
        f"dhcp-boot=tag:{PXE_TAG},tag:!efi64,{config.pxelinux_bootfile},,{server}",
        f"dhcp-boot=tag:{PXE_TAG},tag:efi64,{config.grub_bootfile},,{server}",
        "# everything else: firmware PXE chain-loads iPXE over TFTP, iPXE fetches the script",
        f"dhcp-boot=tag:!{PXE_TAG},tag:!ipxe,tag:!efi64,{config.bios_bootfile},,{server}",
        f"dhcp-boot=tag:!{PXE_TAG},tag:!ipxe,tag:efi64,{config.uefi_bootfile},,{server}",
        f"dhcp-boot=tag:!{PXE_TAG},tag:ipxe,{http}/boot.ipxe",
        "# UEFI HTTP boot answers must carry vendor class HTTPClient",
        "dhcp-option-force=tag:efihttp,60,HTTPClient",
        f"dhcp-boot=tag:efihttp,{http}/{config.grub_bootfile}",
    ]
    if config.ra_prefix:
        try:
            prefix = ipaddress.IPv6Address(config.ra_prefix)
        except ValueError as exc:
            raise ConfigError(f"[dhcp] ra_prefix {config.ra_prefix!r} is not IPv6.") from exc
        lines += ["enable-ra", f"dhcp-range={prefix},ra-only,64"]
    lines += list(config.extra_lines)
    return "\n".join(lines) + "\n"


class HostsDir:
    """Per-MAC files in dnsmasq's ``dhcp-hostsdir`` (and tag options in ``dhcp-optsdir``)."""

    def __init__(self, hostsdir: Path, optsdir: Path | None = None) -> None:
        self.hostsdir = Path(hostsdir)
        self.optsdir = Path(optsdir) if optsdir else None

    def path(self, mac: str) -> Path:
        return self.hostsdir / hyphenated(mac)

    def allow(
        self,
        mac: str,
        tag: str,
        *,
        ip: str | None = None,
        hostname: str | None = None,
        pxe: bool = False,
    ) -> str:
        """Let ``mac`` boot from us, tagged ``tag`` (and ``pxe`` for pxelinux/GRUB nodes).

        Returns the line written. Raises InvalidInput on a bad tag, IP or hostname.
        """
        mac = normalize_mac(mac)
        fields = [mac, f"set:{_tag(tag)}"]
        if pxe:
            fields.append(f"set:{PXE_TAG}")
        if ip:
            try:
                fields.append(str(ipaddress.IPv4Address(ip)))
            except ValueError as exc:
                raise InvalidInput(f"fixed IP {ip!r} for {mac} is not an IPv4 address.") from exc
        if hostname:
            if not _HOSTNAME.match(hostname):
                raise InvalidInput(f"hostname {hostname!r} for {mac} is not a valid DNS name.")
            fields.append(hostname)
        line = ",".join(fields)
        write_atomic(self.path(mac), line + "\n")
        LOG.info("dhcp host entry allows boot", extra={"mac": mac, "tag": tag})
        return line

    def ignore(self, mac: str) -> str:
        """Make dnsmasq ignore ``mac`` (node not provisioning); takes effect live."""
        line = f"{normalize_mac(mac)},ignore"
        write_atomic(self.path(mac), line + "\n")
        LOG.info("dhcp host entry ignores", extra={"mac": normalize_mac(mac)})
        return line

    def remove(self, mac: str) -> bool:
        """Delete the entry file; dnsmasq forgets it only on SIGHUP (``reload``)."""
        return remove(self.path(mac))

    def set_options(self, tag: str, options: Sequence[str]) -> None:
        """Write ``tag:<tag>,<option>`` lines for hosts with ``tag`` (e.g. ``option:mtu,9000``)."""
        if self.optsdir is None:
            raise ConfigError("HostsDir has no optsdir; pass dhcp-optsdir to set options.")
        for option in options:
            if "\n" in option or not option:
                raise InvalidInput(f"DHCP option {option!r} must be one non-empty line.")
        text = "".join(f"tag:{_tag(tag)},{option}\n" for option in options)
        write_atomic(self.optsdir / _tag(tag), text)

    def clear_options(self, tag: str) -> bool:
        if self.optsdir is None:
            return False
        return remove(self.optsdir / _tag(tag))


def _tag(tag: str) -> str:
    if not _TAG.match(tag) or tag in {PXE_TAG, "ipxe", "efi64", "efihttp", "known"}:
        raise InvalidInput(
            f"DHCP tag {tag!r} is not usable: letters, digits, '-' and '_' only, and not one "
            "of Ingot's own tags; use the port or node UUID."
        )
    return tag


def find_dnsmasq(binary: str = "dnsmasq") -> str:
    """Path of the dnsmasq binary; ConfigError names the package when it is missing."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    if not found:
        raise ConfigError(
            f"{binary} not found; install it (Debian/Ubuntu: apt-get install dnsmasq-base) or "
            "set [dhcp] dhcp_provider = none if the site runs its own DHCP."
        )
    return found


def prepare(config: Config) -> HostsDir:
    """Create the state directories and write dnsmasq.conf; return the hosts directory."""
    for directory in (config.state_dir, config.hostsdir, config.optsdir):
        make_dirs(directory)
    write_atomic(config.conf_file, render_config(config))
    return HostsDir(config.hostsdir, config.optsdir)


def check_config(config: Config, binary: str = "dnsmasq") -> None:
    """Have dnsmasq itself validate the rendered config (``--test``); raises ConfigError."""
    prepare(config)
    result = subprocess.run(
        [find_dnsmasq(binary), "--test", f"--conf-file={config.conf_file}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"dnsmasq rejects {config.conf_file}: {result.stderr.strip()}")


class DnsmasqProcess:
    """One dnsmasq child process, kept in the foreground so we own and supervise its PID.

    ``netns`` runs it inside a network namespace (``ip netns exec``, which execs, so the PID
    stays dnsmasq's): the lab's root-only tier.
    """

    def __init__(self, config: Config, *, binary: str = "dnsmasq", netns: str | None = None):
        self.config = config
        self.binary = binary
        self.netns = netns
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, wait: float = 2.0) -> HostsDir:
        """Write the config and start dnsmasq; raises ConfigError if it exits at once."""
        if self.running:
            raise ConfigError(f"dnsmasq already running as PID {self.pid}.")
        hosts = prepare(self.config)
        command = [
            find_dnsmasq(self.binary),
            "--keep-in-foreground",
            f"--conf-file={self.config.conf_file}",
        ]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]
        # stderr goes to a file, not a pipe: nobody drains a pipe of a long-lived child.
        errors = self.config.state_dir / "dnsmasq.stderr"
        with errors.open("wb") as sink:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        try:
            code = self._proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            LOG.info("dnsmasq started", extra={"pid": self._proc.pid, "netns": self.netns})
            return hosts
        stderr = errors.read_text(errors="replace")
        self._proc = None
        raise ConfigError(f"dnsmasq exited with status {code} at start: {stderr.strip()}")

    def reload(self) -> None:
        """SIGHUP: re-read hostsdir/optsdir from scratch (drops records of deleted files)."""
        if self._proc is None or not self.running:
            raise ConfigError("dnsmasq is not running; start it before reloading.")
        self._proc.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        LOG.info("dnsmasq stopped", extra={"pid": proc.pid, "status": proc.returncode})
