"""Module load order from .modinfo ``depends=``: dependencies first, stable, loud on gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingot.errors import ConfigError
from ingot.ramdisk.kmods import ModuleTree, load_order, relative_paths


def fake_module(root: Path, rel: str, depends: str) -> None:
    """A file that looks like a .ko to the scanner: .modinfo strings NUL-separated."""
    path = root / "kernel" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF junk\0license=GPL\0depends=" + depends.encode() + b"\0name=x\0")


@pytest.fixture
def tree(tmp_path: Path) -> ModuleTree:
    for rel, deps in {
        "drivers/virtio/virtio_ring.ko": "",
        "drivers/virtio/virtio.ko": "virtio_ring",
        "drivers/block/virtio_blk.ko": "virtio,virtio_ring",
        "drivers/net/virtio_net.ko": "virtio_ring,virtio,net_failover",
        "drivers/net/net_failover.ko": "failover",
        "net/core/failover.ko": "",
        "drivers/nvme/host/nvme-core.ko": "",
        "drivers/nvme/host/nvme.ko": "nvme-core",
        "drivers/scsi/sd_mod.ko": "scsi_mod,t10-pi",
        "drivers/scsi/scsi_mod.ko": "scsi_common",
        "drivers/scsi/scsi_common.ko": "",
        "block/t10-pi.ko": "crc_t10dif",
    }.items():
        fake_module(tmp_path, rel, deps)
    (tmp_path / "modules.builtin").write_text("kernel/lib/crc-t10dif.ko\n")
    return ModuleTree.scan(tmp_path)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (["virtio_blk"], ["virtio_ring", "virtio", "virtio_blk"]),
        (
            ["virtio_net", "virtio_blk"],
            ["virtio_ring", "virtio", "virtio_blk", "failover", "net_failover", "virtio_net"],
        ),
        (["nvme"], ["nvme_core", "nvme"]),  # depends= spells nvme-core
        (["sd_mod"], ["scsi_common", "scsi_mod", "t10_pi", "sd_mod"]),  # crc_t10dif built in
        (["no_such_module", "virtio"], ["virtio_ring", "virtio"]),  # absent: skipped
    ],
)
def test_load_order_puts_dependencies_first(
    tree: ModuleTree, wanted: list[str], expected: list[str]
) -> None:
    assert load_order(tree, wanted) == expected


def test_order_is_independent_of_request_order(tree: ModuleTree) -> None:
    names = ["virtio_net", "nvme", "sd_mod", "virtio_blk"]
    assert load_order(tree, names) == load_order(tree, list(reversed(names)))


def test_every_module_loads_after_its_dependencies(tree: ModuleTree) -> None:
    order = load_order(tree, list(tree.files))
    for index, name in enumerate(order):
        for dep in tree.depends(name):
            assert dep in tree.builtin or order.index(dep) < index


def test_missing_dependency_names_both_modules(tree: ModuleTree, tmp_path: Path) -> None:
    fake_module(tmp_path, "drivers/net/igb.ko", "dca")
    with pytest.raises(ConfigError, match="igb depends on dca"):
        load_order(ModuleTree.scan(tmp_path), ["igb"])


def test_cycle_is_reported(tmp_path: Path) -> None:
    fake_module(tmp_path, "a.ko", "b")
    fake_module(tmp_path, "b.ko", "a")
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        load_order(ModuleTree.scan(tmp_path), ["a"])


def test_relative_paths_follow_the_order(tree: ModuleTree) -> None:
    assert relative_paths(tree, ["virtio_ring", "virtio"]) == [
        "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio.ko",
    ]


def test_empty_tree_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kernel modules"):
        ModuleTree.scan(tmp_path)
