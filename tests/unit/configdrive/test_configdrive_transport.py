"""gzip + base64 round trips, IPA's plain-base64 fallback, and the size limit."""

from __future__ import annotations

import base64
import gzip

import pytest

from ingot.configdrive import transport
from ingot.errors import InvalidInput


def test_round_trip_is_gzip_then_base64() -> None:
    data = b"CD001" * 1000
    encoded = transport.encode(data)
    assert gzip.decompress(base64.b64decode(encoded)) == data
    assert transport.decode(encoded) == data
    assert transport.encode(data) == encoded  # stable: no timestamp in the gzip header


def test_decode_accepts_wrapped_lines_and_plain_base64() -> None:
    data = b"plain image bytes" * 100
    wrapped = base64.encodebytes(gzip.compress(data)).decode()
    assert "\n" in wrapped
    assert transport.decode(wrapped) == data
    assert transport.decode(base64.b64encode(data).decode()) == data


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "not valid base64"),
        (base64.b64encode(b"\x1f\x8b\x08\x00garbage").decode(), "gzip stream is corrupt"),
    ],
)
def test_decode_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        transport.decode(value)


def test_gzip_bomb_stops_at_64_mib() -> None:
    bomb = base64.b64encode(gzip.compress(b"\0" * (transport.MAX_IMAGE_BYTES + 4096))).decode()
    assert len(bomb) < 200_000
    with pytest.raises(InvalidInput, match="over the 64 MiB limit"):
        transport.decode(bomb)


def test_encode_refuses_oversized_images() -> None:
    with pytest.raises(InvalidInput, match="64 MiB"):
        transport.encode(b"\0" * (transport.MAX_IMAGE_BYTES + 1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("QUJD\nRA==", True), ("", False), ("http://x/y", False), ('{"a": 1}', False)],
)
def test_looks_like_base64_matches_ironics_alphabet(value: str, expected: bool) -> None:
    assert transport.looks_like_base64(value) is expected
