"""Per-node boot configurations for pxelinux (BIOS), GRUB (UEFI) and iPXE, and the agent's
kernel command line.

Each configuration is rendered for one MAC, so the MAC is written literally (``BOOTIF=``)
instead of relying on loader-specific variables. The templates are plain ``string.Template``
files under ``netboot/templates/`` so an operator can read exactly what a server will get.
File names follow Ironic's layout, so a TFTP root prepared by Ingot looks familiar:
``pxelinux.cfg/01-<mac-with-dashes>`` (pxelinux), ``grub/grub.cfg-01-<mac>`` and
``<mac>.conf`` (GRUB), ``ipxe/<mac-with-dashes>.ipxe`` chained from ``boot.ipxe`` (iPXE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Literal

from ingot.errors import InvalidInput
from ingot.netboot.macs import bootif, hyphenated, normalize_mac

BootMode = Literal["bios", "uefi"]
Loader = Literal["pxelinux", "grub", "ipxe"]
BootInterface = Literal["pxe", "ipxe", "http"]
RootKind = Literal["UUID", "PARTUUID"]

BOOT_MODES: tuple[BootMode, ...] = ("bios", "uefi")
LOADERS: tuple[Loader, ...] = ("pxelinux", "grub", "ipxe")

IPXE_CHAIN_SCRIPT = "boot.ipxe"
GRUB_MASTER_CONFIG = "grub/grub.cfg"

# One "word" of a kernel command line: no whitespace, no control characters, no quotes
# (quotes would need loader-specific escaping; none of the agent's values needs them).
_WORD = re.compile(r"^[^\s\x00-\x1f\x7f\"']+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def loader_for(interface: BootInterface, boot_mode: BootMode) -> Loader:
    """Pick the boot loader a boot interface uses in a boot mode, as Ironic does.

    ``pxe`` is pxelinux on BIOS and GRUB on UEFI; ``ipxe`` is iPXE in both; ``http`` (UEFI
    HTTP boot) is GRUB fetched over HTTP and has no BIOS form.
    """
    if boot_mode not in BOOT_MODES:
        raise InvalidInput(f"boot_mode {boot_mode!r} is not valid; use 'bios' or 'uefi'.")
    if interface == "pxe":
        return "pxelinux" if boot_mode == "bios" else "grub"
    if interface == "ipxe":
        return "ipxe"
    if interface == "http":
        if boot_mode != "uefi":
            raise InvalidInput(
                "boot_interface 'http' needs boot_mode 'uefi' (UEFI HTTP boot); "
                "use 'ipxe' or 'pxe' for BIOS nodes."
            )
        return "grub"
    raise InvalidInput(f"boot_interface {interface!r} is not valid; use pxe, ipxe or http.")


def _word(name: str, value: str) -> str:
    if not _WORD.match(value):
        raise InvalidInput(
            f"{name} {value!r} cannot go on a kernel command line: it must be one word "
            "without spaces, quotes or control characters."
        )
    return value


@dataclass(frozen=True)
class AgentCmdline:
    """What the deploy/inspect/clean/rescue agent needs on its kernel command line.

    ``agent_token`` is None for the normal delivery: the agent receives its token from the
    first ``lookup``. Set it only when the config is private to the node (e.g. virtual
    media), since anyone who can read a TFTP/HTTP boot file can read the token.
    """

    api_url: str
    global_request_id: str | None = None
    agent_token: str | None = None
    consoles: tuple[str, ...] = ()
    kernel_append_params: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def render(self, mac: str) -> str:
        """The command line for the NIC ``mac``; raises InvalidInput on unsafe values."""
        words = [f"ipa-api-url={_word('api_url', self.api_url)}", f"BOOTIF={bootif(mac)}"]
        if self.global_request_id:
            words.append(
                f"ipa-global-request-id={_word('global_request_id', self.global_request_id)}"
            )
        if self.agent_token:
            words.append(f"ipa-agent-token={_word('agent_token', self.agent_token)}")
        for key, value in self.extra.items():
            words.append(f"{_word('kernel parameter name', key)}={_word(key, value)}")
        words.extend(f"console={_word('console', console)}" for console in self.consoles)
        return join_cmdline(" ".join(words), self.kernel_append_params)


def join_cmdline(*parts: str) -> str:
    """Join command-line fragments; raises InvalidInput if one holds a newline or control char.

    A newline in ``kernel_append_params`` would add lines to the boot config, so it is refused
    rather than escaped.
    """
    for part in parts:
        if _CONTROL.search(part):
            raise InvalidInput(
                f"kernel command line fragment {part!r} contains a newline or control "
                "character; put the parameters on one line (driver_info kernel_append_params)."
            )
    return " ".join(p.strip() for p in parts if p.strip())


def partition_cmdline(
    root_uuid: str, kernel_append_params: str = "", *, root_kind: RootKind = "UUID"
) -> str:
    """Command line to netboot a partition image's own kernel with its root filesystem.

    ``root_kind`` ``UUID`` is a filesystem UUID (Ironic's agent reports one), ``PARTUUID`` a
    GPT partition GUID (what ingot-agent reports as ``root uuid``).
    """
    if root_kind not in ("UUID", "PARTUUID"):
        raise InvalidInput(f"root_kind {root_kind!r} is not UUID or PARTUUID.")
    root = f"root={root_kind}={_word('root_uuid', root_uuid)} ro"
    return join_cmdline(root, kernel_append_params)


def _template(name: str) -> Template:
    text = resources.files("ingot.netboot").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def _check_loader(loader: str) -> Loader:
    if loader not in LOADERS:
        raise InvalidInput(f"boot loader {loader!r} is not valid; use one of {', '.join(LOADERS)}.")
    return loader


def _extension(loader: Loader) -> str:
    return {"pxelinux": "cfg", "grub": "cfg", "ipxe": "ipxe"}[loader]


def render_ramdisk(
    loader: Loader,
    *,
    node_uuid: str,
    mac: str,
    kernel: str,
    ramdisk: str,
    cmdline: str,
    purpose: str = "deploy",
) -> str:
    """Config that boots ``kernel`` + ``ramdisk`` with ``cmdline`` (agent ramdisk, or a
    partition image's kernel with :func:`partition_cmdline`).

    ``kernel``/``ramdisk`` are what the loader fetches: a URL for iPXE, a path from the
    boot root for pxelinux and GRUB.
    """
    name = f"{_check_loader(loader)}_ramdisk.{_extension(loader)}"
    return _template(name).substitute(
        purpose=purpose,
        node_uuid=node_uuid,
        mac=normalize_mac(mac),
        kernel=_word("kernel", kernel),
        ramdisk=_word("ramdisk", ramdisk),
        cmdline=join_cmdline(cmdline),
    )


def render_local_boot(loader: Loader, boot_mode: BootMode, *, node_uuid: str, mac: str) -> str:
    """Config that sends the server on to its local disk (for servers that always netboot)."""
    name = f"{_check_loader(loader)}_local.{_extension(loader)}"
    # iPXE: on BIOS, INT 13h drive 0x80 is the first disk; on UEFI, exiting hands control
    # back to the firmware boot manager, which tries its next entry.
    local_boot = "sanboot --no-describe --drive 0x80 || exit" if boot_mode == "bios" else "exit"
    return _template(name).substitute(
        node_uuid=node_uuid, mac=normalize_mac(mac), local_boot=local_boot
    )


def render_ipxe_chain(config_base_url: str) -> str:
    """``boot.ipxe``: the script DHCP hands to iPXE; it chains to the per-MAC script."""
    return _template("ipxe_chain.ipxe").substitute(
        config_base_url=_word("config_base_url", config_base_url.rstrip("/"))
    )


def render_grub_master() -> str:
    """``grub/grub.cfg``: fallback for GRUB builds that do not look up per-MAC files."""
    return (
        "# Ingot: load the per-MAC configuration of the NIC GRUB booted from.\n"
        "set timeout=1\n"
        "configfile /${net_default_mac}.conf\n"
    )


def config_paths(loader: Loader, mac: str) -> tuple[str, ...]:
    """Paths, relative to the boot root, where ``loader`` looks for the config of ``mac``."""
    mac = normalize_mac(mac)
    if loader == "pxelinux":
        return (f"pxelinux.cfg/{bootif(mac)}",)
    if loader == "grub":
        # Debian/Ubuntu signed grubnetx64 tries $prefix/grub.cfg-01-<mac> itself; the
        # <mac>.conf spelling serves grub/grub.cfg's configfile fallback (Ironic's layout).
        return (f"grub/grub.cfg-{bootif(mac)}", f"{mac}.conf")
    if loader == "ipxe":
        return (f"ipxe/{hyphenated(mac)}.ipxe",)
    raise InvalidInput(f"boot loader {loader!r} is not valid; use one of {', '.join(LOADERS)}.")
