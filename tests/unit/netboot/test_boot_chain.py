"""What a server fetches: BootFiles writes, then real TFTP and HTTP serve exactly that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tftpy

from ingot.netboot import http, tftp
from ingot.netboot.bootfiles import BootFiles
from ingot.netboot.templates import AgentCmdline

NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
MAC = "52:54:00:00:00:30"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Path, http.HttpBootServer, tftp.TftpHandle]]:
    root = tmp_path / "boot"
    root.mkdir()
    web = http.start(http.Config(root=root, port=0))
    tftp_server = tftp.start(tftp.Config(root=root, port=0))
    yield root, web, tftp_server
    tftp_server.stop()
    web.stop()


def test_ipxe_and_pxelinux_chain(
    servers: tuple[Path, http.HttpBootServer, tftp.TftpHandle], tmp_path: Path
) -> None:
    root, web, tftp_server = servers
    kernel, ramdisk = tmp_path / "vmlinuz", tmp_path / "initrd"
    kernel.write_bytes(b"K" * 5000)
    ramdisk.write_bytes(b"R" * 7000)
    files = BootFiles(root, http_url=web.url)
    files.ensure_chain_files()
    cmdline = AgentCmdline(api_url="http://10.99.0.1:6385")

    # iPXE: boot.ipxe -> per-MAC script -> kernel URL, all over HTTP
    files.prepare_ramdisk(NODE, [MAC], "bios", kernel, ramdisk, cmdline)
    with httpx.Client(base_url=web.url, timeout=5) as client:
        assert f"{web.url}/ipxe/" in client.get("/boot.ipxe").text
        script = client.get("/ipxe/52-54-00-00-00-30.ipxe").text
        kernel_url = next(w for w in script.split() if w.endswith("/deploy_kernel"))
        assert httpx.get(kernel_url, timeout=5).content == b"K" * 5000

    # pxelinux: config and kernel over TFTP
    files.prepare_ramdisk(NODE, [MAC], "bios", kernel, ramdisk, cmdline, interface="pxe")
    client = tftpy.TftpClient("127.0.0.1", tftp_server.port)
    out = tmp_path / "cfg"
    client.download("pxelinux.cfg/01-52-54-00-00-00-30", str(out), timeout=2)
    text = out.read_text()
    assert "BOOTIF=01-52-54-00-00-00-30" in text
    kernel_path = next(
        line.split()[1] for line in text.splitlines() if "kernel" in line.split()[:1]
    )
    client.download(kernel_path, str(out), timeout=2)
    assert out.read_bytes() == b"K" * 5000
