"""BootFiles writes exactly one loader's per-MAC configs, stages kernels, and cleans up."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ingot.errors import InvalidInput
from ingot.netboot.bootfiles import BootFiles
from ingot.netboot.templates import AgentCmdline

NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
MACS = ["52:54:00:00:00:30", "52:54:00:00:00:31"]
HTTP = "http://10.99.0.1:8080"


@pytest.fixture
def kernel_pair(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "vmlinuz").write_bytes(b"KERNEL")
    (src / "initrd").write_bytes(b"RAMDISK")
    return src / "vmlinuz", src / "initrd"


@pytest.fixture
def boot(tmp_path: Path) -> BootFiles:
    return BootFiles(tmp_path / "root", http_url=HTTP)


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_ipxe_ramdisk_stages_files_and_writes_per_mac(
    boot: BootFiles, kernel_pair: tuple[Path, Path]
) -> None:
    kernel, ramdisk = kernel_pair
    prepared = boot.prepare_ramdisk(
        NODE, MACS, "bios", kernel, f"file://{ramdisk}", AgentCmdline(api_url="http://api:6385")
    )
    assert prepared.loader == "ipxe"
    assert _tree(boot.root_dir) == {
        f"{NODE}/deploy_kernel",
        f"{NODE}/deploy_ramdisk",
        "ipxe/52-54-00-00-00-30.ipxe",
        "ipxe/52-54-00-00-00-31.ipxe",
    }
    assert (boot.root_dir / NODE / "deploy_ramdisk").read_bytes() == b"RAMDISK"
    script = (boot.root_dir / "ipxe/52-54-00-00-00-31.ipxe").read_text()
    assert f"kernel --name kernel {HTTP}/{NODE}/deploy_kernel initrd=ramdisk" in script
    assert "BOOTIF=01-52-54-00-00-00-31" in script
    mode = stat.S_IMODE((boot.root_dir / "ipxe/52-54-00-00-00-31.ipxe").stat().st_mode)
    assert mode == 0o644  # dnsmasq's TFTP runs unprivileged


def test_ipxe_uses_http_urls_as_given(boot: BootFiles) -> None:
    boot.prepare_ramdisk(NODE, MACS[:1], "uefi", "http://img/k", "http://img/r", "x=1")
    script = (boot.root_dir / "ipxe/52-54-00-00-00-30.ipxe").read_text()
    assert (
        "kernel --name kernel http://img/k initrd=ramdisk x=1 BOOTIF=01-52-54-00-00-00-30" in script
    )
    assert not (boot.root_dir / NODE).exists()


def test_switching_loader_removes_stale_configs(
    boot: BootFiles, kernel_pair: tuple[Path, Path]
) -> None:
    kernel, ramdisk = kernel_pair
    boot.prepare_ramdisk(NODE, MACS[:1], "bios", kernel, ramdisk, "x", interface="pxe")
    pxe = boot.root_dir / "pxelinux.cfg/01-52-54-00-00-00-30"
    assert "kernel 1be26c0b-03f2-4d2e-ae87-c02d7f33c123/deploy_kernel" in pxe.read_text()
    boot.prepare_ramdisk(NODE, MACS[:1], "uefi", kernel, ramdisk, "x", interface="pxe")
    assert not pxe.exists()
    grub = (boot.root_dir / "grub/grub.cfg-01-52-54-00-00-00-30").read_text()
    assert f"linux /{NODE}/deploy_kernel x BOOTIF=01-52-54-00-00-00-30" in grub
    assert (boot.root_dir / "52:54:00:00:00:30.conf").read_text() == grub


def test_pxelinux_refuses_http_kernel(boot: BootFiles) -> None:
    with pytest.raises(InvalidInput, match="TFTP"):
        boot.prepare_ramdisk(NODE, MACS, "bios", "http://a/k", "http://a/r", "x", interface="pxe")


def test_missing_kernel_file(boot: BootFiles, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        boot.prepare_ramdisk(NODE, MACS, "bios", tmp_path / "nope", tmp_path / "nope", "x")


def test_prepare_instance_local_boot_drops_deploy_files(
    boot: BootFiles, kernel_pair: tuple[Path, Path]
) -> None:
    boot.prepare_ramdisk(NODE, MACS, "bios", *kernel_pair, "x")
    boot.prepare_instance(NODE, MACS, "bios")
    assert _tree(boot.root_dir) == {"ipxe/52-54-00-00-00-30.ipxe", "ipxe/52-54-00-00-00-31.ipxe"}
    assert "sanboot" in (boot.root_dir / "ipxe/52-54-00-00-00-30.ipxe").read_text()


def test_prepare_instance_partition_netboot(
    boot: BootFiles, kernel_pair: tuple[Path, Path]
) -> None:
    kernel, ramdisk = kernel_pair
    boot.prepare_instance(
        NODE,
        MACS[:1],
        "bios",
        interface="pxe",
        kernel_url=kernel,
        ramdisk_url=ramdisk,
        root_uuid="abcd-1234",
    )
    text = (boot.root_dir / "pxelinux.cfg/01-52-54-00-00-00-30").read_text()
    assert f"append initrd={NODE}/ramdisk root=UUID=abcd-1234 ro" in text


def test_partition_netboot_needs_root_uuid(boot: BootFiles, kernel_pair: tuple[Path, Path]) -> None:
    with pytest.raises(InvalidInput, match="root_uuid"):
        boot.prepare_instance(
            NODE, MACS, "bios", kernel_url=kernel_pair[0], ramdisk_url=kernel_pair[1]
        )


def test_clean_up_is_idempotent(boot: BootFiles, kernel_pair: tuple[Path, Path]) -> None:
    boot.prepare_ramdisk(NODE, MACS, "bios", *kernel_pair, "x")
    boot.ensure_chain_files()
    boot.clean_up(NODE, MACS)
    boot.clean_up(NODE, MACS)
    assert _tree(boot.root_dir) == {"boot.ipxe", "grub/grub.cfg"}


@pytest.mark.parametrize("bad", ["../etc", "", "pxelinux.cfg", ".hidden", "a/b"])
def test_node_dir_refuses_unsafe_ids(boot: BootFiles, bad: str) -> None:
    with pytest.raises(InvalidInput):
        boot.node_dir(bad)


def test_no_macs_refused(boot: BootFiles) -> None:
    with pytest.raises(InvalidInput, match="port"):
        boot.prepare_instance(NODE, [], "bios")
