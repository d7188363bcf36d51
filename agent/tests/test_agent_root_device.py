"""Root device hints, as Ironic documents them."""

from __future__ import annotations

from typing import Any

import pytest

from ingot_agent.errors import DeviceNotFoundError, InvalidCommandParamsError
from ingot_agent.hardware.base import BlockDevice
from ingot_agent.hardware.root_device import select_root_device

GiB = 1024**3
DISKS = [
    BlockDevice(
        "/dev/sda",
        500 * GiB,
        "/dev/sda",
        model="ST500",
        serial="S-A",
        wwn="0x5000a",
        rotational=True,
        by_path="/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
    ),
    BlockDevice(
        "/dev/sdb",
        100 * GiB,
        "/dev/sdb",
        model="Samsung SSD",
        serial="S-B",
        wwn="0x5000b",
        rotational=False,
    ),
    BlockDevice("/dev/sdc", 2 * GiB, "/dev/sdc", model="USB Stick", serial="S-C"),
    BlockDevice("/dev/nvme0n1", 100 * GiB, "/dev/nvme0n1", model="NVMe", serial="S-D"),
]


@pytest.mark.parametrize(
    ("hints", "name"),
    [
        (None, "/dev/nvme0n1"),  # smallest >= 4 GiB; tie on size broken by name
        ({"serial": "S-A"}, "/dev/sda"),
        ({"wwn": "0x5000b"}, "/dev/sdb"),
        ({"name": "sdb"}, "/dev/sdb"),
        ({"name": "/dev/sda"}, "/dev/sda"),
        ({"size": 500}, "/dev/sda"),
        ({"size": ">= 200"}, "/dev/sda"),
        ({"size": "<or> 2 <or> 500"}, "/dev/sdc"),
        ({"rotational": False, "size": 100}, "/dev/nvme0n1"),
        ({"rotational": "true"}, "/dev/sda"),
        ({"model": "<in> samsung"}, "/dev/sdb"),
        ({"model": "s== USB Stick"}, "/dev/sdc"),
        ({"by_path": "/dev/disk/by-path/pci-0000:00:1f.2-ata-1"}, "/dev/sda"),
    ],
)
def test_hints(hints: dict[str, Any] | None, name: str) -> None:
    assert select_root_device(DISKS, hints).name == name


def test_no_match_names_disks() -> None:
    with pytest.raises(DeviceNotFoundError, match="S-A") as err:
        select_root_device(DISKS, {"serial": "nope"})
    assert "root_device" in err.value.details


def test_unknown_hint_refused() -> None:
    with pytest.raises(InvalidCommandParamsError, match="colour"):
        select_root_device(DISKS, {"colour": "blue"})
