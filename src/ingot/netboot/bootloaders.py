"""Find the bootloader binaries Debian packages install, and copy them into the boot root.

Missing files are reported with the package that provides them, so the operator's fix is one
``apt-get install`` away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingot.errors import ConfigError
from ingot.netboot.atomic import link_or_copy_atomic


@dataclass(frozen=True)
class Bootloader:
    """A file the boot root needs: its name there, where Debian puts it, which package."""

    name: str
    candidates: tuple[str, ...]
    package: str


# Names under the boot root match the dhcp-boot lines of ingot.netboot.dnsmasq.
KNOWN: Mapping[str, Bootloader] = {
    b.name: b
    for b in (
        Bootloader("undionly.kpxe", ("/usr/lib/ipxe/undionly.kpxe",), "ipxe"),
        Bootloader("ipxe.efi", ("/usr/lib/ipxe/ipxe.efi",), "ipxe"),
        Bootloader("snponly.efi", ("/usr/lib/ipxe/snponly.efi",), "ipxe"),
        Bootloader("pxelinux.0", ("/usr/lib/PXELINUX/pxelinux.0",), "pxelinux"),
        Bootloader(
            "ldlinux.c32",
            ("/usr/lib/syslinux/modules/bios/ldlinux.c32",),
            "syslinux-common",
        ),
        Bootloader(
            "grubx64.efi",
            (
                "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
                "/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi",
            ),
            "grub-efi-amd64-signed",
        ),
        Bootloader("shimx64.efi", ("/usr/lib/shim/shimx64.efi.signed",), "shim-signed"),
    )
}


def find(name: str, search_root: Path = Path("/")) -> Path:
    """Path of bootloader ``name``; ConfigError names the Debian package when missing.

    ``search_root`` prefixes the Debian paths (tests, chroots).
    """
    loader = KNOWN.get(name)
    if loader is None:
        raise ConfigError(f"unknown bootloader {name!r}; known: {', '.join(sorted(KNOWN))}.")
    for candidate in loader.candidates:
        path = search_root / candidate.lstrip("/")
        if path.is_file():
            return path
    raise ConfigError(
        f"bootloader {name} not found (looked in {', '.join(loader.candidates)}); "
        f"install it with: apt-get install {loader.package}"
    )


def install(
    boot_root: Path, names: Iterable[str], search_root: Path = Path("/")
) -> dict[str, Path]:
    """Copy (or hard-link) the named bootloaders into ``boot_root``; all-or-error.

    Every missing file is reported at once, with its package.
    """
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in names:
        try:
            found[name] = find(name, search_root)
        except ConfigError as exc:
            missing.append(exc.message)
    if missing:
        raise ConfigError(" ".join(missing))
    for name, source in found.items():
        link_or_copy_atomic(source, boot_root / name)
    return {name: boot_root / name for name in found}


def install_available(
    boot_root: Path, names: Iterable[str], search_root: Path = Path("/")
) -> tuple[list[str], list[str]]:
    """Install the named bootloaders that are present; return (installed, missing messages).

    For start-up, where a missing loader only matters to nodes that need it: the caller logs
    each message (it names the Debian package) instead of refusing to start.
    """
    installed: list[str] = []
    missing: list[str] = []
    for name in names:
        try:
            link_or_copy_atomic(find(name, search_root), boot_root / name)
        except ConfigError as exc:
            missing.append(exc.message)
        else:
            installed.append(name)
    return installed, missing
