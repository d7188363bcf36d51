"""Read and edit GPT and MBR partition tables on a disk or disk file, with the stdlib only.

Why our own code instead of sgdisk/sfdisk: those tools are often missing from small ramdisks
(and from this host until installed), they need root-ish tricks on files, and the one edit
we need is narrow: move a whole-disk image's backup GPT to the end of the (bigger) disk, as
``sgdisk -e`` does, then append one partition there. Both formats are small and fully specified
(UEFI spec ch. 5; the MBR layout), and CRC32 comes from :mod:`zlib`. Tests read the result back
with this module and with ``sfdisk --json`` when present.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from ingot_agent.errors import PartitionTableError

GPT_SIGNATURE = b"EFI PART"
GPT_HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")  # 92 bytes
GPT_ENTRY = struct.Struct("<16s16sQQQ72s")  # 128 bytes
MBR_ENTRY = struct.Struct("<B3sB3sII")  # 16 bytes
LINUX_FS_GUID = "0fc63daf-8483-4772-8e79-3d69d8477de4"
LINUX_SWAP_GUID = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
EFI_SYSTEM_GUID = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
MBR_LINUX = 0x83
MBR_PROTECTIVE = 0xEE
ALIGN_BYTES = 1024 * 1024


@dataclass
class Partition:
    number: int
    start: int  # in sectors
    sectors: int
    type: str  # GPT type GUID, or MBR type as "0x83"
    name: str = ""
    uuid: str = ""  # GPT unique partition GUID, or MBR "<disk signature>-<nn>" as Linux does

    def offset(self, sector: int) -> int:
        return self.start * sector

    def size(self, sector: int) -> int:
        return self.sectors * sector


@dataclass
class PartitionTable:
    label: str  # "gpt" or "msdos"
    disk_id: str
    sector: int
    partitions: list[Partition] = field(default_factory=list)
    # GPT only: kept so an edit rewrites the table without losing anything.
    first_usable: int = 0
    entry_count: int = 128
    entry_size: int = 128
    raw_entries: bytes = b""

    def find(self, name: str) -> Partition | None:
        return next((p for p in self.partitions if p.name == name), None)


def _read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    fh.seek(offset)
    return fh.read(size)


def _write_at(fh: BinaryIO, offset: int, data: bytes) -> None:
    fh.seek(offset)
    fh.write(data)


def read_partition_table(fh: BinaryIO, sector: int = 512) -> PartitionTable | None:
    """Parse the table at the start of the disk; None when there is none.

    Raises PartitionTableError when a GPT header or its entry array fails its CRC.
    """
    mbr = _read_at(fh, 0, 512)
    if len(mbr) < 512 or mbr[510:512] != b"\x55\xaa":
        return None
    entries = [MBR_ENTRY.unpack_from(mbr, 446 + 16 * i) for i in range(4)]
    if any(e[2] == MBR_PROTECTIVE for e in entries):
        return _read_gpt(fh, sector)
    signature = struct.unpack_from("<I", mbr, 440)[0]
    table = PartitionTable(label="msdos", disk_id=f"0x{signature:08x}", sector=sector)
    for i, (_, _, ptype, _, start, count) in enumerate(entries, 1):
        if ptype:
            table.partitions.append(
                Partition(i, start, count, f"0x{ptype:02x}", uuid=f"{signature:08x}-{i:02d}")
            )
    return table


def _read_gpt(fh: BinaryIO, sector: int) -> PartitionTable:
    raw = _read_at(fh, sector, sector)
    (sig, _rev, hsize, hcrc, _res, _cur, _backup, first, _last, guid, elba, n, esize, ecrc) = (
        GPT_HEADER.unpack_from(raw)
    )
    if sig != GPT_SIGNATURE:
        raise PartitionTableError("protective MBR found but no GPT header at LBA 1")
    check = bytearray(raw[:hsize])
    struct.pack_into("<I", check, 16, 0)
    if zlib.crc32(check) != hcrc:
        raise PartitionTableError("GPT header CRC mismatch: the partition table is corrupt")
    array = _read_at(fh, elba * sector, n * esize)
    if zlib.crc32(array) != ecrc:
        raise PartitionTableError("GPT entry array CRC mismatch: the partition table is corrupt")
    table = PartitionTable(
        label="gpt",
        disk_id=str(uuid.UUID(bytes_le=guid)),
        sector=sector,
        first_usable=first,
        entry_count=n,
        entry_size=esize,
        raw_entries=array,
    )
    for i in range(n):
        ptype, puid, start, end, _attrs, name = GPT_ENTRY.unpack_from(array, i * esize)
        if ptype != bytes(16):
            table.partitions.append(
                Partition(
                    number=i + 1,
                    start=start,
                    sectors=end - start + 1,
                    type=str(uuid.UUID(bytes_le=ptype)),
                    name=name.decode("utf-16-le").rstrip("\x00"),
                    uuid=str(uuid.UUID(bytes_le=puid)),
                )
            )
    return table


def _write_gpt(fh: BinaryIO, table: PartitionTable, disk_size: int) -> None:
    """Write protective MBR, primary and backup GPT (backup at the real end of the disk)."""
    sector = table.sector
    disk_sectors = disk_size // sector
    array = table.raw_entries
    array_sectors = -(-len(array) // sector)
    last_lba = disk_sectors - 1
    backup_array_lba = last_lba - array_sectors
    last_usable = backup_array_lba - 1
    for p in table.partitions:
        if p.start + p.sectors - 1 > last_usable:
            raise PartitionTableError(
                f"partition {p.number} ends past the disk's last usable sector {last_usable}; "
                "the disk is smaller than the image"
            )
    guid = uuid.UUID(table.disk_id).bytes_le
    ecrc = zlib.crc32(array)

    def header(current: int, backup: int, entries_lba: int) -> bytes:
        fields = (
            GPT_SIGNATURE,
            0x00010000,
            92,
            0,
            0,
            current,
            backup,
            table.first_usable,
            last_usable,
            guid,
            entries_lba,
            table.entry_count,
            table.entry_size,
            ecrc,
        )
        raw = bytearray(GPT_HEADER.pack(*fields))
        struct.pack_into("<I", raw, 16, zlib.crc32(raw))
        return bytes(raw) + bytes(sector - len(raw))

    mbr = bytearray(_read_at(fh, 0, 512).ljust(512, b"\x00"))
    mbr[446:510] = bytes(64)
    mbr[446:462] = MBR_ENTRY.pack(
        0, b"\x00\x02\x00", MBR_PROTECTIVE, b"\xff\xff\xff", 1, min(disk_sectors - 1, 0xFFFFFFFF)
    )
    mbr[510:512] = b"\x55\xaa"
    _write_at(fh, 0, bytes(mbr))
    _write_at(fh, sector, header(1, last_lba, 2))
    _write_at(fh, 2 * sector, array)
    _write_at(fh, backup_array_lba * sector, array)
    _write_at(fh, last_lba * sector, header(last_lba, 1, backup_array_lba))


def _gpt_set_entry(table: PartitionTable, part: Partition) -> None:
    array = bytearray(table.raw_entries)
    name = part.name.encode("utf-16-le")[:72].ljust(72, b"\x00")
    GPT_ENTRY.pack_into(
        array,
        (part.number - 1) * table.entry_size,
        uuid.UUID(part.type).bytes_le,
        uuid.UUID(part.uuid).bytes_le,
        part.start,
        part.start + part.sectors - 1,
        0,
        name,
    )
    table.raw_entries = bytes(array)
    table.partitions.append(part)


def _old_backup_lba(fh: BinaryIO, sector: int) -> int:
    raw = _read_at(fh, sector, GPT_HEADER.size)
    return int(GPT_HEADER.unpack(raw)[6])


def append_partition(
    fh: BinaryIO, disk_size: int, size: int, name: str, sector: int = 512
) -> tuple[PartitionTable, Partition]:
    """Add a partition of ``size`` bytes at the end of the disk (config drive style).

    GPT: the backup header moves to the disk's real end first. MBR: refused with a clear error
    when four primary partitions exist. Raises PartitionTableError (no table, no room).
    """
    table = read_partition_table(fh, sector)
    if table is None:
        raise PartitionTableError(
            "the disk has no partition table, so a config drive partition cannot be added; "
            "use a whole-disk image with a GPT or MBR partition table"
        )
    want = -(-size // sector)
    align = max(ALIGN_BYTES // sector, 1)
    used_end = max((p.start + p.sectors for p in table.partitions), default=0)
    if table.label == "gpt":
        array_sectors = -(-len(table.raw_entries) // sector)
        last_usable = disk_size // sector - 1 - array_sectors - 1
        free = [
            i + 1
            for i in range(table.entry_count)
            if table.raw_entries[i * table.entry_size : i * table.entry_size + 16] == bytes(16)
        ]
        if not free:
            raise PartitionTableError("every GPT partition entry is in use")
        start = (last_usable + 1 - want) // align * align
        if start < used_end:
            raise PartitionTableError(_no_room(name, size, disk_size, used_end * sector))
        old_backup = _old_backup_lba(fh, sector)
        if old_backup * sector < disk_size:  # stale header from the image's own end
            _write_at(fh, old_backup * sector, bytes(sector))
        part = Partition(free[0], start, want, LINUX_FS_GUID, name, str(uuid.uuid4()))
        _gpt_set_entry(table, part)
        _write_gpt(fh, table, disk_size)
        return table, part
    numbers = {p.number for p in table.partitions}
    if len(numbers) >= 4:
        raise PartitionTableError(
            "the MBR partition table already has 4 primary partitions, so the config drive "
            "partition cannot be added; use a GPT image or leave one primary slot free"
        )
    start = (disk_size // sector - want) // align * align
    if start < used_end:
        raise PartitionTableError(_no_room(name, size, disk_size, used_end * sector))
    if start + want > 0xFFFFFFFF:
        raise PartitionTableError("MBR cannot address a partition beyond 2 TiB; use GPT")
    number = min({1, 2, 3, 4} - numbers)
    mbr = bytearray(_read_at(fh, 0, 512))
    MBR_ENTRY.pack_into(
        mbr, 446 + 16 * (number - 1), 0, b"\xfe\xff\xff", MBR_LINUX, b"\xfe\xff\xff", start, want
    )
    _write_at(fh, 0, bytes(mbr))
    part = Partition(
        number, start, want, f"0x{MBR_LINUX:02x}", name, f"{table.disk_id[2:]}-{number:02d}"
    )
    table.partitions.append(part)
    return table, part


def _no_room(name: str, size: int, disk_size: int, used: int) -> str:
    return (
        f"no room for the {size}-byte {name} partition: the image uses {used} bytes of a "
        f"{disk_size}-byte disk; use a bigger disk or a smaller image"
    )


def create_gpt(
    fh: BinaryIO, disk_size: int, layout: list[tuple[str, int, str]], sector: int = 512
) -> PartitionTable:
    """Write a fresh GPT with partitions ``(name, size_bytes, type_guid)`` from 1 MiB on.

    A size of 0 means "the rest of the disk". Used for partition images.
    """
    align = max(ALIGN_BYTES // sector, 1)
    table = PartitionTable(
        label="gpt",
        disk_id=str(uuid.uuid4()),
        sector=sector,
        first_usable=2 + 16384 // sector,
        raw_entries=bytes(128 * 128),
    )
    last_usable = disk_size // sector - 1 - 16384 // sector - 1
    start = align
    for number, (name, size, ptype) in enumerate(layout, 1):
        count = -(-size // sector) if size else (last_usable + 1 - start) // align * align
        if count <= 0 or start + count - 1 > last_usable:
            raise PartitionTableError(_no_room(name, size, disk_size, start * sector))
        _gpt_set_entry(table, Partition(number, start, count, ptype, name, str(uuid.uuid4())))
        start = -(-(start + count) // align) * align
    _write_gpt(fh, table, disk_size)
    return table
