"""Bootloaders are found at Debian's paths, or the error names the package to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingot.errors import ConfigError
from ingot.netboot import bootloaders


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "sysroot"
    ipxe = root / "usr/lib/ipxe"
    ipxe.mkdir(parents=True)
    (ipxe / "undionly.kpxe").write_bytes(b"UNDI")
    (ipxe / "ipxe.efi").write_bytes(b"EFI")
    return root


def test_install_copies(fake_root: Path, tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    installed = bootloaders.install(boot, ["undionly.kpxe", "ipxe.efi"], search_root=fake_root)
    assert (boot / "undionly.kpxe").read_bytes() == b"UNDI"
    assert set(installed) == {"undionly.kpxe", "ipxe.efi"}


def test_missing_names_every_package(fake_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        bootloaders.install(tmp_path / "boot", ["pxelinux.0", "grubx64.efi"], fake_root)
    assert "apt-get install pxelinux" in info.value.message
    assert "apt-get install grub-efi-amd64-signed" in info.value.message
    assert not (tmp_path / "boot").exists()


def test_unknown_name(fake_root: Path) -> None:
    with pytest.raises(ConfigError, match="unknown bootloader"):
        bootloaders.find("bootx64.efi", fake_root)
