"""Image checksums as operators give them: Glance's ``os_hash_algo``/``os_hash_value``,
Ironic's ``image_checksum`` (bare hex, ``algo:hex``, or a URL of a checksum file), and
checksum files next to the image (``SHA256SUMS`` style or a bare ``<name>.md5``).

sha256 and sha512 are preferred; md5 is accepted because old inventories carry it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ingot.errors import InvalidInput

Algorithm = Literal["md5", "sha256", "sha512"]
ALGORITHMS: tuple[Algorithm, ...] = ("md5", "sha256", "sha512")
_BY_LENGTH: dict[int, Algorithm] = {32: "md5", 64: "sha256", 128: "sha512"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# "<hex>  name", "<hex> *name" (coreutils) and "SHA256 (name) = <hex>" (BSD).
_GNU_LINE = re.compile(r"^([0-9a-fA-F]{32,128})(?:\s+\*?(.+))?$")
_BSD_LINE = re.compile(r"^(MD5|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]{32,128})$", re.I)


@dataclass(frozen=True)
class Checksum:
    """An expected digest; ``value`` is lower-case hex."""

    algo: Algorithm
    value: str

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise InvalidInput(
                f"checksum algorithm {self.algo!r} is not supported; use sha256 or sha512."
            )
        if not _HEX.match(self.value) or len(self.value) != _LENGTHS[self.algo]:
            raise InvalidInput(
                f"{self.algo} checksum {self.value!r} is not {_LENGTHS[self.algo]} hex digits."
            )
        object.__setattr__(self, "value", self.value.lower())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algo)

    def __str__(self) -> str:
        return f"{self.algo}:{self.value}"


_LENGTHS = {algo: length for length, algo in _BY_LENGTH.items()}


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in {"http", "https", "file"}


def from_hex(value: str, algo: str | None = None) -> Checksum:
    """A Checksum from hex, with ``algo`` given or guessed from the length."""
    value = value.strip()
    if ":" in value and algo is None:
        algo, value = value.split(":", 1)
    if algo is None:
        guessed = _BY_LENGTH.get(len(value))
        if guessed is None:
            raise InvalidInput(
                f"image checksum {value!r} has {len(value)} characters; expected an md5 (32), "
                "sha256 (64) or sha512 (128) hex digest, 'algo:hex', or a checksum file URL."
            )
        algo = guessed
    return Checksum(algo.lower(), value)  # type: ignore[arg-type]


def parse(
    image_checksum: str | None = None,
    os_hash_algo: str | None = None,
    os_hash_value: str | None = None,
) -> Checksum | str | None:
    """Interpret instance_info's checksum fields.

    Returns a :class:`Checksum`, the URL of a checksum file to fetch (a ``str``), or None
    when nothing was given. ``os_hash_*`` win over ``image_checksum``, as in Ironic.
    """
    if os_hash_value:
        if not os_hash_algo:
            raise InvalidInput("image_os_hash_value is set without image_os_hash_algo; set both.")
        return from_hex(os_hash_value, os_hash_algo)
    if os_hash_algo:
        raise InvalidInput("image_os_hash_algo is set without image_os_hash_value; set both.")
    if not image_checksum:
        return None
    if is_url(image_checksum):
        return image_checksum
    return from_hex(image_checksum)


def from_checksum_file(text: str, image_url: str, algo: str | None = None) -> Checksum:
    """Pick the digest of ``image_url``'s file name out of a checksum file's text.

    A file holding one digest (``md5sum x > x.md5``, whatever path it names) applies as is.
    Raises InvalidInput when the file has no usable line for the image.
    """
    name = posixpath.basename(urlsplit(image_url).path)
    entries: list[tuple[str | None, str, str | None]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := _BSD_LINE.match(line):
            entries.append((match.group(2), match.group(3), match.group(1).lower()))
        elif match := _GNU_LINE.match(line):
            entries.append((match.group(2), match.group(1), None))
    for entry_name, value, entry_algo in entries:
        if entry_name is not None and posixpath.basename(entry_name.strip()) == name:
            return from_hex(value, algo or entry_algo)
    if len(entries) == 1:
        return from_hex(entries[0][1], algo or entries[0][2])
    raise InvalidInput(
        f"the checksum file for {image_url} has no entry for {name!r}; "
        "add a '<digest>  <file name>' line or give image_checksum directly."
    )


def sidecar_urls(image_url: str) -> list[str]:
    """Where a checksum file next to the image may be, most trusted algorithm first."""
    parts = urlsplit(image_url)
    stem, _ = posixpath.splitext(parts.path)
    urls = []
    for algo in ("sha512", "sha256", "md5"):
        for path in (f"{parts.path}.{algo}", f"{stem}.{algo}"):
            url = parts._replace(path=path).geturl()
            if url not in urls:
                urls.append(url)
    return urls
