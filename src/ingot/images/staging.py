"""The instance image of a deploy: read from instance_info, fetched into the conductor's cache
when the conductor serves it, and described to the agent (``standby.prepare_image``).

Which images the conductor serves follows Ironic's ``image_download_source``: ``file://``
URLs and local paths always (the agent cannot read the conductor's disk); ``http(s)`` ones
only with ``local`` (the default ``http`` lets the agent download them itself). A served
image is downloaded once, verified, its format read from its content, and published on the
HTTP boot server under ``/images/``; the agent gets that URL and the sha256 the cache computed.
All of this happens before the node is powered on, so a bad checksum, an unreachable URL or
an unknown format fails the deploy with a clear ``last_error`` before any disk is touched.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from ingot.errors import IngotError, InvalidInput
from ingot.images import checksum as checksums
from ingot.images import formats
from ingot.images.cache import ImageCache
from ingot.images.checksum import Checksum

PUBLISH_PREFIX = "images"  # URL prefix of the cache on the HTTP boot server
INTERNAL_KEY = "staged_image"  # driver_internal_info key of the published copy
DownloadSource = Literal["http", "local"]
ImageType = Literal["whole-disk", "partition"]
_DISK_FORMATS = {"raw", "qcow2"}


def cache_dir(state_dir: Path) -> Path:
    """Where the conductor keeps cached images (served at ``/<PUBLISH_PREFIX>/``)."""
    return Path(state_dir).resolve() / "image_cache"


@functools.cache
def shared_cache(directory: Path, max_bytes: int) -> ImageCache:
    """One ImageCache per directory in a process, so concurrent deploys of the same image
    share one download (the cache locks per entry)."""
    return ImageCache(directory, max_bytes, publish_prefix=PUBLISH_PREFIX)


@dataclass(frozen=True)
class ImageRequest:
    """A node's instance image as instance_info asks for it (validated, nothing fetched)."""

    source: str  # instance_info.image_source as given
    url: str  # http(s):// or file:// URL
    checksum: Checksum | str | None  # a str is the URL of a checksum file
    image_type: ImageType
    disk_format: str | None
    served_by_conductor: bool


@dataclass(frozen=True)
class StagedImage:
    """The verified copy in the cache, as the HTTP boot server publishes it."""

    source: str
    url: str
    sha256: str
    size: int
    disk_format: str

    def to_internal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_internal(cls, value: object, request: ImageRequest) -> StagedImage | None:
        """The staged copy recorded for ``request``'s image, or None (never staged, or staged
        for an image_source that has changed since)."""
        if not isinstance(value, dict) or value.get("source") != request.source:
            return None
        try:
            return cls(**value)
        except TypeError:
            return None


def download_source(
    instance_info: dict[str, Any], driver_info: dict[str, Any], default: str
) -> DownloadSource:
    """``image_download_source``: instance_info, then driver_info, then ``[agent]``."""
    value = instance_info.get("image_download_source") or driver_info.get("image_download_source")
    value = value or default
    if value not in ("http", "local"):
        raise InvalidInput(
            f"image_download_source {value!r} is not supported; use 'http' (the agent "
            "downloads http(s) images) or 'local' (the conductor caches and serves them)."
        )
    return cast(DownloadSource, value)


