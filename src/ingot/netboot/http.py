"""HTTP boot server: iPXE scripts, kernels, ramdisks, images and config drives.

It is an ASGI (Starlette) app, because Ingot already runs uvicorn: ``create_app(config)`` can
be mounted under the main FastAPI app (``app.mount("/boot", ...)``) when one listener is
enough, and :func:`start`/:func:`serve` run it standalone, which is the normal case: servers
fetch from the provisioning network's address and port (Ironic's ``http_url``), while the API
may listen elsewhere (127.0.0.1 by default). Downloads stream from disk in the event loop's
thread pool, so a slow node fetching a large image does not hold a thread per client.

Range requests (206/416), HEAD and Content-Length come from Starlette's ``FileResponse``.
Standalone, whole-file GETs go out with ``sendfile(2)``: the server offers the ASGI
``http.response.pathsend`` extension (see :func:`_protocol`), so the kernel moves page-cache
pages to the socket without the server reading and copying them (about 0.45 s of CPU per GiB
less on 2 cores, where the node's agent needs them for its checksum). Ranges, and the app
mounted under another server, read ``Config.read_chunk_bytes`` (1 MiB) per thread hop instead
of Starlette's 64 KiB: images are gigabytes, and 1 MiB reads serve them at ~2 GB/s where
64 KiB reads top out near 700 MB/s (bench/image_stream.py).
When a ``<file>.sha256`` sidecar exists (the image cache writes one), its digest is the
ETag and the ``X-Checksum-Sha256`` header, so a client can verify what it downloaded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from ingot.errors import ConfigError

LOG = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".sha256"

# Media types for boot files; anything else is application/octet-stream, which is what
# firmware expects for kernels and images anyway.
_MEDIA_TYPES = {".ipxe": "text/plain", ".cfg": "text/plain", ".conf": "text/plain"}

READ_CHUNK_BYTES = 1024 * 1024
PATHSEND = "http.response.pathsend"
STALL_SECONDS = 60.0  # a client that takes no bytes for this long loses its download


@dataclass(frozen=True)
class Config:
    """The HTTP boot server: one root, optional extra directories under URL prefixes
    (e.g. ``{"images": <image cache dir>}``), where to listen when run standalone, and how
    much of a file to read per thread hop."""

    root: Path
    mounts: Mapping[str, Path] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8080
    read_chunk_bytes: int = READ_CHUNK_BYTES


def _resolve(config: Config, url_path: str) -> Path | None:
    """Map a URL path to a regular file under the root or a mount, or None.

    Refuses ``..``, absolute components, NUL, dot-files (our temp files are ``.name.tmp``)
    and symlinks that lead outside the served directory.
    """
    parts = [p for p in url_path.split("/") if p]
    if not parts or any(p in {".", ".."} or p.startswith(".") or "\x00" in p for p in parts):
        return None
    base = config.root
    if parts[0] in config.mounts:
        base, parts = config.mounts[parts[0]], parts[1:]
        if not parts:
            return None
    base = base.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base):
        return None
    return candidate


def _sidecar_digest(path: Path) -> str | None:
    try:
        text = path.with_name(path.name + SIDECAR_SUFFIX).read_text("ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    digest = text[0].lower() if text else ""
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def create_app(config: Config) -> Starlette:
    """The ASGI app serving ``config.root`` (and mounts) read-only over GET and HEAD."""
    if config.read_chunk_bytes <= 0:
        raise ConfigError(
            f"HTTP boot server read_chunk_bytes must be positive, not {config.read_chunk_bytes}."
        )
    for name, directory in {"root": config.root, **config.mounts}.items():
        if not Path(directory).is_dir():
            raise ConfigError(f"HTTP boot server {name} directory {directory} does not exist.")

    async def serve_file(request: Request) -> Response:
        path = _resolve(config, request.path_params["path"])
        info = await asyncio.to_thread(_stat_regular, path) if path else None
        if path is None or info is None:
            return PlainTextResponse("Not Found\n", status_code=404)
        headers = {}
        digest = await asyncio.to_thread(_sidecar_digest, path)
        if digest:
            headers["etag"] = f'"sha256-{digest}"'
            headers["x-checksum-sha256"] = digest
        response = FileResponse(
            path,
            headers=headers,
            media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            stat_result=info,
        )
        response.chunk_size = config.read_chunk_bytes
        return response

    return Starlette(routes=[Route("/{path:path}", serve_file, methods=["GET", "HEAD"])])


def _stat_regular(path: Path | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def _sendfile(sock_fd: int, path: str, count: int, closing: Callable[[], bool]) -> int:
    """Send the first ``count`` bytes of ``path`` on a non-blocking socket; return how many
    went (fewer when the file shrank, the connection closed or the client stalled).

    ``sock_fd`` is this call's own duplicate, so a transport closed meanwhile cannot hand its
    descriptor number to another file while this thread still writes to it.
    """
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    sent = 0
    with open(path, "rb") as fh:
        while sent < count and not closing():
            try:
                n = os.sendfile(sock_fd, fh.fileno(), sent, count - sent)
            except BlockingIOError:
                if not poller.poll(STALL_SECONDS * 1000):
                    break
                continue
            if n == 0:
                break
            sent += n
    return sent


def _protocol() -> type | str:
    """uvicorn's httptools protocol, offering ``http.response.pathsend`` (sent with
    :func:`_sendfile` on a worker thread); plain ``"auto"`` when httptools is not installed.

    uvicorn implements no pathsend itself, so this reaches into its request cycle: the
    extension is added to each scope, and the cycle of each request becomes a subclass whose
    ``send`` handles the one extra message (the body is a file) and hands the rest on.
    """
    try:
        from uvicorn.protocols.http import httptools_impl as impl
    except ImportError:
        return "auto"

    class PathsendCycle(impl.RequestResponseCycle):
        async def send(self, message: Any) -> None:
            if message.get("type") != PATHSEND:
                await super().send(message)
                return
            transport = self.transport
            sock = transport.get_extra_info("socket")
            count = self.expected_content_length
            if not self.response_started or self.chunked_encoding or sock is None:
                raise RuntimeError(f"{PATHSEND} needs a started response with Content-Length")
            deadline = time.monotonic() + STALL_SECONDS  # headers (and earlier replies) first
            while transport.get_write_buffer_size() and not transport.is_closing():
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.001)
            fd = os.dup(sock.fileno())
            try:
                sent = await asyncio.to_thread(
                    _sendfile, fd, message["path"], count, transport.is_closing
                )
            except OSError as exc:  # reset, broken pipe: the client went away
                LOG.info("HTTP boot download of %s broke off: %s", message["path"], exc)
                sent = -1
            finally:
                os.close(fd)
            if sent != count:
                if sent >= 0 and not transport.is_closing():
                    LOG.warning(
                        "HTTP boot download of %s stopped after %d of %d bytes (file changed "
                        "or client stalled); closing the connection",
                        message["path"], sent, count,
                    )  # fmt: skip
                self.disconnected = True
                transport.close()
                return
            self.expected_content_length = 0
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    class PathsendProtocol(impl.HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope["extensions"] = {PATHSEND: {}}

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            if type(self.cycle) is impl.RequestResponseCycle:
                self.cycle.__class__ = PathsendCycle

    return PathsendProtocol


def _uvicorn(config: Config) -> uvicorn.Server:
    # log_config=None: leave logging to the application; access logs off (one line per
    # pxelinux probe would drown the useful events).
    settings = uvicorn.Config(
        create_app(config), log_config=None, access_log=False, lifespan="off", http=_protocol()
    )
    return uvicorn.Server(settings)


def _bind(config: Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"HTTP boot server cannot listen on {config.host}:{config.port}: {exc}; "
            "pick a free port or another address."
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve(config: Config) -> None:
    """Run the server in the current event loop until cancelled."""
    sock = _bind(config)
    server = _uvicorn(config)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()


class HttpBootServer:
    """A standalone HTTP boot server on its own thread and event loop; see :func:`start`."""

    def __init__(self, config: Config) -> None:
        self._sock = _bind(config)
        self._server = _uvicorn(config)
        host, port = self._sock.getsockname()[:2]
        self.port: int = port
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=f"http-boot-{port}",
        )

    def _start(self, timeout: float) -> None:
        self._thread.start()
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < timeout:
            threading.Event().wait(0.01)
            waited += 0.01
        if not self._server.started:
            self.stop()
            raise ConfigError(f"HTTP boot server on {self.url} did not start.")
        LOG.info("HTTP boot server listening", extra={"url": self.url})

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, finish in-flight responses (bounded by ``timeout``), join."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()


def start(config: Config, timeout: float = 5.0) -> HttpBootServer:
    """Start the server on a thread; ``port=0`` picks a free port (see ``.url``)."""
    server = HttpBootServer(config)
    server._start(timeout)
    return server
