"""gzip + base64 encoding of a config drive image, the form Ironic stores and IPA writes.

Ironic keeps ``instance_info['configdrive']`` as base64 of a gzipped ISO; IPA falls back to the
plain base64-decoded bytes when they are not gzip, so decoding accepts both. Sizes are bounded
before and while decompressing so a small gzip bomb cannot fill memory.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import string
import zlib

from ingot.errors import InvalidInput

#: The config drive partition IPA creates is at most 64 MiB; a bigger image cannot be written.
MAX_IMAGE_BYTES = 64 * 1024 * 1024

# Ironic's API treats these as the base64 alphabet (newlines and spaces are common in pasted
# values), so a string made only of them is "base64", anything else with "://" is a URL.
BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=\n\r\t ")

_GZIP_MAGIC = b"\x1f\x8b"
_ISO9660_MAGIC_OFFSET = 0x8001  # first volume descriptor at sector 16, "CD001" after its type byte


def encode(image: bytes) -> str:
    """Gzip and base64 an image as Ironic stores it; raises InvalidInput over 64 MiB."""
    check_size(len(image))
    # mtime=0 keeps the output stable for the same image (easier caching and tests).
    return base64.b64encode(gzip.compress(image, compresslevel=9, mtime=0)).decode("ascii")


def decode(value: str, *, field: str = "configdrive") -> bytes:
    """Undo :func:`encode`; plain base64 (not gzipped) is accepted as IPA does.

    Raises InvalidInput naming ``field`` when the value is not base64, the gzip stream is
    corrupt, or the image is over 64 MiB.
    """
    compact = "".join(value.split())
    # base64 grows 4/3 and gzip can only shrink an ISO, so this bound is safe and cheap.
    if len(compact) > (MAX_IMAGE_BYTES * 4) // 3 + 8:
        check_size(len(compact) * 3 // 4, field=field)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            f"{field} is not valid base64 ({exc}); pass a gzipped and base64-encoded ISO9660 "
            "image, an http(s) URL, or a JSON object with meta_data/user_data/network_data"
        ) from exc
    if not raw.startswith(_GZIP_MAGIC):
        check_size(len(raw), field=field)
        return raw
    return _gunzip_bounded(raw, field=field)


def _gunzip_bounded(raw: bytes, *, field: str) -> bytes:
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as gz:
            while chunk := gz.read(1024 * 1024):
                out.write(chunk)
                check_size(out.tell(), field=field)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInput(
            f"{field} is base64 but its gzip stream is corrupt ({exc}); re-create it with "
            "'gzip -c drive.iso | base64 -w0'"
        ) from exc
    return out.getvalue()


def check_size(size: int, *, field: str = "configdrive") -> None:
    """Raise InvalidInput when an image of ``size`` bytes cannot fit the config drive partition."""
    if size > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"{field} is {size / 1048576:.1f} MiB, over the 64 MiB limit of a config drive; "
            "move large payloads out of user_data (e.g. fetch them from a URL at first boot)"
        )


def is_iso9660(image: bytes) -> bool:
    """True when ``image`` carries an ISO9660 primary volume descriptor signature."""
    return image[_ISO9660_MAGIC_OFFSET : _ISO9660_MAGIC_OFFSET + 5] == b"CD001"


def looks_like_base64(value: str) -> bool:
    """Ironic's test: only base64 letters and whitespace (it cannot tell bad base64 apart)."""
    return bool(value) and not (set(value) - BASE64_ALPHABET)
