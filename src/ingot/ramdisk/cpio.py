"""Reproducible initramfs archives: cpio "newc" written by us, not by a tool.

The same tree always gives the same bytes: entries sorted by path, every mtime set to one
value, owner root:root, inode numbers assigned in order, and gzip without a timestamp. That is
what lets the builder's output be compared and cached across machines.
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ingot.errors import InvalidInput

TRAILER = "TRAILER!!!"
_MAGIC = b"070701"


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _header(name: bytes, ino: int, mode: int, nlink: int, mtime: int, size: int,
            rdev: tuple[int, int]) -> bytes:  # fmt: skip
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    head = _MAGIC + b"".join(b"%08X" % value for value in fields)
    return head + name + b"\0" + _pad(len(head) + len(name) + 1)


def walk_sorted(root: Path) -> Iterator[Path]:
    """Every path under ``root`` (not ``root`` itself), parents before children, sorted."""
    entries: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        entries.extend(base / name for name in dirnames + filenames)
    yield from sorted(entries, key=lambda p: p.relative_to(root).as_posix().encode())


def write_newc(root: Path, out: BinaryIO, mtime: int = 0) -> int:
    """Write the tree under ``root`` as a newc archive to ``out``; return the entry count.

    Regular files, directories, symlinks and device nodes are kept; hard links are stored as
    separate copies (simpler, and the kernel's unpacker does not need them). Permissions are
    kept, ownership is always root.
    """
    if not root.is_dir():
        raise InvalidInput(f"initramfs root {root} is not a directory.")
    count = 0
    for ino, path in enumerate(walk_sorted(root), start=1):
        info = path.lstat()
        name = path.relative_to(root).as_posix().encode()
        mode = info.st_mode
        rdev = (0, 0)
        if stat.S_ISREG(mode):
            data = path.read_bytes()
        elif stat.S_ISLNK(mode):
            data = os.readlink(path).encode()
        elif stat.S_ISDIR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            data = b""
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            data, rdev = b"", (os.major(info.st_rdev), os.minor(info.st_rdev))
        else:  # pragma: no cover - every file type is listed above
            raise InvalidInput(f"{path}: unsupported file type {stat.S_IFMT(mode):o}.")
        nlink = 2 if stat.S_ISDIR(mode) else 1
        out.write(_header(name, ino, mode, nlink, mtime, len(data), rdev))
        out.write(data + _pad(len(data)))
        count += 1
    out.write(_header(TRAILER.encode(), 0, 0, 1, 0, 0, (0, 0)))
    return count


def pack_initramfs(root: Path, dest: Path, mtime: int = 0, level: int = 6) -> int:
    """gzip-compressed newc archive of ``root`` at ``dest`` (atomically); returns its size.

    gzip level 6 is the kernel's usual choice; the header carries no file name or time.
    """
    tmp = dest.with_name(dest.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0) as packed,
    ):
        write_newc(root, packed, mtime)  # type: ignore[arg-type]
    os.replace(tmp, dest)
    return dest.stat().st_size


def read_newc(data: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, content) of every entry before the trailer: for checks and tests."""
    entries: list[tuple[str, int, bytes]] = []
    offset = 0
    while True:
        if data[offset : offset + 6] != _MAGIC:
            raise InvalidInput(f"not a newc archive at offset {offset}.")
        values = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = values[1], values[6], values[11]
        start = offset + 110
        name = data[start : start + namesize - 1].decode()
        offset = start + namesize
        offset += -offset % 4
        if name == TRAILER:
            return entries
        entries.append((name, mode, data[offset : offset + size]))
        offset += size
        offset += -offset % 4
