"""Image format from content, and refusal of unsafe qcow2."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ingot.errors import InvalidInput
from ingot.images.formats import detect


def _qcow2(version: int = 3, backing_offset: int = 0, incompatible: int = 0) -> bytes:
    header = b"QFI\xfb" + struct.pack(">IQI", version, backing_offset, 0)
    header = header.ljust(72, b"\0") + struct.pack(">Q", incompatible)
    return header.ljust(512, b"\0")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\0" * 4096, "raw"),
        (b"\x55\xaa" * 300, "raw"),
        (_qcow2(), "qcow2"),
        (_qcow2(version=2), "qcow2"),
        (b"\0" * 0x8001 + b"CD001" + b"\0" * 100, "iso"),
    ],
)
def test_detect(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "image.raw"  # the extension must not matter
    path.write_bytes(data)
    assert detect(path) == expected


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_qcow2(backing_offset=512), "backing file"),
        (_qcow2(incompatible=4), "external data file"),
        (b"KDMV" + b"\0" * 100, "VMDK"),
        (b"\x1f\x8b\x08" + b"\0" * 100, "gzip"),
    ],
)
def test_refused(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "image.qcow2"
    path.write_bytes(data)
    with pytest.raises(InvalidInput, match=match):
        detect(path)
