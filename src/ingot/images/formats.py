"""Disk image format from content, never from the file name.

Only raw, qcow2 and ISO are deployable. A qcow2 with a backing file or an external data file
is refused: writing it would make qemu-img read a path of the image author's choosing on
the machine doing the conversion (CVE-2022-47951 class).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

from ingot.errors import InvalidInput

ImageFormat = Literal["raw", "qcow2", "iso"]

_QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_EXTERNAL_DATA_FILE = 1 << 2  # incompatible_features bit 2
# Formats we recognise but do not deploy, with the fix to tell the operator.
_REFUSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"KDMV", "VMDK"),
    (0, b"vhdxfile", "VHDX"),
    (0, b"conectix", "VHD"),
    (64, b"\x7f\x10\xda\xbe", "VDI"),
    (0, b"\x1f\x8b", "gzip-compressed"),
    (0, b"\xfd7zXZ\x00", "xz-compressed"),
    (0, b"BZh", "bzip2-compressed"),
    (0, b"\x28\xb5\x2f\xfd", "zstd-compressed"),
)


def detect(path: Path) -> ImageFormat:
    """Return the image's format; raises InvalidInput for unsafe or unsupported images."""
    with path.open("rb") as handle:
        head = handle.read(0x8006)
    if head.startswith(_QCOW2_MAGIC):
        _check_qcow2(path, head)
        return "qcow2"
    for offset, magic, name in _REFUSED:
        if head[offset : offset + len(magic)] == magic:
            raise InvalidInput(
                f"image {path.name} is {name}, which Ingot does not deploy; convert it first "
                "(e.g. qemu-img convert -O qcow2, or decompress it)."
            )
    if head[0x8001:0x8006] == b"CD001":
        return "iso"
    return "raw"


def _check_qcow2(path: Path, head: bytes) -> None:
    if len(head) < 32:
        raise InvalidInput(f"image {path.name} has a truncated qcow2 header.")
    version, backing_offset = struct.unpack_from(">IQ", head, 4)
    if backing_offset != 0:
        raise InvalidInput(
            f"image {path.name} is a qcow2 with a backing file, which is refused for safety; "
            "flatten it with qemu-img convert -O qcow2."
        )
    if version >= 3 and len(head) >= 80:
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & _QCOW2_EXTERNAL_DATA_FILE:
            raise InvalidInput(
                f"image {path.name} is a qcow2 with an external data file, which is refused "
                "for safety; convert it with qemu-img convert -O qcow2."
            )