def image_request(
    instance_info: dict[str, Any], *, node_uuid: str, source_mode: DownloadSource
) -> ImageRequest:
    """Validate the image fields of instance_info; InvalidInput names the field and the fix."""
    source = instance_info.get("image_source")
    if not source or not isinstance(source, str):
        raise InvalidInput(
            f"Node {node_uuid} has no instance_info.image_source; set the image URL or path: "
            f"baremetal node set {node_uuid} --instance-info image_source=http://..."
        )
    scheme = urlsplit(source).scheme
    if scheme in ("http", "https", "file"):
        url = source
    elif not scheme or (len(scheme) == 1 and source[1:3] in (":\\", ":/")):
        if not source.startswith("/"):
            raise InvalidInput(
                f"Node {node_uuid}: instance_info.image_source {source!r} is a relative path; "
                "give an absolute path, a file:// URL or an http(s):// URL."
            )
        url = Path(source).as_uri()
    else:
        raise InvalidInput(
            f"Node {node_uuid}: instance_info.image_source {source!r} has scheme {scheme!r}; "
            "use http(s)://, file:// or an absolute path (image ids need a registered image)."
        )
    try:
        checksum = checksums.parse(
            instance_info.get("image_checksum"),
            instance_info.get("image_os_hash_algo"),
            instance_info.get("image_os_hash_value"),
        )
    except InvalidInput as exc:
        raise InvalidInput(
            f"Node {node_uuid}: instance_info image checksum fields: {exc.message}"
        ) from exc
    image_type = instance_info.get("image_type") or "whole-disk"
    if image_type not in ("whole-disk", "partition"):
        raise InvalidInput(
            f"Node {node_uuid}: instance_info.image_type {image_type!r} is not 'whole-disk' "
            "or 'partition'."
        )
    disk_format = instance_info.get("image_disk_format")
    if disk_format is not None and disk_format not in _DISK_FORMATS:
        raise InvalidInput(
            f"Node {node_uuid}: instance_info.image_disk_format {disk_format!r} is not raw or "
            "qcow2; leave it unset and Ingot reads the format from the image."
        )
    return ImageRequest(
        source=source,
        url=url,
        checksum=checksum,
        image_type=cast(ImageType, image_type),
        disk_format=disk_format,
        served_by_conductor=scheme not in ("http", "https") or source_mode == "local",
    )


def stage(cache: ImageCache, request: ImageRequest, http_url: str, node_uuid: str) -> StagedImage:
    """Fetch and verify the image into ``cache`` and read its format. Blocking: run it with
    ``asyncio.to_thread``. Errors keep their kind (InvalidInput: checksum or format;
    DriverError: unreachable) and name the node and instance_info field."""
    try:
        path = cache.fetch(request.url, request.checksum, probe_sidecar=request.checksum is None)
        detected = formats.detect(path)
    except IngotError as exc:
        raise type(exc)(
            f"Node {node_uuid}: instance_info.image_source {request.source}: {exc.message}"
        ) from exc
    disk_format = "qcow2" if detected == "qcow2" else "raw"  # an ISO is written as it is
    if request.disk_format and request.disk_format != disk_format:
        raise InvalidInput(
            f"Node {node_uuid}: instance_info.image_disk_format is {request.disk_format!r} but "
            f"the image {request.source} is {detected}; fix or unset image_disk_format."
        )
    return StagedImage(
        source=request.source,
        url=cache.url_for(path, http_url),
        sha256=cache.sha256_of(path),
        size=path.stat().st_size,
        disk_format=disk_format,
    )


def agent_image_info(request: ImageRequest, staged: StagedImage | None) -> dict[str, Any]:
    """The ``image_info`` of ``standby.prepare_image`` (Ironic's keys, without node fields).

    With a staged copy the agent downloads from our boot server and verifies the sha256 we
    computed; without one it gets the source URL and the checksum as given.
    """
    info: dict[str, Any] = {"id": request.source, "image_type": request.image_type}
    if staged is not None:
        info.update(
            urls=[staged.url],
            disk_format=staged.disk_format,
            os_hash_algo="sha256",
            os_hash_value=staged.sha256,
        )
        return info
    info.update(urls=[request.url], disk_format=request.disk_format or "raw")
    if isinstance(request.checksum, Checksum):
        info.update(os_hash_algo=request.checksum.algo, os_hash_value=request.checksum.value)
    elif isinstance(request.checksum, str):
        info["checksum"] = request.checksum  # a checksum file URL; the agent reads it
    return info
