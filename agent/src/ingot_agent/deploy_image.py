"""The deploy itself: pick the root disk, write the image, add the config drive, re-read, sync.

Shared by ``standby.prepare_image``, ``standby.cache_image`` and the ``write_image`` deploy step.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import asdict
from typing import Any

from ingot_agent.configdrive import PARTITION_SIZE, decode_configdrive, write_configdrive
from ingot_agent.context import AgentContext
from ingot_agent.errors import ImageWriteError
from ingot_agent.hardware.base import BlockDevice
from ingot_agent.hardware.root_device import select_root_device
from ingot_agent.image_source import ImageInfo
from ingot_agent.image_writer import WriteStats, discard_file, write_image
from ingot_agent.partition_table import (
    LINUX_FS_GUID,
    LINUX_SWAP_GUID,
    create_gpt,
    read_partition_table,
)

LOG = logging.getLogger(__name__)
MiB = 1024 * 1024


def choose_root_device(ctx: AgentContext, info: ImageInfo | None = None) -> BlockDevice:
    """Apply ``image_info.root_device`` or the node's ``properties.root_device`` hints."""
    hints = (info.root_device if info is not None else None) or ctx.root_device_hints()
    device = select_root_device(ctx.hardware.list_block_devices(), hints, ctx.min_root_size)
    ctx.root_device = {
        "name": device.name,
        "serial": device.serial,
        "size": device.size,
        "wwn": device.wwn,
        "by_path": device.by_path,
    }
    LOG.info("root device %s chosen (hints %s)", device.name, hints or "none")
    return device


def deploy(
    ctx: AgentContext, info: ImageInfo, configdrive: str | None, skip_write: bool = False
) -> dict[str, Any]:
    """Write ``info`` (unless already cached there) and the config drive; return a summary."""
    device = choose_root_device(ctx, info)
    sparse = ctx.hardware.is_block_device_file(device)
    sector = device.logical_sectors
    stats = WriteStats()
    if info.image_type == "partition":
        stats = _write_partition_image(ctx, info, device, sparse, configdrive is not None)
    elif not skip_write:
        stats = write_image(
            info, device.path, device.size, sparse, ctx.work_dir / "cache", ctx.config.insecure
        )
        ctx.cached_image_id = info.id
    if configdrive:
        data = decode_configdrive(configdrive, ctx.config.insecure)
        _, part = write_configdrive(device.path, device.size, data, sector)
        ctx.partition_uuids["configdrive"] = part.uuid
    ctx.hardware.reread_partition_table(device)
    _fsync(device.path)
    with open(device.path, "rb") as fh:
        table = read_partition_table(fh, sector)
    if info.image_type != "partition" and table is not None:
        ctx.partition_uuids["root uuid"] = table.disk_id
    message = f"image ({info.id}) written to device {device.name}"
    return {
        "result": message,
        "root_device": ctx.root_device,
        "stats": stats.as_dict(),
        "partition_table": _table_summary(table, sector),
    }


def _table_summary(table: Any, sector: int) -> dict[str, Any] | None:
    if table is None:
        return None
    parts = [
        dict(asdict(p), offset=p.offset(sector), size=p.size(sector)) for p in table.partitions
    ]
    return {"label": table.label, "disk_id": table.disk_id, "partitions": parts}


def _write_partition_image(
    ctx: AgentContext, info: ImageInfo, device: BlockDevice, sparse: bool, with_configdrive: bool
) -> WriteStats:
    """Partition image: fresh GPT with root (and swap), image written into the root partition."""
    reserve = PARTITION_SIZE + 2 * MiB if with_configdrive else 0
    root = info.root_mb * MiB or device.size - 2 * MiB - info.swap_mb * MiB - reserve
    layout = [("root", root, LINUX_FS_GUID)]
    if info.swap_mb:
        layout.append(("swap", info.swap_mb * MiB, LINUX_SWAP_GUID))
    if sparse:
        discard_file(device.path, device.size)
    with open(device.path, "r+b") as fh:
        table = create_gpt(fh, device.size, layout, device.logical_sectors)
    part = table.partitions[0]
    end = part.offset(device.logical_sectors) + part.size(device.logical_sectors)
    try:
        stats = write_image(
            info,
            device.path,
            end,
            False,
            ctx.work_dir / "cache",
            ctx.config.insecure,
            offset=part.offset(device.logical_sectors),
        )
    except ImageWriteError as exc:
        raise ImageWriteError(f"root partition of {device.name}: {exc.details}") from exc
    prefix = device.name + ("p" if device.name[-1].isdigit() else "")
    ctx.partition_uuids.update(
        {
            "root uuid": part.uuid,
            "partitions": {p.name: f"{prefix}{p.number}" for p in table.partitions},
        }
    )
    return stats


def _ext_uuid(path: str, offset: int) -> str | None:
    """Filesystem UUID of an ext2/3/4 root (what ``root=UUID=`` needs), else None."""
    with open(path, "rb") as fh:
        fh.seek(offset + 1024)
        sb = fh.read(128)
    if len(sb) < 120 or sb[0x38:0x3A] != b"\x53\xef":
        return None
    return str(uuid.UUID(bytes=sb[0x68:0x78]))


def _fsync(path: str) -> None:
    """Flush the target's buffers (a global sync would also wait for unrelated disks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
