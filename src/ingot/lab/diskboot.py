"""What a lab server finds when its firmware boots the disk: partition table and config drive.

A real deployed OS would boot and cloud-init would read the ``config-2`` partition; the lab
reads the same bytes the same way (partition table with the agent's own reader, the ISO9660
config drive with pycdlib through :func:`ingot.configdrive.read_iso`) and reports the host the
disk says it is. Nothing here trusts Ingot's database: only the disk file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ingot.configdrive import read_iso
from ingot.errors import InvalidInput
from ingot_agent.partition_table import Partition, PartitionTable, read_partition_table

CONFIG_DRIVE_LABEL = "config-2"
_LATEST = "openstack/latest/"
_ISO_PVD = 16 * 2048  # ISO9660 primary volume descriptor: type, "CD001", ..., volume id at 40
# A config drive partition larger than this is not one Ingot or Ironic wrote (64 MiB limit).
_MAX_CONFIG_DRIVE = 64 * 1024 * 1024


@dataclass(frozen=True)
class DiskBoot:
    """The outcome of booting a disk: no partition table, no config drive, or a configured host."""

    disk: Path
    table: str | None  # "gpt", "msdos", or None: firmware finds nothing to boot
    partitions: int = 0
    meta_data: dict[str, Any] | None = None  # None: no readable config-2 partition
    user_data: bytes | None = None
    network_data: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def bootable(self) -> bool:
        return self.table is not None

    @property
    def hostname(self) -> str | None:
        value = (self.meta_data or {}).get("hostname")
        return str(value) if value is not None else None

    @property
    def uuid(self) -> str | None:
        value = (self.meta_data or {}).get("uuid")
        return str(value) if value is not None else None

    @property
    def public_keys(self) -> list[str]:
        keys = (self.meta_data or {}).get("public_keys") or {}
        values = keys.values() if isinstance(keys, dict) else keys
        return [str(k) for k in values]

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly part that lab.json records."""
        links = (self.network_data or {}).get("links") or []
        return {
            "partition_table": self.table,
            "partitions": self.partitions,
            "config_drive": self.meta_data is not None,
            "hostname": self.hostname,
            "uuid": self.uuid,
            "public_keys": self.public_keys,
            "user_data_bytes": len(self.user_data) if self.user_data is not None else None,
            "network_links": [str(link.get("id")) for link in links if isinstance(link, dict)],
            "problems": self.problems,
        }


def inspect_disk(disk: Path) -> DiskBoot:
    """Read ``disk``'s partition table and, if present, its ``config-2`` config drive.

    Never raises for what a disk may hold (garbage, a damaged ISO): those become ``problems``,
    as a booting OS would log them. Raises OSError only if the file cannot be read.
    """
    with open(disk, "rb") as fh:
        table = read_partition_table(fh)
        if table is None:
            return DiskBoot(disk=disk, table=None)
        part = table.find(CONFIG_DRIVE_LABEL) or _labelled_iso(fh, table)
        if part is None:
            return DiskBoot(disk=disk, table=table.label, partitions=len(table.partitions))
        size = part.size(table.sector)
        if size > _MAX_CONFIG_DRIVE:
            return DiskBoot(
                disk=disk,
                table=table.label,
                partitions=len(table.partitions),
                problems=[f"config-2 partition is {size} bytes, over the 64 MiB limit"],
            )
        fh.seek(part.offset(table.sector))
        image = fh.read(size)
    base = DiskBoot(disk=disk, table=table.label, partitions=len(table.partitions))
    try:
        files = read_iso(image)
    except InvalidInput as exc:
        return _with_problem(base, f"config-2 partition is not readable: {exc}")
    meta = _json(files.get(_LATEST + "meta_data.json"))
    if not isinstance(meta, dict):
        return _with_problem(base, "config-2 has no readable openstack/latest/meta_data.json")
    network = _json(files.get(_LATEST + "network_data.json"))
    return DiskBoot(
        disk=disk,
        table=table.label,
        partitions=len(table.partitions),
        meta_data=meta,
        user_data=files.get(_LATEST + "user_data"),
        network_data=network if isinstance(network, dict) else None,
    )


def _labelled_iso(fh: BinaryIO, table: PartitionTable) -> Partition | None:
    """The partition holding an ISO9660 volume labelled ``config-2``, as cloud-init finds it
    (by filesystem label): MBR partitions have no names, so on an MBR disk this is the only way.
    """
    for part in table.partitions:
        fh.seek(part.offset(table.sector) + _ISO_PVD)
        pvd = fh.read(72)
        if pvd[1:6] == b"CD001" and pvd[40:72].rstrip(b" \x00") == CONFIG_DRIVE_LABEL.encode():
            return part
    return None


def read_config_drive(disk: Path) -> dict[str, Any] | None:
    """meta_data.json of the disk's config-2 partition; ``{}`` without one; None if unbootable."""
    found = inspect_disk(disk)
    if not found.bootable:
        return None
    return found.meta_data or {}


def _json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _with_problem(base: DiskBoot, problem: str) -> DiskBoot:
    return DiskBoot(
        disk=base.disk, table=base.table, partitions=base.partitions, problems=[problem]
    )
