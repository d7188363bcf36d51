"""The initramfs archive is byte-for-byte reproducible and readable by a real cpio."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ingot.ramdisk.cpio import pack_initramfs, read_newc


def make_tree(root: Path, order: list[str]) -> None:
    """The same tree, created in a different order (and so with different inode numbers)."""
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    (root / "bin").mkdir(exist_ok=True)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "init").chmod(0o755)


NAMES = ["init", "bin/busybox", "etc/ingot/modules.load", "lib/modules/a.ko", "etc/hostname"]


def test_same_tree_gives_same_bytes(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    make_tree(one, NAMES)
    make_tree(two, list(reversed(NAMES)))
    os.utime(two / "init", (1, 12345))  # different mtimes do not matter
    pack_initramfs(one, tmp_path / "one.gz", mtime=100)
    pack_initramfs(two, tmp_path / "two.gz", mtime=100)
    assert (tmp_path / "one.gz").read_bytes() == (tmp_path / "two.gz").read_bytes()


def test_content_change_changes_bytes(tmp_path: Path) -> None:
    make_tree(tmp_path / "t", NAMES)
    pack_initramfs(tmp_path / "t", tmp_path / "a.gz")
    (tmp_path / "t" / "etc" / "hostname").write_text("other\n")
    pack_initramfs(tmp_path / "t", tmp_path / "b.gz")
    assert (tmp_path / "a.gz").read_bytes() != (tmp_path / "b.gz").read_bytes()


def test_entries_sorted_parents_first_with_modes(tmp_path: Path) -> None:
    make_tree(tmp_path / "t", NAMES)
    pack_initramfs(tmp_path / "t", tmp_path / "a.gz")
    entries = read_newc(gzip.decompress((tmp_path / "a.gz").read_bytes()))
    names = [name for name, _, _ in entries]
    assert names == sorted(names)
    assert names.index("etc") < names.index("etc/ingot") < names.index("etc/ingot/modules.load")
    by_name = {name: (mode, data) for name, mode, data in entries}
    assert by_name["init"][0] & 0o777 == 0o755
    assert by_name["bin/sh"] == (0o120777, b"busybox")
    assert by_name["etc/hostname"][1] == b"content of etc/hostname\n"


@pytest.mark.skipif(not shutil.which("busybox"), reason="busybox not installed")
def test_busybox_cpio_extracts_it(tmp_path: Path) -> None:
    make_tree(tmp_path / "t", NAMES)
    pack_initramfs(tmp_path / "t", tmp_path / "a.gz")
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(
        ["busybox", "cpio", "-i", "-d"],
        input=gzip.decompress((tmp_path / "a.gz").read_bytes()),
        cwd=out,
        check=True,
        capture_output=True,
    )
    assert (out / "lib/modules/a.ko").read_text() == "content of lib/modules/a.ko\n"
    assert os.readlink(out / "bin/sh") == "busybox"
