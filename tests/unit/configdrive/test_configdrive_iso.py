"""Build config-2 images and read every file back through Rock Ridge and Joliet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingot.configdrive.iso import VERSIONS, build_iso, read_iso, volume_label
from ingot.configdrive.transport import MAX_IMAGE_BYTES
from ingot.errors import InvalidInput

META = {"uuid": "27946b59-9e44-4fa7-8e91-f3527a1ef094", "name": "node-0", "hostname": "node-0"}
USER = b"#cloud-config\nusers:\n  - name: admin\n"
NETWORK = {"links": [], "networks": [], "services": [{"type": "dns", "address": "8.8.8.8"}]}
VENDOR = {"static": {"site": "lab"}}


@pytest.fixture(scope="module")
def image() -> bytes:
    return build_iso(
        META,
        user_data=USER,
        network_data=NETWORK,
        vendor_data=VENDOR,
        vendor_data_v1={"v1": True},
        content={"0000": b"extra file\n"},
    )


def expected_files() -> dict[str, Any]:
    per_version = {
        "meta_data.json": META,
        "user_data": USER,
        "network_data.json": NETWORK,
        "vendor_data.json": {"v1": True},
        "vendor_data2.json": VENDOR,
    }
    files = {f"openstack/{v}/{n}": d for v in VERSIONS for n, d in per_version.items()}
    files["openstack/content/0000"] = b"extra file\n"
    return files


@pytest.mark.parametrize("joliet", [False, True], ids=["rock-ridge", "joliet"])
def test_every_file_reads_back(image: bytes, joliet: bool) -> None:
    files = read_iso(image, joliet=joliet)
    expected = expected_files()
    assert sorted(files) == sorted(expected)
    for path, want in expected.items():
        got = files[path]
        assert (got if isinstance(want, bytes) else json.loads(got)) == want, path


def test_label_and_latest_plus_every_dated_version_cloud_init_knows(image: bytes) -> None:
    assert volume_label(image) == "config-2"
    versions = {p.split("/")[1] for p in read_iso(image) if not p.startswith("openstack/content")}
    assert versions == {"latest", "2012-08-10", "2015-10-15", "2018-08-27"} | set(VERSIONS)


def test_version_copies_are_hard_links_not_duplicates() -> None:
    big = b"#!/bin/sh\n" + b"x" * (2 * 1024 * 1024)
    image = build_iso({"uuid": "u"}, user_data=big)
    assert len(image) < len(big) + 256 * 1024
    assert read_iso(image)["openstack/2016-10-06/user_data"] == big


def test_optional_files_are_left_out() -> None:
    assert sorted(read_iso(build_iso({"uuid": "u"}, versions=["latest"]))) == [
        "openstack/latest/meta_data.json"
    ]


def test_over_64_mib_is_refused_before_building() -> None:
    with pytest.raises(InvalidInput, match="over the 64 MiB limit"):
        build_iso({"uuid": "u"}, user_data=b"x" * (MAX_IMAGE_BYTES + 1))


@pytest.mark.parametrize("name", ["", "a/b"])
def test_content_names_must_be_plain(name: str) -> None:
    with pytest.raises(InvalidInput, match="plain file name"):
        build_iso({"uuid": "u"}, content={name: b"x"})


def test_reading_garbage_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="not a readable ISO9660 image"):
        read_iso(b"\0" * 70000)
