"""Write an image to a disk in one pass: download -> checksum -> write, bounded memory.

Raw images stream to the device through a small fixed pool of buffers in three pipelined
stages: the download fills a buffer, a hashing thread checksums it (hashlib releases the GIL
on large buffers, so this uses a second core) and a writing thread writes it, with
``O_DIRECT`` where the device allows it (see :class:`_Target`). On
file-backed disks (the lab) all-zero MiBs become holes: the file is first discarded (truncated
to 0 and back to its size, which reads as zeros), then zero MiBs are not written. On
real block devices every byte is written, because skipped blocks would keep old data.
qcow2 cannot be streamed (its clusters are not in order), so it goes to a local cache file,
is verified, and ``qemu-img convert`` writes it to the device.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import http.client
import logging
import mmap
import os
import queue
import shutil
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ingot_agent.errors import (
    ImageChecksumError,
    ImageDownloadError,
    ImageWriteError,
    NotSupportedError,
)
from ingot_agent.image_source import ImageInfo, new_hasher, open_first, resolve_checksum

LOG = logging.getLogger(__name__)
# 4 MiB buffers: per GiB, 1 MiB ones cost ~0.25 s more CPU (thread hand-offs, syscalls,
# page pinning for O_DIRECT) on a machine where the checksum and download are CPU-bound.
CHUNK = 4 * 1024 * 1024
ZERO = bytes(CHUNK)
DEPTH = 4  # buffers in flight between the download and the disk (DEPTH x CHUNK of memory)
HOLE = 1024 * 1024  # on sparse targets, aligned all-zero pieces this long are not written
WIPE = 1024 * 1024  # zeroed at the start of an image whose checksum failed
# qcow2 downloads hash and write each read on the download thread; 4 MiB reads there leave
# the sender waiting (qcow2 writes took 1.5-2x as long as with 1 MiB).
CACHE_CHUNK = 1024 * 1024
FLUSH_BEHIND = 32 * CHUNK  # start writeback after this many bytes (buffered writes)
ALIGN = 4096  # O_DIRECT offsets, lengths and addresses: a multiple of any logical block size
QCOW2_MAGIC = b"QFI\xfb"


@dataclass
class WriteStats:
    size: int = 0
    written: int = 0
    skipped: int = 0
    seconds: float = 0.0
    checksum: str | None = None
    disk_format: str = "raw"

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "written": self.written,
            "skipped_zero_bytes": self.skipped,
            "seconds": round(self.seconds, 3),
            "checksum": self.checksum,
            "disk_format": self.disk_format,
        }


def _fill(src: BinaryIO, view: memoryview) -> int:
    """Read until the buffer is full or the stream ends (HTTP reads return short)."""
    filled = 0
    while filled < len(view):
        try:
            n = src.readinto(view[filled:])  # type: ignore[attr-defined]
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, short body
            raise ImageDownloadError(f"image download broke off: {exc!r}") from exc
        if not n:
            break
        filled += n
    return filled


# memcmp on the buffer in place: Python compares an mmap's contents only by copying them out
# first (slicing), 3x the time of the compare itself on the zero half of a sparse image.
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.restype = ctypes.c_int
_memcmp.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)


def _data_runs(buf: mmap.mmap, n: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` spans of ``buf[:n]`` to write on a sparse target: all of it
    less the all-zero ``HOLE``-sized pieces (memcmp stops at the first byte of random data)."""
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    runs: list[tuple[int, int]] = []
    for start in range(0, n, HOLE):
        end = min(start + HOLE, n)
        if _memcmp(address + start, ZERO, end - start) == 0:
            continue
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def discard_file(path: str, size: int) -> None:
    """Turn a file-backed disk back into one hole of ``size`` bytes (reads as zeros)."""
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.truncate(size)


