"""Disk erasure for cleaning: metadata only, or the whole disk by discard, zeroes or shred."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

from ingot_agent.errors import CleaningError, InvalidCommandParamsError, PartitionTableError
from ingot_agent.hardware.base import BlockDevice
from ingot_agent.image_writer import CHUNK, ZERO, discard_file
from ingot_agent.partition_table import read_partition_table

LOG = logging.getLogger(__name__)
METHODS = ("discard", "zero", "shred")
MiB = 1024 * 1024


def _zero_range(fd: int, offset: int, length: int) -> None:
    end = offset + length
    while offset < end:
        n = min(CHUNK, end - offset)
        os.pwrite(fd, ZERO[:n], offset)
        offset += n


def erase_metadata(device: BlockDevice) -> list[str]:
    """Wipe partition tables (both GPT copies) and filesystem signatures at partition starts.

    Like ``wipefs -a`` plus zeroing the first and last MiB, which is what IPA does.
    """
    sector = device.logical_sectors
    starts: list[int] = []
    try:
        with open(device.path, "rb") as fh:
            table = read_partition_table(fh, sector)
        if table is not None:
            starts = [p.offset(sector) for p in table.partitions]
    except PartitionTableError as exc:  # corrupt table: wiping it is the point
        LOG.warning("%s: %s; wiping anyway", device.name, exc.details)
    fd = os.open(device.path, os.O_WRONLY)
    try:
        for start in starts:
            if start < device.size:
                _zero_range(fd, start, min(MiB, device.size - start))
        _zero_range(fd, 0, min(MiB, device.size))
        tail = max(device.size - MiB, 0)
        _zero_range(fd, tail, device.size - tail)
        os.fsync(fd)
    finally:
        os.close(fd)
    return [f"{device.name}: partition tables and {len(starts)} partition signatures wiped"]


def erase_device(
    device: BlockDevice,
    method: str,
    iterations: int = 1,
    zeroize: bool = True,
    is_file: bool = False,
) -> str:
    """Erase the whole disk; raises CleaningError naming the device and what failed."""
    if method not in METHODS:
        raise InvalidCommandParamsError(f"erase method {method!r}: use one of {METHODS}")
    if method == "discard":
        if is_file:
            discard_file(device.path, device.size)
            return f"{device.name}: discarded"
        if shutil.which("blkdiscard"):
            # Plain discard may leave old data readable (not every device zeroes discarded
            # blocks), so use --zeroout: the device's write-zeroes offload where it has one.
            proc = subprocess.run(["blkdiscard", "-z", device.path], capture_output=True)
            if proc.returncode == 0:
                return f"{device.name}: discarded (zeroed)"
            LOG.info("%s: blkdiscard -z failed; writing zeros", device.name)
        method = "zero"
    passes = iterations if method == "shred" else 0
    try:
        fd = os.open(device.path, os.O_WRONLY)
    except OSError as exc:
        raise CleaningError(f"cannot open {device.name} for erasing: {exc}") from exc
    try:
        for _ in range(passes):
            offset = 0
            while offset < device.size:
                n = min(CHUNK, device.size - offset)
                os.pwrite(fd, os.urandom(n), offset)
                offset += n
        if method == "zero" or zeroize:
            _zero_range(fd, 0, device.size)
        os.fsync(fd)
    except OSError as exc:
        raise CleaningError(f"erasing {device.name} failed: {exc}") from exc
    finally:
        os.close(fd)
    return f"{device.name}: {method} ({passes} random passes, zeroed={method == 'zero' or zeroize})"
