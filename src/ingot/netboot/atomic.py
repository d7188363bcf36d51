"""Atomic file replacement for files that servers (dnsmasq, TFTP, HTTP) read while we write.

A reader sees the old file or the new one, never half of one: write a temporary file in the
same directory, then ``rename`` over the target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

# dnsmasq drops privileges to its own user before reading tftp-root and dhcp-hostsdir,
# and mkstemp creates 0600 files, so every file we publish is made world-readable.
FILE_MODE = 0o644
DIR_MODE = 0o755


def make_dirs(path: Path) -> None:
    """Create ``path`` and its parents, readable by the unprivileged dnsmasq user."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file + rename), mode 0644."""
    make_dirs(path.parent)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def link_or_copy_atomic(source: Path, path: Path) -> None:
    """Publish ``source`` at ``path``: a hard link when on the same filesystem (no copy of a
    large ramdisk), else a copy; either way through a temp name and a rename."""
    make_dirs(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{id(path):x}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def remove(path: Path) -> bool:
    """Remove ``path`` if present; return whether it existed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
