"""The HTTP boot server over real HTTP on 127.0.0.1: GET, HEAD, Range, 404, traversal."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingot.errors import ConfigError
from ingot.netboot import http

DATA = bytes(range(256)) * 40  # 10240 bytes


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
