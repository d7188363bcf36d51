"""Where an image comes from: ``image_info`` parsing, checksums, and opening the URL."""

from __future__ import annotations

import hashlib
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ingot_agent.errors import ImageDownloadError, InvalidCommandParamsError

ALGORITHMS = ("md5", "sha256", "sha512")
BY_LENGTH = {32: "md5", 64: "sha256", 128: "sha512"}
MAX_CHECKSUM_FILE = 1024 * 1024


@dataclass
class ImageInfo:
    """The fields of Ironic's ``image_info`` that the agent uses."""

    id: str
    urls: list[str]
    checksum_algo: str | None
    checksum: str | None
    disk_format: str | None = None
    image_type: str = "whole-disk"
    root_device: dict[str, Any] = field(default_factory=dict)
    root_mb: int = 0
    swap_mb: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def parse_image_info(info: Any) -> ImageInfo:
    """Validate ``image_info``; raises InvalidCommandParamsError naming the bad field."""
    if not isinstance(info, dict):
        raise InvalidCommandParamsError("image_info must be a JSON object")
    urls = info.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise InvalidCommandParamsError("image_info.urls must be a non-empty list of URLs")
    algo = info.get("os_hash_algo")
    value = info.get("os_hash_value")
    if not (algo and value):
        algo, value = None, info.get("checksum")
    if algo and algo not in ALGORITHMS:
        raise InvalidCommandParamsError(
            f"image_info.os_hash_algo {algo!r} is not supported; use one of {ALGORITHMS}"
        )
    if not value and not info.get("insecure_skip_checksum"):
        raise InvalidCommandParamsError(
            "image_info needs os_hash_algo + os_hash_value (or checksum) to verify the image"
        )
    image_type = info.get("image_type") or ("partition" if info.get("root_mb") else "whole-disk")
    if image_type not in ("whole-disk", "partition"):
        raise InvalidCommandParamsError(
            f"image_info.image_type {image_type!r}: use 'whole-disk' or 'partition'"
        )
    disk_format = info.get("disk_format")
    if disk_format not in (None, "raw", "qcow2"):
        raise InvalidCommandParamsError(
            f"image_info.disk_format {disk_format!r} is not supported; use raw or qcow2"
        )
    return ImageInfo(
        id=str(info.get("id", "unknown")),
        urls=list(urls),
        checksum_algo=algo,
        checksum=str(value).strip() if value else None,
        disk_format=disk_format,
        image_type=image_type,
        root_device=dict(info.get("root_device") or {}),
        root_mb=int(info.get("root_mb") or 0),
        swap_mb=int(info.get("swap_mb") or 0),
        raw=info,
    )


def ssl_context(insecure: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if insecure:  # ipa-insecure=1: lab or self-signed setups, as IPA allows
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def open_url(url: str, insecure: bool = False, timeout: float = 60.0) -> BinaryIO:
    """Open an http(s) or file URL for streaming; raises ImageDownloadError saying why not."""
    try:
        resp = urllib.request.urlopen(url, timeout=timeout, context=ssl_context(insecure))
    except urllib.error.HTTPError as exc:
        raise ImageDownloadError(
            f"image URL {url} answered HTTP {exc.code} {exc.reason}; check the image location"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ImageDownloadError(f"cannot download image from {url}: {exc}") from exc
    stream: BinaryIO = resp
    return stream


def open_first(urls: list[str], insecure: bool) -> tuple[BinaryIO, str]:
    """Try the URLs in order (Ironic may send mirrors); raise with every failure listed."""
    errors = []
    for url in urls:
        try:
            return open_url(url, insecure), url
        except ImageDownloadError as exc:
            errors.append(exc.details)
    raise ImageDownloadError("; ".join(errors))


def resolve_checksum(info: ImageInfo, insecure: bool) -> tuple[str | None, str | None]:
    """Return ``(algorithm, hex digest)``; fetches checksum files given by URL, like IPA."""
    value = info.checksum
    if not value:
        return None, None
    if value.startswith(("http://", "https://", "file://")):
        with open_url(value, insecure) as fh:
            text = fh.read(MAX_CHECKSUM_FILE).decode(errors="replace")
        wanted = os.path.basename(info.urls[0].split("?", 1)[0])
        lines = [ln.split() for ln in text.splitlines() if ln.strip()]
        match = [ln[0] for ln in lines if len(lines) == 1 or wanted in " ".join(ln[1:])]
        if not match:
            raise ImageDownloadError(f"checksum file {value} has no line for {wanted}")
        value = match[0]
    value = value.lower()
    algo = info.checksum_algo or BY_LENGTH.get(len(value))
    if algo is None:
        raise InvalidCommandParamsError(
            f"cannot tell the algorithm of checksum {value!r}; set image_info.os_hash_algo"
        )
    return algo, value


def new_hasher(algo: str | None) -> Any:
    """A hashlib object, or None when checksums are skipped (only with explicit consent)."""
    if algo is None:
        return None
    # md5 only for old inventories; mark it as non-security use for FIPS-mode Pythons.
    if algo == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(algo)
