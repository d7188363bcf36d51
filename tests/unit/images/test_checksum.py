"""Checksum fields and checksum files as operators write them."""

from __future__ import annotations

import pytest

from ingot.errors import InvalidInput
from ingot.images import checksum
from ingot.images.checksum import Checksum

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" * 2


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"image_checksum": MD5}, Checksum("md5", MD5)),
        ({"image_checksum": SHA256.upper()}, Checksum("sha256", SHA256)),
        ({"image_checksum": SHA512}, Checksum("sha512", SHA512)),
        ({"image_checksum": f"sha256:{SHA256}"}, Checksum("sha256", SHA256)),
        (
            {"os_hash_algo": "sha512", "os_hash_value": SHA512, "image_checksum": MD5},
            Checksum("sha512", SHA512),
        ),
        ({"image_checksum": "http://h/SHA256SUMS"}, "http://h/SHA256SUMS"),
        ({}, None),
    ],
)
def test_parse(kwargs: dict[str, str], expected: object) -> None:
    assert checksum.parse(**kwargs) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"image_checksum": "abc"},
        {"image_checksum": "sha1:" + "a" * 40},
        {"os_hash_algo": "sha256"},
        {"os_hash_value": SHA256},
        {"os_hash_algo": "sha256", "os_hash_value": SHA512},
    ],
)
def test_parse_refuses(kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        checksum.parse(**kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{SHA256}  other.img\n{SHA512[:64]}  disk.qcow2\n", Checksum("sha256", SHA512[:64])),
        (f"{SHA256} *disk.qcow2\n", Checksum("sha256", SHA256)),
        (f"SHA512 (disk.qcow2) = {SHA512}\n", Checksum("sha512", SHA512)),
        # seed 002: `md5sum output-ubuntu/trusty.qcow2 > trusty.md5`, a single line
        (f"{MD5}  output-ubuntu-14.04/whatever.qcow2\n", Checksum("md5", MD5)),
        (f"# comment\n{MD5}\n", Checksum("md5", MD5)),
    ],
)
def test_from_checksum_file(text: str, expected: Checksum) -> None:
    assert checksum.from_checksum_file(text, "http://h/images/disk.qcow2") == expected


def test_checksum_file_without_entry() -> None:
    text = f"{SHA256}  a.img\n{SHA256}  b.img\n"
    with pytest.raises(InvalidInput, match=r"no entry for 'disk\.qcow2'"):
        checksum.from_checksum_file(text, "http://h/disk.qcow2")


def test_sidecar_urls() -> None:
    urls = checksum.sidecar_urls("http://h/images/trusty.qcow2")
    assert urls[0] == "http://h/images/trusty.qcow2.sha512"
    assert "http://h/images/trusty.md5" in urls
