"""The embedded TFTP server with tftpy's own client over 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import tftpy

from ingot.errors import ConfigError
from ingot.netboot import tftp

BIG = os.urandom(300_000)  # several hundred blocks, exercises the ACK loop


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tftp")
    root = base / "root"
    (root / "pxelinux.cfg").mkdir(parents=True)
    (root / "pxelinux.cfg" / "01-52-54-00-00-00-30").write_text("default local\n")
    (root / "undionly.kpxe").write_bytes(BIG)
    (base / "secret").write_text("outside")
    (root / "escape").symlink_to(base / "secret")
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[tftp.TftpHandle]:
    handle = tftp.start(tftp.Config(root=root, port=0))
    yield handle
    handle.stop()


def _client(server: tftp.TftpHandle) -> tftpy.TftpClient:
    return tftpy.TftpClient("127.0.0.1", server.port, options={"blksize": 1468})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pxelinux.cfg/01-52-54-00-00-00-30", b"default local\n"),
        ("/pxelinux.cfg/01-52-54-00-00-00-30", b"default local\n"),
        ("undionly.kpxe", BIG),
    ],
)
def test_download(server: tftp.TftpHandle, tmp_path: Path, name: str, expected: bytes) -> None:
    out = tmp_path / "out"
    _client(server).download(name, str(out), timeout=2)
    assert out.read_bytes() == expected


@pytest.mark.parametrize("name", ["missing", "pxelinux.cfg", "../secret", "escape"])
def test_refused(server: tftp.TftpHandle, tmp_path: Path, name: str) -> None:
    with pytest.raises(tftpy.TftpException):
        _client(server).download(name, str(tmp_path / "out"), timeout=1)
    assert server.running  # a bad request never kills the server


def test_upload_refused(server: tftp.TftpHandle, root: Path, tmp_path: Path) -> None:
    src = tmp_path / "upload"
    src.write_bytes(b"evil")
    with pytest.raises(tftpy.TftpException):
        _client(server).upload("dropped", str(src), timeout=1)
    assert not (root / "dropped").exists()
    assert server.running


def test_stop_is_prompt_and_idempotent(root: Path) -> None:
    handle = tftp.start(tftp.Config(root=root, port=0, timeout=30))
    handle.stop(timeout=2)  # would take 30 s without the wake-up packet
    assert not handle.running
    handle.stop()


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        tftp.start(tftp.Config(root=tmp_path / "nope", port=0))


def test_port_in_use(server: tftp.TftpHandle, root: Path) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        tftp.start(tftp.Config(root=root, port=server.port))
