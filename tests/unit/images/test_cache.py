"""ImageCache against a real HTTP server on 127.0.0.1: verify, cache, evict, publish."""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingot.errors import DriverError, InvalidInput
from ingot.images.cache import ImageCache
from ingot.images.checksum import Checksum

IMAGE = os.urandom(3 * (1 << 20) + 123)  # spans several 1 MiB chunks
SHA256 = hashlib.sha256(IMAGE).hexdigest()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP image server like an operator's nginx, on 127.0.0.1."""
    root = tmp_path_factory.mktemp("site")
    (root / "disk.raw").write_bytes(IMAGE)
    (root / "SHA256SUMS").write_text(f"{'0' * 64}  other.raw\n{SHA256}  disk.raw\n")
    (root / "trusty.qcow2").write_bytes(IMAGE[:1000])
    md5 = hashlib.md5(IMAGE[:1000]).hexdigest()
    (root / "trusty.md5").write_text(f"{md5}  output-ubuntu-14.04/trusty.qcow2\n")
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@pytest.fixture
def cache(tmp_path: Path) -> ImageCache:
    return ImageCache(tmp_path / "cache", max_bytes=10 << 20, timeout=5)


def test_fetch_verifies_and_caches(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    path = cache.fetch(f"{url}/disk.raw", Checksum("sha256", SHA256))
    assert path.read_bytes() == IMAGE
    assert path.name == f"sha256-{SHA256}"
    assert cache.sha256_of(path) == SHA256
    mtime = path.stat().st_mtime_ns
    assert cache.fetch(f"{url}/disk.raw", f"sha256:{SHA256}") == path  # a hit, no new file
    assert path.stat().st_mtime_ns >= mtime
    assert [p.name for p in cache.entries()] == [path.name]


def test_mismatch_leaves_nothing(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    with pytest.raises(InvalidInput, match="failed its sha256 checksum"):
        cache.fetch(f"{url}/disk.raw", "f" * 64)
    assert list(cache.cache_dir.iterdir()) == []


def test_checksum_file_url(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    path = cache.fetch(f"{url}/disk.raw", f"{url}/SHA256SUMS")
    assert path.name == f"sha256-{SHA256}"


def test_md5_sidecar_next_to_image(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    path = cache.fetch(f"{url}/trusty.qcow2", probe_sidecar=True)
    assert path.name.startswith("md5-")
    assert path.read_bytes() == IMAGE[:1000]


def test_md5_refused_when_disallowed(tmp_path: Path, site: tuple[str, Path]) -> None:
    url, _ = site
    strict = ImageCache(tmp_path / "strict", max_bytes=1 << 30, allow_md5=False)
    with pytest.raises(InvalidInput, match="only an md5"):
        strict.fetch(f"{url}/trusty.qcow2", probe_sidecar=True)


def test_without_checksum_keyed_by_url(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    path = cache.fetch(f"{url}/disk.raw")
    assert path.name.startswith("url-")
    assert cache.sha256_of(path) == SHA256


@pytest.mark.parametrize("given", ["file", "path"])
def test_local_files(cache: ImageCache, site: tuple[str, Path], given: str) -> None:
    _, root = site
    ref = (root / "disk.raw").as_uri() if given == "file" else str(root / "disk.raw")
    assert cache.fetch(ref, Checksum("sha256", SHA256)).read_bytes() == IMAGE


def test_http_404(cache: ImageCache, site: tuple[str, Path]) -> None:
    url, _ = site
    with pytest.raises(DriverError, match="HTTP 404"):
        cache.fetch(f"{url}/missing.raw", Checksum("sha256", SHA256))


def test_unreachable(cache: ImageCache) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(DriverError, match="unreachable"):
        cache.fetch(f"http://127.0.0.1:{port}/disk.raw", Checksum("sha256", SHA256))


def test_missing_local_file(cache: ImageCache, tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="cannot be read"):
        cache.fetch(str(tmp_path / "nope.raw"), Checksum("sha256", SHA256))


def test_bad_scheme(cache: ImageCache) -> None:
    with pytest.raises(InvalidInput, match="scheme"):
        cache.fetch("ftp://h/disk.raw")


def test_eviction_is_lru_and_keeps_new(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "cache", max_bytes=3500)
    blobs = [bytes([i]) * 1000 for i in range(3)]
    paths = []
    for i, blob in enumerate(blobs):
        src = tmp_path / f"img{i}"
        src.write_bytes(blob)
        paths.append(cache.fetch(str(src), Checksum("sha256", hashlib.sha256(blob).hexdigest())))
        os.utime(paths[-1], (1000 + i, 1000 + i))  # deterministic use order
    # Using img0 again makes img1 the least recently used entry.
    os.utime(paths[0], (2000, 2000))
    src = tmp_path / "img3"
    src.write_bytes(b"\x03" * 1000)
    newest = cache.fetch(str(src), Checksum("sha256", hashlib.sha256(b"\x03" * 1000).hexdigest()))
    names = {p.name for p in cache.entries()}
    assert newest.name in names and paths[0].name in names
    assert paths[1].name not in names
    assert not (paths[1].parent / (paths[1].name + ".sha256")).exists()


def test_url_for(cache: ImageCache, tmp_path: Path) -> None:
    src = tmp_path / "img"
    src.write_bytes(b"x")
    path = cache.fetch(str(src), Checksum("sha256", hashlib.sha256(b"x").hexdigest()))
    assert (
        cache.url_for(path, "http://10.99.0.1:8080/") == f"http://10.99.0.1:8080/images/{path.name}"
    )
    with pytest.raises(InvalidInput):
        cache.url_for(src, "http://h")
