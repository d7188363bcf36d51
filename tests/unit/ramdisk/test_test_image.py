"""The test image's layout, built without root: MBR + one active EF partition whose FAT holds
the kernel, the initramfs, syslinux (BIOS) and BOOTX64.EFI (UEFI); three MBR slots stay free."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ingot.images.build_test import MARKER, TestImageSpec, build_test_image, is_static_elf
from ingot.ramdisk.cpio import read_newc

TOOLS = ("sfdisk", "mkfs.fat", "mcopy", "syslinux", "grub-mkstandalone")
missing = [t for t in TOOLS if not (shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin"))]
pytestmark = pytest.mark.skipif(
    bool(missing) or not Path("/bin/busybox").is_file() or not is_static_elf(Path("/bin/busybox")),
    reason=f"needs {', '.join(missing) or 'busybox-static'}: bash scripts/vm-tier-deps.sh",
)


@pytest.fixture
def kernel(tmp_path: Path) -> tuple[Path, Path]:
    modules = tmp_path / "lib/modules/6.1.0-test"
    for rel, deps in (("virtio/virtio_ring.ko", ""), ("virtio/virtio.ko", "virtio_ring"),
                      ("block/virtio_blk.ko", "virtio,virtio_ring"), ("fs/isofs.ko", "cdrom"),
                      ("cdrom/cdrom.ko", "")):  # fmt: skip
        path = modules / "kernel" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0depends=" + deps.encode() + b"\0")
    vmlinuz = tmp_path / "vmlinuz"
    vmlinuz.write_bytes(b"not really a kernel")
    return vmlinuz, modules


def test_layout_boots_both_ways_and_leaves_room(tmp_path: Path, kernel: tuple[Path, Path]) -> None:
    out = tmp_path / "image.raw"
    spec = TestImageSpec(size_mb=32, kernel=kernel[0], modules_dir=kernel[1])
    image = build_test_image(spec, out, cache_dir=tmp_path / "cache")
    assert image.size == out.stat().st_size == 32 * 1024 * 1024
    table = json.loads(subprocess.run(["sfdisk", "--json", str(out)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]  # fmt: skip
    assert table["label"] == "dos"
    [part] = table["partitions"]
    assert (part["start"], part["type"], part.get("bootable")) == (2048, "ef", True)
    mbr = out.read_bytes()[:512]
    assert (
        mbr[510:] == b"\x55\xaa"
        and mbr[:440] == Path("/usr/lib/syslinux/mbr/mbr.bin").read_bytes()[:440]
    )

    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    mdir = ["mdir", "-a", "-/", "-b", "-i", f"{out}@@1M", "::"]
    listing = subprocess.run(mdir, capture_output=True, text=True, check=True, env=env).stdout
    for name in ("::/vmlinuz", "::/initrd.gz", "::/syslinux/ldlinux.sys",
                 "::/syslinux/syslinux.cfg", "::/EFI/BOOT/BOOTX64.EFI"):  # fmt: skip
        assert name in listing, listing
    initrd = subprocess.run(["mtype", "-i", f"{out}@@1M", "::/initrd.gz"], capture_output=True,
                            check=True, env=env).stdout  # fmt: skip
    entries = {name: data for name, _, data in read_newc(gzip.decompress(initrd))}
    assert MARKER.encode() in entries["init"]
    assert entries["etc/modules.load"].split() == [
        b"cdrom.ko",
        b"isofs.ko",
        b"virtio_ring.ko",
        b"virtio.ko",
        b"virtio_blk.ko",
    ]


def test_kernel_without_modules_is_refused(tmp_path: Path, kernel: tuple[Path, Path]) -> None:
    from ingot.errors import InvalidInput

    with pytest.raises(InvalidInput, match="modules directory"):
        build_test_image(TestImageSpec(kernel=kernel[0]), tmp_path / "x.raw", tmp_path)
