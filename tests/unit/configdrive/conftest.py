"""Fixtures shared by the config drive tests: the seed 002 server and its ports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).parent / "data"

# seed 002's baremetal_mac is 00:92:fa:ab:0e:ba (eth0); the other two NICs follow it.
SEED002_PORTS = {
    "eth0": "00:92:fa:ab:0e:ba",
    "eth1": "00:92:fa:ab:0e:bb",
    "eth2": "00:92:fa:ab:0e:bc",
}


@pytest.fixture
def seed002_ports() -> dict[str, str]:
    return dict(SEED002_PORTS)


@pytest.fixture
def seed002_network() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((DATA / "seed002_network.yml").read_text())
    return entries


@pytest.fixture
def seed002_expected() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "seed002_network_data.json").read_text())
    return doc
