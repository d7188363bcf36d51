"""The conductor's image cache: download once, verify, publish over the HTTP boot server.

Entries are content-addressed by their expected checksum (``sha256-<hex>``), so two URLs of
the same image share one file and a changed image under the same URL is a new entry.
Images without a checksum are keyed by URL and downloaded again on every fetch, since
nothing tells us whether they changed. Every entry gets a ``<name>.sha256`` sidecar, which
the HTTP boot server sends as the ETag and ``X-Checksum-Sha256``.

Downloads stream in 1 MiB chunks into a temp file in the cache directory (bounded memory),
are verified, and only then renamed into place: a reader never sees a partial or
unverified image. Blocking: call :meth:`ImageCache.fetch` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ingot.errors import DriverError, InvalidInput
from ingot.images import checksum as checksums
from ingot.images.checksum import Checksum

if TYPE_CHECKING:  # imported on first download: the server needs it only then
    import httpx

LOG = logging.getLogger(__name__)

CHUNK = 1 << 20
SIDECAR_SUFFIX = ".sha256"
_MAX_CHECKSUM_FILE = 1 << 20


def _http_client(timeout: float) -> httpx.Client:
    import httpx

    return httpx.Client(timeout=timeout, follow_redirects=True)


class ImageCache:
    """A size-bounded, content-addressed cache directory of verified images.

    ``max_bytes`` bounds the total size; least recently used entries are evicted after each
    download (an entry being returned is never evicted). ``client_factory`` builds the
    httpx client (tests and proxies can pass their own transport).
    """

    def __init__(
        self,
        cache_dir: Path,
        max_bytes: int,
        *,
        publish_prefix: str = "images",
        allow_md5: bool = True,
        timeout: float = 60.0,
        client_factory: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.max_bytes = max_bytes
        self.publish_prefix = publish_prefix.strip("/")
        self.allow_md5 = allow_md5
        self._client_factory = client_factory or (lambda: _http_client(timeout))
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.cache_dir.mkdir(mode=0o755, parents=True, exist_ok=True)

    # -- public API ------------------------------------------------------------------------

    def fetch(
        self, url: str, checksum: Checksum | str | None = None, *, probe_sidecar: bool = False
    ) -> Path:
        """Return the local path of the verified image at ``url`` (http(s), file, or a path).

        ``checksum`` is a :class:`Checksum`, an ``image_checksum`` string (hex, ``algo:hex``
        or a checksum file URL), or None; with ``probe_sidecar`` a missing checksum is looked
        for next to the image (``<image>.sha256``, ``<stem>.md5``...).
        Raises InvalidInput on a checksum mismatch or bad checksum, DriverError when the
        image cannot be read.
        """
        url = self._normalize(url)
        expected = self.resolve_checksum(url, checksum, probe_sidecar=probe_sidecar)
        key = (
            f"{expected.algo}-{expected.value}"
            if expected
            else "url-" + hashlib.sha256(url.encode()).hexdigest()[:40]
        )
        target = self.cache_dir / key
        with self._lock(key):
            if expected and target.is_file():
                os.utime(target)  # recently used: last to be evicted
                LOG.info("image cache hit", extra={"url": url, "key": key})
                return target
            self._download(url, expected, target)
        self.evict(keep=target)
        return target

    def resolve_checksum(
        self, url: str, checksum: Checksum | str | None, *, probe_sidecar: bool = False
    ) -> Checksum | None:
        """Turn whatever checksum was given into a :class:`Checksum` (fetching a file)."""
        parsed: Checksum | str | None
        parsed = checksums.parse(checksum) if isinstance(checksum, str) else checksum
        if isinstance(parsed, str):
            text = self._read_small(parsed)
            parsed = checksums.from_checksum_file(text, url)
        if parsed is None and probe_sidecar:
            parsed = self._probe_sidecars(url)
        if parsed is not None and parsed.algo == "md5" and not self.allow_md5:
            raise InvalidInput(
                f"image {url} has only an md5 checksum, which this conductor does not accept; "
                "give a sha256 or sha512 checksum (image_os_hash_algo/value)."
            )
        return parsed

    def url_for(self, path: Path, http_base_url: str) -> str:
        """URL of a cached image on the HTTP boot server (mounted at ``publish_prefix``)."""
        path = Path(path)
        if path.parent.resolve() != self.cache_dir.resolve():
            raise InvalidInput(f"{path} is not an entry of the image cache {self.cache_dir}.")
        return f"{http_base_url.rstrip('/')}/{self.publish_prefix}/{path.name}"

    def sha256_of(self, path: Path) -> str:
        """The sha256 recorded for a cached entry."""
        return (path.parent / (path.name + SIDECAR_SUFFIX)).read_text().split()[0]

    def entries(self) -> list[Path]:
        """Cached images, least recently used first."""
        files = [
            p
            for p in self.cache_dir.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SIDECAR_SUFFIX)
        ]
        return sorted(files, key=lambda p: p.stat().st_mtime)

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used entries until the cache fits ``max_bytes``."""
        entries = self.entries()
        total = sum(p.stat().st_size for p in entries)
        removed = []
        for entry in entries:
            if total <= self.max_bytes:
                break
            if keep is not None and entry == keep:
                continue
            size = entry.stat().st_size
            with self._lock(entry.name):
                entry.unlink(missing_ok=True)
                (entry.parent / (entry.name + SIDECAR_SUFFIX)).unlink(missing_ok=True)
            total -= size
            removed.append(entry)
            LOG.info("image cache evicted", extra={"key": entry.name, "bytes": size})
        if total > self.max_bytes:
            LOG.warning(
                "image cache over its limit: the image in use is larger than max_bytes",
                extra={"bytes": total, "max_bytes": self.max_bytes},
            )
        return removed

    # -- internals -------------------------------------------------------------------------

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    @staticmethod
    def _normalize(url: str) -> str:
        scheme = urlsplit(url).scheme
        if scheme in {"http", "https", "file"}:
            return url
        if scheme:
            raise InvalidInput(f"image URL {url!r}: scheme {scheme!r} is not http, https or file.")
        return Path(url).resolve().as_uri()

    def _chunks(self, url: str, client: httpx.Client | None) -> Iterator[bytes]:
        """Yield the image's bytes; DriverError when unreachable, short or missing."""
        import httpx

        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(url2pathname(parts.path))
            try:
                with path.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        yield chunk
            except OSError as exc:
                raise DriverError(f"image {url} cannot be read: {exc.strerror or exc}.") from exc
            return
        assert client is not None
        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DriverError(
                        f"image {url} returned HTTP {response.status_code}; check the URL and "
                        "that the image server is up."
                    )
                expected = response.headers.get("content-length")
                received = 0
                for chunk in response.iter_bytes(CHUNK):
                    received += len(chunk)
                    yield chunk
                if expected is not None and expected.isdigit() and received != int(expected):
                    raise DriverError(
                        f"image {url} was cut short: {received} of {expected} bytes arrived."
                    )
        except httpx.HTTPError as exc:
            raise DriverError(f"image {url} is unreachable: {exc}.") from exc

    def _download(self, url: str, expected: Checksum | None, target: Path) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=self.cache_dir)
        tmp = Path(tmp_name)
        sha256 = hashlib.sha256()
        verify = expected.hasher() if expected and expected.algo != "sha256" else None
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, self._client() as client:
                for chunk in self._chunks(url, client):
                    out.write(chunk)
                    sha256.update(chunk)
                    if verify is not None:
                        verify.update(chunk)
                    size += len(chunk)
            actual = (verify or sha256).hexdigest()
            if expected is not None and actual != expected.value:
                raise InvalidInput(
                    f"image {url} failed its {expected.algo} checksum: expected "
                    f"{expected.value}, got {actual}; the image or image_checksum is wrong."
                )
            os.chmod(tmp, 0o644)  # served by the HTTP boot server and linked into TFTP root
            sidecar = target.parent / (target.name + SIDECAR_SUFFIX)
            sidecar.write_text(f"{sha256.hexdigest()}  {target.name}\n")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        LOG.info("image downloaded", extra={"url": url, "key": target.name, "bytes": size})

    @contextlib.contextmanager
    def _client(self) -> Iterator[httpx.Client]:
        client = self._client_factory()
        try:
            yield client
        finally:
            client.close()

    def _read_small(self, url: str) -> str:
        """Fetch a checksum file (bounded size)."""
        data = bytearray()
        with self._client() as client:
            for chunk in self._chunks(url, client):
                data += chunk
                if len(data) > _MAX_CHECKSUM_FILE:
                    raise InvalidInput(f"checksum file {url} is larger than 1 MiB.")
        return data.decode("utf-8", errors="replace")

    def _probe_sidecars(self, url: str) -> Checksum | None:
        for candidate in checksums.sidecar_urls(url):
            try:
                text = self._read_small(candidate)
            except DriverError:
                continue
            algo = candidate.rsplit(".", 1)[-1]
            return checksums.from_checksum_file(text, url, algo)
        return None
