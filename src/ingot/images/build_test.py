"""A tiny bootable whole-disk test image: boots on BIOS and UEFI, reads the config drive and
prints ``INGOT-BOOTED hostname=<h>`` on the serial console.

Layout: an MBR with one FAT partition (type EF, active) holding a Debian kernel and a busybox
initramfs. BIOS boots syslinux's ``mbr.bin`` -> syslinux on the FAT; UEFI boots
``EFI/BOOT/BOOTX64.EFI``, a standalone GRUB. Everything is written into the image file with
sfdisk, mkfs.fat ``--offset`` and mtools: no loop device, no mount, no root (the build hosts we
use have no partition parsers or VFAT in their kernel anyway). Three of the four MBR slots stay
free, so the agent can append the ``config-2`` partition at the end of the target disk.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ingot.errors import ConfigError, InvalidInput
from ingot.ramdisk import cpio, debian
from ingot.ramdisk.kmods import ModuleTree, load_order, relative_paths

MARKER = "INGOT-BOOTED"
PART_START = 2048  # sectors: 1 MiB, the usual alignment
TEST_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "ahci", "sd_mod", "nvme", "isofs")
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
BOOT_ARGS = "console=tty0 console=ttyS0,115200 panic=-1 quiet"  # last console= is /dev/console

INIT = r"""#!/bin/busybox sh
# Ingot test image: read the config drive, print the marker, stay up (ingot.poweroff=1: off).
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/modules.load
HOST=unknown DRIVE=
# The config drive is an ISO9660 volume "config-2": "CD001" at byte 32769, the volume id at 32808.
for try in $(seq 1 60); do
  for dev in /dev/vd?? /dev/vd??? /dev/sd?? /dev/sd??? /dev/nvme*n*p*; do
    [ -b "$dev" ] || continue
    magic=$(dd if="$dev" bs=1 skip=32769 count=5 2>/dev/null)
    label=$(dd if="$dev" bs=1 skip=32808 count=8 2>/dev/null)
    if [ "$magic" = CD001 ] && [ "$label" = config-2 ]; then DRIVE=$dev; break 2; fi
  done
  sleep 0.25
