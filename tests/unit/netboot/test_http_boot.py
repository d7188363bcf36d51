"""The HTTP boot server over real HTTP on 127.0.0.1: GET, HEAD, Range, 404, traversal."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ingot.errors import ConfigError
from ingot.netboot import http

DATA = bytes(range(256)) * 40  # 10240 bytes
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("http")
    root = tmp_path / "root"
    (root / "ipxe").mkdir(parents=True)
    (root / "ipxe" / "52-54-00-00-00-30.ipxe").write_text("#!ipxe\nboot\n")
    (root / "kernel").write_bytes(DATA)
    (root / ".kernel.tmp").write_bytes(b"partial")
    images = tmp_path / "images"
    images.mkdir()
    (images / "disk.raw").write_bytes(DATA[:1000])
    digest = hashlib.sha256(DATA[:1000]).hexdigest()
    (images / "disk.raw.sha256").write_text(f"{digest}  disk.raw\n")
    (tmp_path / "secret").write_text("outside")
    (root / "escape").symlink_to(tmp_path / "secret")
    return root, images


@pytest.fixture(scope="module")
def server(roots: tuple[Path, Path]) -> Iterator[http.HttpBootServer]:
    root, images = roots
    srv = http.start(http.Config(root=root, mounts={"images": images}, port=0))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: http.HttpBootServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as c:
        yield c


def test_get_script(client: httpx.Client) -> None:
    r = client.get("/ipxe/52-54-00-00-00-30.ipxe")
    assert r.status_code == 200
    assert r.text == "#!ipxe\nboot\n"
    assert r.headers["content-type"].startswith("text/plain")


def test_get_whole_file(client: httpx.Client) -> None:
    r = client.get("/kernel")
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"]


def test_head_has_length_and_no_body(client: httpx.Client) -> None:
    r = client.head("/kernel")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(DATA))
    assert r.content == b""


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239)],
)
def test_range(client: httpx.Client, header: str, start: int, end: int) -> None:
    r = client.get("/kernel", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == DATA[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"


def test_unsatisfiable_range(client: httpx.Client) -> None:
    r = client.get("/kernel", headers={"Range": "bytes=20000-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"


def test_mount_and_checksum_headers(client: httpx.Client) -> None:
    r = client.get("/images/disk.raw")
    digest = hashlib.sha256(DATA[:1000]).hexdigest()
    assert r.content == DATA[:1000]
    assert r.headers["x-checksum-sha256"] == digest
    assert r.headers["etag"] == f'"sha256-{digest}"'


@pytest.mark.parametrize(
    "path",
    [
        "/missing",
        "/ipxe",  # a directory: no listing
        "/images",
        "/.kernel.tmp",  # temp files of atomic writes are never served
        "/escape",  # symlink leading out of the root
    ],
)
def test_not_found(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "raw_path",
    [b"/../secret", b"/ipxe/../../secret", b"/%2e%2e/secret", b"/images/..%2f..%2fsecret"],
)
def test_traversal_refused(server: http.HttpBootServer, raw_path: bytes) -> None:
    # httpx normalises "..", so send the request line by hand.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.split(b"\r\n", 1)[0] in {b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"}
    assert b"outside" not in reply


def test_post_not_allowed(client: httpx.Client) -> None:
    assert client.post("/kernel", content=b"x").status_code == 405


def test_missing_root_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        http.create_app(http.Config(root=tmp_path / "nope"))


def test_port_in_use_is_config_error(server: http.HttpBootServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        http.start(http.Config(root=tmp_path, port=server.port))


async def _body_messages(app: Starlette, path: str) -> list[int]:
    """Drive the ASGI app directly; the size of each body message is one read from disk."""
    sizes: list[int] = []
    # spec_version 2.4: the server reports disconnects as send errors, so the response does
    # not also listen on receive()
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "http_version": "1.1",
             "asgi": {"version": "3.0", "spec_version": "2.4"}}  # fmt: skip

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()  # no request body, and the client never goes away
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sizes.append(len(message.get("body", b"")))

    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sizes


@pytest.mark.parametrize(
    ("read_chunk", "expected"),
    [
        (None, [MIB, MIB, MIB // 2]),  # the default: 1 MiB per hop, not Starlette's 64 KiB
        (256 * 1024, [256 * 1024] * 10),
    ],
)
def test_reads_big_chunks(tmp_path: Path, read_chunk: int | None, expected: list[int]) -> None:
    (tmp_path / "image.raw").write_bytes(b"\1" * (MIB * 5 // 2))
    config = http.Config(root=tmp_path)
    if read_chunk:
        config = http.Config(root=tmp_path, read_chunk_bytes=read_chunk)
    sizes = asyncio.run(_body_messages(http.create_app(config), "/image.raw"))
    assert [s for s in sizes if s] == expected


def test_rejects_nonpositive_read_chunk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="read_chunk_bytes"):
        http.create_app(http.Config(root=tmp_path, read_chunk_bytes=0))


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Byte counts of each ``sendfile`` body (the real function, recorded)."""
    calls: list[int] = []
    real = http._sendfile

    def recording(*args: Any) -> int:
        sent = real(*args)
        calls.append(sent)
        return sent

    monkeypatch.setattr(http, "_sendfile", recording)
    return calls


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one Content-Length response, leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(
        next(
            ln.split(b":")[1]
            for ln in head.split(b"\r\n")
            if ln.lower().startswith(b"content-length:")
        )
    )
    while len(body) < length:
        chunk = sock.recv(MIB)
        assert chunk, "connection closed mid-body"
        body += chunk
    assert len(body) == length  # nothing beyond the body: the next reply starts clean
    return head, body


def test_whole_files_go_out_with_sendfile_on_a_kept_alive_connection(
    tmp_path: Path, sendfile_calls: list[int]
) -> None:
    big = (bytes(range(251)) * (MIB // 251 + 1))[: 5 * MIB + 3]  # not a multiple of anything
    (tmp_path / "image.raw").write_bytes(big)
    srv = http.start(http.Config(root=tmp_path, port=0))
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            replies = []
            for extra in (b"", b"Range: bytes=100-199\r\n", b""):  # a range is read, not sent
                sock.sendall(b"GET /image.raw HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
                replies.append(_read_response(sock))
        assert [head.split(b"\r\n")[0] for head, _ in replies] == [
            b"HTTP/1.1 200 OK", b"HTTP/1.1 206 Partial Content", b"HTTP/1.1 200 OK"
        ]  # fmt: skip
        assert [body for _, body in replies] == [big, big[100:200], big]
        assert sendfile_calls == [len(big), len(big)]
    finally:
        srv.stop()


def test_client_leaving_mid_download_does_not_hurt_the_server(
    tmp_path: Path, sendfile_calls: list[int]
) -> None:
    (tmp_path / "image.raw").write_bytes(bytes(64 * MIB))
    srv = http.start(http.Config(root=tmp_path, port=0))
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"GET /image.raw HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        r = httpx.get(srv.url + "/image.raw", headers={"Range": "bytes=0-9"}, timeout=5)
        assert r.content == bytes(10)
        deadline = 50
        while not sendfile_calls and deadline:  # the first download's thread notices
            threading.Event().wait(0.1)
            deadline -= 1
        assert sendfile_calls == [] or sendfile_calls[0] < 64 * MIB
    finally:
        srv.stop()
