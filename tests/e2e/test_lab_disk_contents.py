"""Issue 8, must show: after a deploy, the lab server's disk file starts with the image's bytes
and carries a ``config-2`` partition with the hostname asked for.

Checked without Ingot's code: the partition table is parsed here with ``struct`` (and, where
installed, by util-linux ``sfdisk --json``), the config drive read with pycdlib. Adding the
config drive partition must change the partition table itself, so the comparison says exactly
which bytes may differ: for MBR the one 16-byte slot the new partition took (empty in the
image); for GPT the primary header and entry array (the image's own entries kept byte for
byte), the protective MBR's size field and the image's old backup header.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.lab_fixtures import (
    SSH_KEY,
    Site,
    TestImage,
    config_drive,
    iso_files,
    lab_site,
    publish_image,
    read_table,
)

SECTOR = 512
HOSTNAME = "db-7.must-show.example"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with lab_site(tmp_path, nodes=1, bmc="ipmi") as running:
        yield running


def deploy(site: Site, image: TestImage) -> Path:
    site.import_inventory("--manage", "--provide")
    site.set_image("node-0", image)
    site.set_state("node-0", "active", configdrive=config_drive(HOSTNAME))
    node = site.wait(["node-0"], {"active", "deploy failed"})["node-0"]
    assert (node["provision_state"], node["last_error"]) == ("active", None)
    return site.lab.server("node-0").disk_path


def check_config_drive(disk: Path, start: int, sectors: int) -> None:
    label, files = iso_files(disk, start, sectors)
    assert label == "config-2"
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["hostname"] == HOSTNAME
    assert list(meta["public_keys"].values()) == [SSH_KEY]
    assert files["openstack/latest/user_data"].startswith(b"#cloud-config\n")
    network = json.loads(files["openstack/latest/network_data.json"])
    assert [link["id"] for link in network["links"]] == ["eth0", "eth1", "bond0", "bond0.100"]


def sfdisk(disk: Path) -> dict[str, object] | None:
    if shutil.which("sfdisk") is None:
        return None
    out = subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, text=True,
                         check=True, timeout=30)  # fmt: skip
    table: dict[str, object] = json.loads(out.stdout)["partitiontable"]
    return table


def test_mbr_image_bytes_and_config_drive_on_the_disk(site: Site) -> None:
    image = publish_image(site.server, "mbr.raw", "msdos")
    disk = deploy(site, image)
    size = disk.stat().st_size
    table, parts = read_table(disk)
    assert table == "msdos" and [p["number"] for p in parts] == [1, 2]
    drive = parts[1]
    # The config drive sits at the disk's end, past the image.
    assert drive["start"] * SECTOR >= len(image.data)
    assert (drive["start"] + drive["sectors"]) * SECTOR <= size
    check_config_drive(disk, drive["start"], drive["sectors"])

    with open(disk, "rb") as fh:
        head = fh.read(len(image.data))
    slot = slice(446 + 16, 446 + 32)  # partition 2's entry: empty in the image
    assert image.data[slot] == bytes(16)
    expected = bytearray(image.data)
    expected[slot] = head[slot]
    assert head == bytes(expected), "the disk does not start with the image's bytes"

    listed = sfdisk(disk)
    if listed is not None:
        assert listed["label"] == "dos"
        starts = [p["start"] for p in listed["partitions"]]  # type: ignore[attr-defined]
        assert starts == [2048, drive["start"]]


def test_gpt_image_bytes_and_config_drive_on_the_disk(site: Site) -> None:
    image = publish_image(site.server, "gpt.raw", "gpt")
    disk = deploy(site, image)
    size = disk.stat().st_size
    with open(disk, "rb") as fh:
        head = fh.read(len(image.data))
        fh.seek(size - SECTOR)
        backup = fh.read(SECTOR)

    # A valid GPT: header and entry array CRCs, backup header at the disk's real end.
    header = head[SECTOR : 2 * SECTOR]
    (hsize,) = struct.unpack_from("<I", header, 12)
    raw = bytearray(header[:hsize])
    struct.pack_into("<I", raw, 16, 0)
    assert zlib.crc32(raw) == struct.unpack_from("<I", header, 16)[0], "GPT header CRC"
    alternate, first_usable, last_usable = struct.unpack_from("<QQQ", header, 32)
    entries_lba, count, esize, ecrc = struct.unpack_from("<QIII", header, 72)
    array = head[entries_lba * SECTOR : entries_lba * SECTOR + count * esize]
    assert zlib.crc32(array) == ecrc, "GPT entry array CRC"
    assert alternate == size // SECTOR - 1 and backup[:8] == b"EFI PART"

    table, parts = read_table(disk)
    assert table == "gpt" and [p["name"] for p in parts] == ["root", "config-2"]
    drive = parts[1]
    assert drive["start"] * SECTOR >= len(image.data)
    assert drive["start"] + drive["sectors"] - 1 <= last_usable
    check_config_drive(disk, drive["start"], drive["sectors"])

    # The image's bytes: boot code, its own partition entry, and everything from its first
    # usable sector to its old backup header (which the agent zeroes) are unchanged.
    data = image.data
    assert head[:446] == data[:446]
    assert head[2 * SECTOR : 2 * SECTOR + esize] == data[2 * SECTOR : 2 * SECTOR + esize]
    assert head[first_usable * SECTOR : -SECTOR] == data[first_usable * SECTOR : -SECTOR]
    assert head[-SECTOR:] == bytes(SECTOR)

    listed = sfdisk(disk)
    if listed is not None:
        assert listed["label"] == "gpt"
        names = [p.get("name") for p in listed["partitions"]]  # type: ignore[attr-defined]
        assert names == ["root", "config-2"]