class _Target:
    """The device opened twice: with ``O_DIRECT`` for the aligned bulk of each buffer, and
    buffered for the rest (an unaligned tail or partition offset) and as the fallback.

    ``O_DIRECT`` writes go from the (page-aligned, mmap) buffers to the device without a copy
    into the page cache: on the lab's ext4 that copy was ~0.5-1 s of CPU per GiB against
    ~0.05 s direct, on a machine where the checksum and the download need the cores too.
    Filesystems that refuse it (tmpfs before Linux 6.6, some FUSE) fail the open or the first
    write with EINVAL; the writes then go through the page cache, started on their way to
    the disk every ``FLUSH_BEHIND`` bytes (see :meth:`_flush_behind`).
    """

    def __init__(self, path: str, offset: int) -> None:
        self.fd = os.open(path, os.O_WRONLY)
        self.direct = -1
        if offset % ALIGN == 0 and hasattr(os, "O_DIRECT"):
            try:
                self.direct = os.open(path, os.O_WRONLY | os.O_DIRECT)
            except OSError as exc:
                LOG.info("%s refuses O_DIRECT (%s): buffered writes", path, exc)
        self._flushed = 0

    def write(self, data: memoryview, pos: int) -> None:
        aligned = len(data) - len(data) % ALIGN
        if self.direct >= 0 and aligned:
            try:
                while aligned:
                    n = os.pwrite(self.direct, data[:aligned], pos)
                    data, pos, aligned = data[n:], pos + n, aligned - n
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                LOG.info("O_DIRECT write refused (%s): buffered writes from byte %d", exc, pos)
                os.close(self.direct)
                self.direct = -1
        if data:
            _pwrite_all(self.fd, data, pos)
            if self.direct < 0:
                self._flush_behind(pos + len(data))

    def _flush_behind(self, end: int) -> None:
        """Every ``FLUSH_BEHIND`` buffered bytes, start their writeback
        (``POSIX_FADV_DONTNEED`` starts asynchronous writeback and drops pages already
        clean), so the final fsync does not push the whole image at once — the time
        ``dd conv=fsync`` spends at its end — and the page cache does not fill with it."""
        if end - self._flushed < FLUSH_BEHIND:
            return
        start, self._flushed = self._flushed, end
        with contextlib.suppress(OSError):  # only a hint; fsync at the end is the guarantee
            os.posix_fadvise(self.fd, start, end - start, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self.direct >= 0:
            os.close(self.direct)
        os.close(self.fd)


_Item = tuple[mmap.mmap, int, int, list[tuple[int, int]]]  # buffer, length, offset, data runs


class _Writer:
    """Hashes and writes filled buffers on two threads, so the download, the checksum and the
    disk all work at once (the checksum alone is as slow as a fast disk).

    Buffers go round a fixed pool (``DEPTH`` x ``CHUNK`` bytes of memory): the reader takes a
    free one, fills it, and queues it with its offset; the hasher feeds it to ``hasher`` in
    order and passes it on; the writer writes its data runs to the :class:`_Target` (the
    gaps are holes) and hands it back.
    """

    def __init__(self, target: _Target, hasher: Any = None) -> None:
        self.target = target
        self.hasher = hasher
        self.free: queue.Queue[mmap.mmap] = queue.Queue()
        for _ in range(DEPTH):
            self.free.put(mmap.mmap(-1, CHUNK))  # page-aligned, as O_DIRECT needs
        self.todo: queue.Queue[_Item | None] = queue.Queue()
        self.to_hash: queue.Queue[_Item | None] = queue.Queue()
        self.error: Exception | None = None
        self._threads = [threading.Thread(target=self._run, name="image-writer", daemon=True)]
        if hasher is not None:
            self._threads.append(
                threading.Thread(target=self._hash, name="image-hasher", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def take(self) -> mmap.mmap:
        buf = self.free.get()
        if self.error is not None:
            raise self.error
        return buf

    def put(self, buf: mmap.mmap, n: int, pos: int, runs: list[tuple[int, int]]) -> None:
        (self.todo if self.hasher is None else self.to_hash).put((buf, n, pos, runs))

    def finish(self) -> None:
        """Wait for every queued buffer (hashed and written); re-raise the first write error."""
        (self.todo if self.hasher is None else self.to_hash).put(None)
        for thread in self._threads:
            thread.join()
        if self.error is not None:
            raise self.error

    def _hash(self) -> None:
        while (item := self.to_hash.get()) is not None:
            buf, n = item[0], item[1]
            try:
                if self.error is None:
                    self.hasher.update(memoryview(buf)[:n])
            except Exception as exc:  # keep passing buffers on so nothing blocks
                self.error = exc
            finally:
                self.todo.put(item)  # the writer returns the buffer to the pool
        self.todo.put(None)

    def _run(self) -> None:
        while (item := self.todo.get()) is not None:
            buf, _, pos, runs = item
            try:
                if self.error is None:
                    with memoryview(buf) as view:
                        for start, end in runs:
                            self.target.write(view[start:end], pos + start)
            except OSError as exc:
                self.error = exc  # keep draining so the reader never blocks on the pool
            finally:
                self.free.put(buf)


def _pwrite_all(fd: int, data: memoryview, pos: int) -> None:
    while data:
        n = os.pwrite(fd, data, pos)
        data, pos = data[n:], pos + n


def stream_raw(
    src: BinaryIO,
    dest: str,
    dest_size: int,
    hasher: Any,
    sparse: bool,
    offset: int = 0,
    first: bytes = b"",
) -> WriteStats:
    """Copy ``first`` + ``src`` to ``dest`` at ``offset``; fsync at the end.

    Raises ImageWriteError when the image does not fit or the device fails.
    """
    stats = WriteStats()
    started = time.monotonic()
    target = _Target(dest, offset)
    writer: _Writer | None = None
    try:
        writer = _Writer(target, hasher)
        pending = first
        while True:
            buf = writer.take()
            n = len(pending)
            buf[:n] = pending
            pending = b""
            with memoryview(buf) as view:
                n += _fill(src, view[n:])
            if n == 0:
                writer.free.put(buf)
                break
            if offset + stats.size + n > dest_size:
                writer.free.put(buf)
                raise ImageWriteError(
                    f"image is larger than the {dest_size}-byte target {dest}: "
                    "use a bigger disk (or root_device hints that pick one) or a smaller image"
                )
            runs = _data_runs(buf, n) if sparse else [(0, n)]
            writer.put(buf, n, offset + stats.size, runs)
            written = sum(end - start for start, end in runs)
            stats.written += written
            stats.skipped += n - written
            stats.size += n
        writer.finish()
        writer = None
        os.fsync(target.fd)  # also the metadata of the O_DIRECT writes (allocated extents)
    except OSError as exc:
        raise ImageWriteError(f"writing the image to {dest} failed: {exc}") from exc
    finally:
        if writer is not None:  # failed part-way: let the writer drain before closing fd
            with contextlib.suppress(OSError):
                writer.finish()
        target.close()
    stats.seconds = time.monotonic() - started
    return stats


def qcow2_virtual_size(header: bytes) -> int:
    """The guest-visible size, from the qcow2 header (big-endian u64 at byte 24)."""
    return int(struct.unpack_from(">Q", header, 24)[0])


def _check_digest(hasher: Any, expected: str | None, url: str) -> str | None:
    if hasher is None:
        return None
    actual = str(hasher.hexdigest())
    if expected is not None and actual != expected:
        raise ImageChecksumError(
            f"image from {url} has {hasher.name} {actual}, expected {expected}; "
            "the download is corrupt or image_info carries the wrong checksum"
        )
    return actual


def write_image(
    info: ImageInfo,
    dest: str,
    dest_size: int,
    sparse: bool,
    cache_dir: Path,
    insecure: bool = False,
    offset: int = 0,
) -> WriteStats:
    """Download ``info`` and write it to ``dest`` (a device or file) at ``offset``.

    Raises ImageDownloadError, ImageChecksumError, ImageWriteError, NotSupportedError.
    """
    algo, expected = resolve_checksum(info, insecure)
    hasher = new_hasher(algo)
    src, url = open_first(info.urls, insecure)
    with src:
        length = src.headers.get("Content-Length") if hasattr(src, "headers") else None
        first = src.read(512)
        is_qcow2 = first.startswith(QCOW2_MAGIC)
        fmt = info.disk_format or ("qcow2" if is_qcow2 else "raw")
        if fmt == "raw" and is_qcow2:
            raise ImageWriteError(
                f"image {info.id} says disk_format raw but the data at {url} is qcow2; "
                "fix the image's disk_format"
            )
        if fmt == "qcow2" and not is_qcow2:
            raise ImageWriteError(f"image {info.id} says disk_format qcow2 but is not qcow2")
        if fmt == "qcow2":
            return _write_qcow2(
                src, first, url, hasher, expected, dest, dest_size, cache_dir, sparse, offset
            )
        if length is not None and offset + int(length) > dest_size:
            raise ImageWriteError(
                f"image {info.id} is {length} bytes but the target {dest} has only "
                f"{dest_size - offset}; use a bigger disk or a smaller image"
            )
        if sparse and offset == 0:
            discard_file(dest, dest_size)
        try:
            stats = stream_raw(src, dest, dest_size, hasher, sparse and offset == 0, offset, first)
        except ImageDownloadError as exc:
            raise ImageDownloadError(f"{url}: {exc.details}") from exc
    if length is not None and stats.size != int(length):
        raise ImageDownloadError(f"download from {url} ended after {stats.size} of {length} bytes")
    try:
        stats.checksum = _check_digest(hasher, expected, url)
    except ImageChecksumError:
        _wipe_start(dest, offset)
        raise
    LOG.info("image %s written to %s: %s", info.id, dest, stats.as_dict())
    return stats


def _wipe_start(dest: str, offset: int) -> None:
    """After a bad checksum, zero the first MiB so the half-trusted image cannot boot."""
    fd = os.open(dest, os.O_WRONLY)
    try:
        os.pwrite(fd, ZERO[:WIPE], offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_qcow2(
    src: BinaryIO,
    first: bytes,
    url: str,
    hasher: Any,
    expected: str | None,
    dest: str,
    dest_size: int,
    cache_dir: Path,
    sparse: bool,
    offset: int,
) -> WriteStats:
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        raise NotSupportedError(
            "qcow2 images need qemu-img, which this ramdisk lacks; "
            "add qemu-utils to the ramdisk or deploy a raw image"
        )
    if offset:
        raise NotSupportedError("qcow2 partition images are not supported; use raw")
    virtual = qcow2_virtual_size(first)
    if virtual > dest_size:
        raise ImageWriteError(
            f"qcow2 image virtual size {virtual} exceeds the {dest_size}-byte target {dest}; "
            "use a bigger disk or a smaller image"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = cache_dir / "image.qcow2"
    stats = WriteStats(disk_format="qcow2")
    started = time.monotonic()
    with open(cache, "wb") as out:
        out.write(first)
        if hasher is not None:
            hasher.update(first)
        buf = bytearray(CACHE_CHUNK)
        view = memoryview(buf)
        while n := _fill(src, view):
            if hasher is not None:
                hasher.update(view[:n])
            out.write(view[:n])
    stats.size = cache.stat().st_size
    try:
        stats.checksum = _check_digest(hasher, expected, url)
        if sparse:
            discard_file(dest, dest_size)
        # -n: write into the existing disk (do not recreate or shrink the target file);
        # --target-is-zero: only valid after the discard above, lets qemu-img skip zeros.
        cmd = [qemu_img, "convert", "-q", "-f", "qcow2", "-O", "raw", "-n"]
        if sparse:
            cmd.append("--target-is-zero")
        cmd += [str(cache), dest]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageWriteError(f"qemu-img convert to {dest} failed: {proc.stderr.strip()}")
        fd = os.open(dest, os.O_WRONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        cache.unlink(missing_ok=True)
    stats.written = virtual
    stats.seconds = time.monotonic() - started
    return stats