done
if [ -n "$DRIVE" ] && mkdir -p /mnt && mount -t iso9660 -o ro "$DRIVE" /mnt; then
  META=/mnt/openstack/latest/meta_data.json
  field() { tr ',{}' '\n\n\n' < "$META" | sed -n "s/^ *\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -n1; }
  HOST=$(field hostname); [ -n "$HOST" ] || HOST=$(field name)
  hostname "$HOST"
else
  echo "ingot-test-image: no config drive found"
fi
echo "@MARKER@ hostname=$HOST drive=${DRIVE:-none} uptime=$(cut -d' ' -f1 /proc/uptime)"
grep -q ingot.poweroff=1 /proc/cmdline && poweroff -f
while true; do sleep 3600; done
"""

SYSLINUX_CFG = f"""DEFAULT ingot
TIMEOUT 0
PROMPT 0
SERIAL 0 115200
LABEL ingot
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz {BOOT_ARGS}
"""

GRUB_CFG = f"""set timeout=0
search --no-floppy --set=root --file /ingot-test-image
linux /vmlinuz {BOOT_ARGS}
initrd /initrd.gz
boot
"""


@dataclass(frozen=True)
class TestImageSpec:
    """``kernel`` None: Debian's kernel via apt (its modules too); else bring ``modules_dir``."""

    __test__ = False  # not a pytest test class, despite the name

    size_mb: int = 64
    kernel: Path | None = None
    modules_dir: Path | None = None
    uefi: bool = True
    busybox: Path = Path("/bin/busybox")


@dataclass(frozen=True)
class TestImage:
    """The built image and its sha256 (for instance_info image_checksum)."""

    __test__ = False
    path: Path
    size: int
    sha256: str
    uefi: bool


def is_static_elf(path: Path) -> bool:
    """True for an ELF64 executable without a PT_INTERP (no dynamic loader needed)."""
    data = path.read_bytes()
    if data[:5] != b"\x7fELF\x02":
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def _kernel(spec: TestImageSpec, cache_dir: Path) -> tuple[Path, ModuleTree]:
    if spec.kernel is not None:
        if spec.modules_dir is None:
            raise InvalidInput("--kernel needs its modules directory (lib/modules/<version>).")
        return spec.kernel, ModuleTree.scan(spec.modules_dir)
    deb = debian.download(debian.kernel_package(), cache_dir / "debs")
    unpacked = cache_dir / f"kernel-{debian.sha256_file(deb)[:16]}"
    if not (unpacked / "lib" / "modules").is_dir():
        debian.unpack_kernel(deb, unpacked)
    vmlinuz = sorted((unpacked / "boot").glob("vmlinuz-*"))[0]
    return vmlinuz, ModuleTree.scan(sorted((unpacked / "lib" / "modules").iterdir())[0])


def build_initrd(tree: ModuleTree, busybox: Path, dest: Path) -> None:
    """The busybox initramfs of the test image: /init, busybox, the modules in load order."""
    if not busybox.is_file() or not is_static_elf(busybox):
        raise ConfigError(
            f"{busybox} is not a static busybox; install it: apt-get install busybox-static"
        )
    with tempfile.TemporaryDirectory(prefix="ingot-testrd-") as tmp:
        root = Path(tmp)
        for d in ("bin", "proc", "sys", "dev", "mnt", "etc", "lib/modules"):
            (root / d).mkdir(parents=True)
        shutil.copy2(busybox, root / "bin/busybox")
        init = root / "init"
        init.write_text(INIT.replace("@MARKER@", MARKER))
        init.chmod(0o755)
        paths = relative_paths(tree, load_order(tree, TEST_MODULES))
        for rel in paths:
            shutil.copy2(tree.root / rel, root / "lib/modules" / Path(rel).name)
        (root / "etc/modules.load").write_text("".join(f"{Path(p).name}\n" for p in paths))
        cpio.pack_initramfs(root, dest)


def _grub_efi(dest: Path) -> None:
    tool = debian.require_tool("grub-mkstandalone", "grub-common grub-efi-amd64-bin")
    if not Path("/usr/lib/grub/x86_64-efi").is_dir():
        raise ConfigError("GRUB EFI modules missing; install: apt-get install grub-efi-amd64-bin")
    with tempfile.TemporaryDirectory(prefix="ingot-grub-") as tmp:
        cfg = Path(tmp) / "grub.cfg"
        cfg.write_text(GRUB_CFG)
        debian.run(
            [tool, "-O", "x86_64-efi", "-o", str(dest), "--locales=", "--fonts=", "--themes=",
             "--modules=part_msdos part_gpt fat",
             "--install-modules=linux normal search search_fs_file part_msdos part_gpt fat "
             "configfile echo test",
             f"boot/grub/grub.cfg={cfg}"],
            "grub-mkstandalone",
        )  # fmt: skip


def build_test_image(spec: TestImageSpec, output: Path, cache_dir: Path) -> TestImage:
    """Write the test image to ``output``; raises ConfigError naming a missing package."""
    if not 32 <= spec.size_mb <= 4096:
        raise InvalidInput(f"--size-mb {spec.size_mb}: use 32 to 4096 (64 is plenty).")
    sfdisk = debian.require_tool("sfdisk", "fdisk")
    mkfs = debian.require_tool("mkfs.fat", "dosfstools")
    mcopy = debian.require_tool("mcopy", "mtools")
    mmd = debian.require_tool("mmd", "mtools")
    syslinux = debian.require_tool("syslinux", "syslinux syslinux-common")
    if not SYSLINUX_MBR.is_file():
        raise ConfigError(f"{SYSLINUX_MBR} missing; install: apt-get install syslinux-common")
    vmlinuz, tree = _kernel(spec, cache_dir)
    size = spec.size_mb * 1024 * 1024
    offset = PART_START * 512
    env_fat = f"{output}@@{offset}"
    os.environ.setdefault("MTOOLS_SKIP_CHECK", "1")  # mtools refuses odd geometries otherwise
    with tempfile.TemporaryDirectory(prefix="ingot-testimg-") as tmp:
        work = Path(tmp)
        build_initrd(tree, spec.busybox, work / "initrd.gz")
        (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
        (work / "ingot-test-image").write_text("Ingot test image: prints " + MARKER + "\n")
        output.unlink(missing_ok=True)
        with open(output, "wb") as fh:
            fh.truncate(size)
        _partition(sfdisk, output)
        blocks = (size - offset) // 1024
        debian.run([mkfs, "-n", "INGOTBOOT", f"--offset={PART_START}", str(output),
                    str(blocks)], "mkfs.fat")  # fmt: skip
        for directory in ("::/syslinux", "::/EFI", "::/EFI/BOOT"):
            debian.run([mmd, "-i", env_fat, directory], f"mmd {directory}")
        files = [
            (vmlinuz, "::/vmlinuz"),
            (work / "initrd.gz", "::/initrd.gz"),
            (work / "syslinux.cfg", "::/syslinux/syslinux.cfg"),
            (work / "ingot-test-image", "::/ingot-test-image"),
        ]
        if spec.uefi:
            _grub_efi(work / "BOOTX64.EFI")
            files.append((work / "BOOTX64.EFI", "::/EFI/BOOT/BOOTX64.EFI"))
        for source, target in files:
            debian.run([mcopy, "-i", env_fat, str(source), target], f"mcopy {target}")
        debian.run([syslinux, f"--offset={offset}", "--install", "--directory", "/syslinux",
                    str(output)], "syslinux")  # fmt: skip
        with open(output, "r+b") as fh:  # boot code only: keep the partition table (byte 446+)
            fh.write(SYSLINUX_MBR.read_bytes()[:440])
    digest = debian.sha256_file(output)
    return TestImage(path=output, size=size, sha256=digest, uefi=spec.uefi)


def _partition(sfdisk: str, output: Path) -> None:
    """One active partition of type EF (EFI system) from 1 MiB to the image's end."""
    layout = f"label: dos\nlabel-id: 0x1a2b3c4d\nstart={PART_START}, type=ef, bootable\n"
    result = subprocess.run(
        [sfdisk, "-q", str(output)], input=layout, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ConfigError(f"sfdisk failed on {output}: {result.stderr.strip()}")
