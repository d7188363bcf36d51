"""Which DHCP answers a node gets while Ingot provisions it: Ironic's ``dhcp_provider``.

``none``: the site's own DHCP server was pointed at Ingot once by the operator
(docs/netboot.md); Ingot writes nothing. ``dnsmasq``: Ingot keeps one ``dhcp-hostsdir`` file
per MAC, tagged while the node netboots from us and ``ignore`` once it must not, and
``ingot serve`` runs dnsmasq from :func:`dnsmasq_config`. dnsmasq picks host files up through
inotify, so a node's entry changes live with its state.
"""

from __future__ import annotations

import ipaddress
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from ingot.errors import ConfigError
from ingot.netboot import bootloaders, dnsmasq
from ingot.settings import IngotSettings

LOG = logging.getLogger(__name__)

# What firmware fetches over TFTP first, by the names dnsmasq.render_config offers.
FIRST_STAGE_LOADERS = ("undionly.kpxe", "ipxe.efi", "pxelinux.0", "ldlinux.c32", "grubx64.efi")


@dataclass(frozen=True)
class BootPort:
    """One NIC that may netboot: its MAC, the DHCP tag (port UUID), an optional fixed IP."""

    mac: str
    tag: str
    fixed_ip: str | None = None


class DhcpProvider(ABC):
    """Turns a node's netboot on or off in the DHCP server; idempotent, no process control."""

    name: ClassVar[str]

    @abstractmethod
    def enable_boot(self, ports: Sequence[BootPort], *, pxe: bool) -> None:
        """Answer these MACs with Ingot's boot files (``pxe``: pxelinux/GRUB, else iPXE)."""

    @abstractmethod
    def disable_boot(self, macs: Iterable[str]) -> None:
        """Stop answering these MACs (the node boots from disk or is not ours to boot)."""


class NoDhcp(DhcpProvider):
    """``dhcp_provider = none``: the site's DHCP server is configured by hand."""

    name = "none"

    def enable_boot(self, ports: Sequence[BootPort], *, pxe: bool) -> None:
        return None

    def disable_boot(self, macs: Iterable[str]) -> None:
        return None


class DnsmasqDhcp(DhcpProvider):
    """``dhcp_provider = dnsmasq``: per-MAC files in dnsmasq's ``dhcp-hostsdir``."""

    name = "dnsmasq"

    def __init__(self, hosts: dnsmasq.HostsDir) -> None:
        self.hosts = hosts

    def enable_boot(self, ports: Sequence[BootPort], *, pxe: bool) -> None:
        for port in ports:
            self.hosts.allow(port.mac, port.tag, ip=port.fixed_ip, pxe=pxe)

    def disable_boot(self, macs: Iterable[str]) -> None:
        for mac in macs:
            self.hosts.ignore(mac)


def dnsmasq_state_dir(settings: IngotSettings) -> Path:
    return settings.default.state_dir.resolve() / "dnsmasq"


def provider_for(settings: IngotSettings) -> DhcpProvider:
    """The provider ``[dhcp] dhcp_provider`` names."""
    if settings.dhcp.dhcp_provider == "dnsmasq":
        state = dnsmasq_state_dir(settings)
        return DnsmasqDhcp(dnsmasq.HostsDir(state / "hostsdir", state / "optsdir"))
    return NoDhcp()


def next_server(settings: IngotSettings) -> str:
    """The TFTP next-server address: ``[pxe] tftp_server``, else the host of the boot URL."""
    candidate = settings.pxe.tftp_server or urlsplit(settings.boot_url).hostname or ""
    try:
        return str(ipaddress.IPv4Address(candidate))
    except ValueError as exc:
        raise ConfigError(
            f"DHCP needs the IPv4 address of the TFTP server and {candidate!r} is not one; "
            "set [pxe] tftp_server (or [deploy] http_url with an IPv4 address)."
        ) from exc


def parse_range(text: str) -> dnsmasq.DhcpRange:
    """``"start,end[,netmask[,lease]]"`` as in dnsmasq's ``dhcp-range``."""
    parts = [p.strip() for p in text.split(",")]
    if not 2 <= len(parts) <= 4 or not all(parts):
        raise ConfigError(
            f"[dhcp] dhcp_range {text!r}: write 'start,end[,netmask[,lease]]', "
            "e.g. '10.99.0.100,10.99.0.200,255.255.255.0,10m'."
        )
    return dnsmasq.DhcpRange(*parts)


def dnsmasq_config(settings: IngotSettings) -> dnsmasq.Config:
    """The dnsmasq Ingot runs, from ``[dhcp]``: raises ConfigError naming the missing option."""
    section = settings.dhcp
    if not section.interface:
        raise ConfigError(
            "[dhcp] dhcp_provider = dnsmasq needs [dhcp] interface, the provisioning network "
            "interface; Ingot never runs DHCP on an interface the operator did not name."
        )
    if not section.dhcp_range:
        raise ConfigError(
            "[dhcp] dhcp_range is empty; give the pool, e.g. "
            "dhcp_range = ['10.99.0.100,10.99.0.200,255.255.255.0,10m']."
        )
    tftp_root = (settings.pxe.tftp_root or settings.boot_root) if section.enable_tftp else None
    return dnsmasq.Config(
        state_dir=dnsmasq_state_dir(settings),
        interface=section.interface,
        server_ip=next_server(settings),
        http_url=settings.boot_url,
        dhcp_ranges=tuple(parse_range(r) for r in section.dhcp_range),
        tftp_root=Path(tftp_root).resolve() if tftp_root else None,
        ra_prefix=section.ra_prefix,
        user=section.user,
        ignore_unknown=section.ignore_unknown,
    )


def start_dnsmasq(settings: IngotSettings) -> dnsmasq.DnsmasqProcess:
    """Copy the bootloaders into the TFTP root, render the config and start dnsmasq in the
    foreground as our child (stop it with ``.stop()``); raises ConfigError if it cannot start."""
    config = dnsmasq_config(settings)
    if config.tftp_root is not None:
        _, missing = bootloaders.install_available(config.tftp_root, FIRST_STAGE_LOADERS)
        for message in missing:
            LOG.warning("%s (nodes that need it cannot netboot)", message)
    process = dnsmasq.DnsmasqProcess(config, binary=settings.dhcp.binary, netns=settings.dhcp.netns)
    process.start()
    LOG.info("dnsmasq serving DHCP on %s (pid %s)", settings.dhcp.interface, process.pid)
    return process
