"""The ramdisk's root file system: debootstrap, then the agent, modules and /init, trimmed.

debootstrap and chroot need root, so only the build runs as root; packing (``cpio.py``) and
everything else are plain file operations.
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from ingot.ramdisk import init_script
from ingot.ramdisk.debian import AptSource, require_tool, run
from ingot.ramdisk.kmods import ModuleTree, relative_paths

LOG = logging.getLogger(__name__)

BASE_PACKAGES = ("python3", "busybox")

# Removed after debootstrap: documentation, locales, apt's state, caches, logs, and Python
# parts an agent never imports. Paths are relative to the root; globs allowed.
TRIM = (
    "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
    "usr/share/lintian", "usr/share/common-licenses", "usr/share/zoneinfo/*",
    "var/lib/apt/lists/*", "var/cache/apt/*", "var/cache/debconf/*-old", "var/cache/ldconfig/*",
    "var/log/*", "var/lib/dpkg/*-old", "etc/machine-id", "etc/hostname",
    "usr/lib/python3.*/test", "usr/lib/python3.*/idlelib", "usr/lib/python3.*/tkinter",
    "usr/lib/python3.*/lib2to3", "usr/lib/python3.*/ensurepip", "usr/lib/python3.*/pydoc_data",
    "usr/lib/python3.*/turtledemo", "usr/lib/python3.*/config-*",
    "debootstrap",
)  # fmt: skip


def debootstrap(target: Path, source: AptSource, packages: Sequence[str], arch: str) -> None:
    """``debootstrap --variant=minbase`` of ``source`` into ``target`` (about 80 s)."""
    tool = require_tool("debootstrap", "debootstrap")
    if os.geteuid() != 0:
        from ingot.errors import ConfigError

        raise ConfigError("building the ramdisk runs debootstrap and chroot: run it as root.")
    include = ",".join(sorted({*BASE_PACKAGES, *packages}))
    LOG.info("debootstrap %s %s (+%s) into %s", source.suite, source.uri, include, target)
    run(
        [tool, "--variant=minbase", f"--arch={arch}", f"--include={include}",
         source.suite, str(target), source.uri],
        "debootstrap",
    )  # fmt: skip


def trim(root: Path) -> None:
    """Delete what a ramdisk does not need (see TRIM) and every ``__pycache__``."""
    for pattern in TRIM:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for cache in sorted(root.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def compile_python(root: Path) -> None:
    """Byte-compile Python with unchecked-hash pycs: fast start under slow CPUs, reproducible
    (no source timestamps inside the .pyc files)."""
    run(
        ["chroot", str(root), "python3", "-m", "compileall", "-q",
         "--invalidation-mode", "unchecked-hash", "/usr/lib/python3"]
        + [f"/usr/lib/{p.name}" for p in sorted((root / "usr/lib").glob("python3.*"))],
        "compileall in the ramdisk root",
    )  # fmt: skip


def install_wheel(root: Path, wheel: Path) -> None:
    """Unpack the pure-Python agent wheel into dist-packages and add the launcher."""
    target = root / "usr/lib/python3/dist-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    launcher = root / "usr/local/bin/ingot-agent"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(init_script.AGENT_LAUNCHER)
    launcher.chmod(0o755)


def install_modules(root: Path, tree: ModuleTree, order: Iterable[str], version: str) -> None:
    """Copy the chosen modules and write /etc/ingot/modules.load in load order.

    ``modules.dep`` etc. come from ``depmod`` when kmod is installed on the build host, so
    ``modprobe`` works in the ramdisk for operators; /init itself only needs the order file.
    """
    names = list(order)
    dest = root / "lib/modules" / version
    if dest.exists():
        shutil.rmtree(dest)
    paths = relative_paths(tree, names)
    for rel in paths:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tree.root / rel, dest / rel)
    for extra in ("modules.builtin", "modules.order", "modules.builtin.modinfo"):
        if (tree.root / extra).exists():
            shutil.copy2(tree.root / extra, dest / extra)
    depmod = shutil.which("depmod") or shutil.which("depmod", path="/usr/sbin:/sbin")
    if depmod:
        run([depmod, "-b", str(root), version], "depmod")
    config = root / "etc/ingot"
    config.mkdir(parents=True, exist_ok=True)
    (config / "modules.load").write_text("".join(f"{p}\n" for p in paths))


def install_init(root: Path) -> None:
    """Write /init, the DHCP hook, busybox applet links for missing tools, and clean /etc."""
    init = root / "init"
    init.write_text(init_script.INIT)
    init.chmod(0o755)
    hook = root / "etc/ingot/udhcpc.script"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(init_script.UDHCPC_SCRIPT)
    hook.chmod(0o755)
    sbin = root / "usr/local/sbin"
    sbin.mkdir(parents=True, exist_ok=True)
    for applet in init_script.APPLETS:
        present = any(
            (root / d / applet).exists() or (root / d / applet).is_symlink()
            for d in ("usr/bin", "usr/sbin", "bin", "sbin")
        )
        if not present:
            (sbin / applet).symlink_to("/bin/busybox")
    (root / "etc/hostname").write_text("ingot-ramdisk\n")
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("")
    (root / "etc/fstab").write_text("# the ramdisk mounts nothing from disk\n")
