"""Embedded read-only TFTP server (tftpy) for rootless runs and the lab.

In production dnsmasq serves TFTP; this one listens on a high port so Ingot and the lab
firmware can PXE-boot without root. tftpy's server is a blocking select loop, so it runs on
its own thread; :meth:`TftpHandle.stop` wakes the loop with a request so it exits at once
instead of after its select timeout.

Two tftpy behaviours are guarded against here:

- it accepts uploads (WRQ) and writes them into the root unless ``upload_open`` refuses;
- it opens any existing path, and an exception other than ``TftpException`` (reading a
  directory, a permission error) escapes its loop and kills the server.

So tftpy gets an empty decoy root, never finds a file there, and every read goes through
``dyn_file_func``, which resolves the name against the real root with symlink-safe checks
and returns None (tftpy answers "file not found") on any problem.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import tftpy

from ingot.errors import ConfigError

LOG = logging.getLogger(__name__)

_WAKE_NAME = b"ingot-tftp-stop"


@dataclass(frozen=True)
class Config:
    """Serve ``root`` read-only on IPv4 ``host``:``port`` (0 picks a free port; tftpy
    listens on IPv4 only).

    ``timeout`` is tftpy's per-packet retransmit timeout (seconds); ``retries`` how often it
    resends before dropping a client.
    """

    root: Path
    host: str = "127.0.0.1"
    port: int = 6969
    timeout: float = 2.0
    retries: int = 5


def resolve(root: Path, filename: str) -> Path | None:
    """The regular file under ``root`` that TFTP name ``filename`` means, or None.

    Leading slashes are ignored (pxelinux and GRUB send both forms); ``..``, NUL and symlinks
    out of the root are refused.
    """
    parts = [p for p in filename.replace("\\", "/").split("/") if p]
    if not parts or any(p in {".", ".."} or "\x00" in p for p in parts):
        return None
    base = root.resolve()
    try:
        candidate = base.joinpath(*parts).resolve()
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


class TftpHandle:
    """A running TFTP server; ``port`` is where it listens, :meth:`stop` ends it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        root = Path(config.root)
        if not root.is_dir():
            raise ConfigError(f"TFTP root {root} does not exist; create it or fix [netboot] root.")
        self._decoy = tempfile.TemporaryDirectory(prefix="ingot-tftp-decoy-")
        self._server = tftpy.TftpServer(
            self._decoy.name,
            dyn_file_func=lambda name, **_: self._open(name),
            upload_open=lambda path, context: None,  # read-only: refuse every WRQ
        )
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="tftp")
        self.port = 0

    def _open(self, name: str) -> IO[bytes] | None:
        path = resolve(Path(self.config.root), name)
        if path is None:
            LOG.debug("TFTP file not found", extra={"filename": name})
            return None
        try:
            return path.open("rb")
        except OSError:
            return None

    def _run(self) -> None:
        try:
            self._server.listen(
                self.config.host,
                self.config.port,
                timeout=self.config.timeout,
                retries=self.config.retries,
            )
        except BaseException as exc:  # reported by start()/stop(); the thread must not die silently
            self._error = exc
            LOG.exception("TFTP server stopped on an error")
            self._server.is_running.set()  # release start() if it is waiting

    def _start(self, wait: float) -> None:
        self._thread.start()
        if not self._server.is_running.wait(wait) or self._error is not None:
            self._decoy.cleanup()
            raise ConfigError(
                f"TFTP server cannot listen on {self.config.host}:{self.config.port}: "
                f"{self._error}; pick a free port or another address."
            )
        self.port = self._server.listenport
        LOG.info("TFTP server listening", extra={"host": self.config.host, "port": self.port})

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Drop transfers in flight, close the socket and join the thread; idempotent."""
        if self._thread.is_alive():
            self._server.stop(now=True)
            self._wake()
            self._thread.join(timeout)
        self._decoy.cleanup()

    def _wake(self) -> None:
        # A well-formed read request makes select() return; the loop then sees the stop flag.
        packet = b"\x00\x01" + _WAKE_NAME + b"\x00octet\x00"
        host = self.config.host if self.config.host not in {"", "0.0.0.0"} else "127.0.0.1"
        # On failure the loop still exits, after its select timeout.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, suppress(OSError):
            sock.sendto(packet, (host, self.port))


def start(config: Config, wait: float = 5.0) -> TftpHandle:
    """Start serving on a thread; raises ConfigError if the port cannot be bound."""
    handle = TftpHandle(config)
    handle._start(wait)
    return handle
