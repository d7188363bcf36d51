"""Config drive: fetch or decode it, and write it to a ``config-2`` partition at the disk's end.

Ironic sends either a URL or the ISO9660 image gzipped and base64-encoded. Like IPA, the
partition is 64 MiB (the largest config drive Ironic accepts) and sits at the end of the disk so
it does not collide with the image's own partitions or a later root filesystem growth.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
import zlib

from ingot_agent.errors import ConfigDriveError, ImageDownloadError, PartitionTableError
from ingot_agent.image_source import open_url
from ingot_agent.partition_table import (
    Partition,
    PartitionTable,
    append_partition,
    read_partition_table,
)

MAX_SIZE = 64 * 1024 * 1024
PARTITION_SIZE = 64 * 1024 * 1024
LABEL = "config-2"


def decode_configdrive(value: str, insecure: bool = False) -> bytes:
    """Return the raw config drive image; raises ConfigDriveError saying what was wrong."""
    if value.startswith(("http://", "https://", "file://")):
        try:
            with open_url(value, insecure) as fh:
                data = fh.read(MAX_SIZE + 1)
        except ImageDownloadError as exc:
            raise ConfigDriveError(f"cannot download the config drive: {exc.details}") from exc
        # A downloaded config drive may itself be gzip+base64 text, as Ironic stores it.
        if not data.startswith(b"\x1f\x8b") and _looks_base64(data[:64]):
            return decode_configdrive(data.decode("ascii", "replace"))
        if data.startswith(b"\x1f\x8b"):
            data = _gunzip(data)
    else:
        try:
            packed = base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ConfigDriveError(f"config drive is neither a URL nor base64: {exc}") from exc
        data = _gunzip(packed) if packed.startswith(b"\x1f\x8b") else packed
    if len(data) > MAX_SIZE:
        raise ConfigDriveError(f"config drive is larger than {MAX_SIZE} bytes; make it smaller")
    if not data:
        raise ConfigDriveError("config drive is empty")
    return data


def _looks_base64(head: bytes) -> bool:
    return bool(head) and all(
        c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n" for c in head
    )


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigDriveError(f"config drive is not valid gzip: {exc}") from exc


def write_configdrive(
    dest: str, disk_size: int, data: bytes, sector: int = 512
) -> tuple[PartitionTable, Partition]:
    """Append the ``config-2`` partition to the disk's table and copy ``data`` into it.

    An existing ``config-2`` GPT partition (redeploy of the same image) is reused.
    Raises ConfigDriveError (with the partition table reason) when there is no room.
    """
    with open(dest, "r+b") as fh:
        try:
            table = read_partition_table(fh, sector)
            part = table.find(LABEL) if table is not None else None
            if table is None or part is None:
                table, part = append_partition(fh, disk_size, PARTITION_SIZE, LABEL, sector)
        except PartitionTableError as exc:
            raise ConfigDriveError(f"cannot add the config drive partition: {exc.details}") from exc
        if len(data) > part.size(sector):
            raise ConfigDriveError(
                f"config drive ({len(data)} bytes) does not fit partition {part.number}"
            )
        fh.seek(part.offset(sector))
        fh.write(data)
        # Clear the rest of the partition so a smaller ISO does not leave old bytes behind.
        fh.write(bytes(min(part.size(sector) - len(data), 1024 * 1024)))
        fh.flush()
        os.fsync(fh.fileno())
    return table, part
