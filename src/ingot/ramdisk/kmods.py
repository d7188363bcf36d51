"""Kernel modules for the ramdisk: which ones, their dependencies, and the order to load them.

Debian's ``linux-image`` .deb ships no ``modules.dep`` (depmod runs at install time), so the
dependencies come from each module's own ``.modinfo`` strings (``depends=a,b``). Names in
``depends=`` may spell ``-`` where the file name has ``_`` (``nvme-core``), so both are folded
to ``_``. The load order is a topological sort, dependencies first, ties broken by name so the
order is stable.
"""

from __future__ import annotations

import logging
import lzma
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingot.errors import ConfigError

LOG = logging.getLogger(__name__)

# What a server needs to reach its disks and NICs and to read the config drive. Modules a
# kernel builds in (modules.builtin) or lacks are skipped, so one list fits several kernels.
DEFAULT_MODULES: tuple[str, ...] = (
    # virtual machines
    "virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net",
    # SATA/SAS/SCSI disks and RAID HBAs
    "ahci", "ata_piix", "sd_mod", "sr_mod", "megaraid_sas", "mpt3sas", "hpsa", "smartpqi",
    "aacraid",
    # NVMe
    "nvme",
    # NICs: Intel, Broadcom, Mellanox/NVIDIA, Realtek, Emulex, QLogic
    "e1000", "e1000e", "igb", "igc", "ixgbe", "i40e", "ice", "bnxt_en", "tg3", "bnx2",
    "mlx4_en", "mlx5_core", "r8169", "be2net", "qede",
    # file systems: images, ESPs, config drives
    "ext4", "xfs", "vfat", "nls_cp437", "nls_iso8859_1", "isofs", "crc32c_generic",
)  # fmt: skip

_DEPENDS = re.compile(rb"(?:^|\0)depends=([^\0]*)")
_SUFFIXES = (".ko", ".ko.xz")


def canonical(name: str) -> str:
    """Module name as the kernel compares it: ``-`` and ``_`` are the same."""
    return name.replace("-", "_")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return canonical(name[: -len(suffix)])
    raise ValueError(name)


@dataclass(frozen=True)
class ModuleTree:
    """The modules of one kernel: ``root`` is ``lib/modules/<version>``."""

    root: Path
    files: Mapping[str, Path]  # canonical name -> file
    builtin: frozenset[str]

    @classmethod
    def scan(cls, root: Path) -> ModuleTree:
        """Index ``root``; raises ConfigError when it holds no modules."""
        files: dict[str, Path] = {}
        for suffix in _SUFFIXES:
            for path in sorted((root / "kernel").rglob(f"*{suffix}")):
                files.setdefault(_stem(path), path)
        if not files:
            raise ConfigError(f"no kernel modules under {root}/kernel; is it lib/modules/<ver>?")
        builtin_list = root / "modules.builtin"
        builtin = frozenset(
            canonical(Path(line).name.removesuffix(".ko"))
            for line in (builtin_list.read_text().split() if builtin_list.exists() else [])
        )
        return cls(root=root, files=files, builtin=builtin)

    def depends(self, name: str) -> list[str]:
        """Direct dependencies of module ``name`` from its ``.modinfo``."""
        data = self.files[name].read_bytes()
        if self.files[name].name.endswith(".xz"):
            data = lzma.decompress(data)
        match = _DEPENDS.search(data)
        if not match or not match.group(1):
            return []
        return sorted(canonical(d) for d in match.group(1).decode().split(",") if d)


def load_order(tree: ModuleTree, wanted: Iterable[str]) -> list[str]:
    """``wanted`` and everything they depend on, each after its dependencies.

    Unknown names are skipped with a log line (built in, or absent from this kernel); a
    dependency that is missing, or a cycle, raises ConfigError since the module could not load.
    """
    order: list[str] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ConfigError(f"kernel module dependency cycle: {' -> '.join((*chain, name))}")
        if name not in tree.files:
            if name in tree.builtin:
                return
            raise ConfigError(
                f"kernel module {chain[-1]} depends on {name}, which {tree.root} lacks."
            )
        state[name] = "visiting"
        for dep in tree.depends(name):
            visit(dep, (*chain, name))
        state[name] = "done"
        order.append(name)

    for name in sorted({canonical(n) for n in wanted}):
        if name not in tree.files:
            LOG.info("kernel module %s is built in or absent; skipped", name)
            continue
        visit(name, ())
    return order


def relative_paths(tree: ModuleTree, names: Iterable[str]) -> list[str]:
    """Paths of ``names`` relative to ``tree.root``, in the given order (for modules.load)."""
    return [tree.files[name].relative_to(tree.root).as_posix() for name in names]
