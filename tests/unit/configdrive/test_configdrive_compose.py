"""The operator-side builder: meta_data, network list and Ignition merge in one image."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingot.configdrive.compose import compose_configdrive
from ingot.configdrive.iso import read_iso
from ingot.configdrive.userdata import UserDataKind
from ingot.errors import InvalidInput

UUID = "5f0a8a51-3f60-4f07-9c57-8f1f2c5b1a11"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv0 ops@lab"


def latest(image: bytes | None) -> dict[str, bytes]:
    assert image is not None
    return {k.rsplit("/", 1)[-1]: v for k, v in read_iso(image).items() if "/latest/" in k}


def test_cloud_config_with_seed002_network(
    seed002_network: list[dict[str, Any]],
    seed002_ports: dict[str, str],
    seed002_expected: dict[str, Any],
) -> None:
    drive = compose_configdrive(
        node_uuid=UUID,
        node_name="test-server-01",
        hostname="test-server-01.example.com",
        public_keys=[KEY],
        user_data=b"#cloud-config\nruncmd: [true]\n",
        network=seed002_network,
        port_macs=seed002_ports,
    )
    files = latest(drive.image)
    meta = json.loads(files["meta_data.json"])
    assert (meta["uuid"], meta["hostname"], meta["public_keys"]) == (
        UUID,
        "test-server-01.example.com",
        {"0": KEY},
    )
    assert json.loads(files["network_data.json"]) == seed002_expected
    assert files["user_data"] == b"#cloud-config\nruncmd: [true]\n"
    assert drive.user_data_kind is UserDataKind.CLOUD_CONFIG


def test_ignition_gets_keys_and_hostname_merged() -> None:
    drive = compose_configdrive(
        node_uuid=UUID,
        hostname="fcos-0",
        public_keys=[KEY],
        user_data=b'{"ignition": {"version": "3.4.0"}}',
    )
    ign = json.loads(latest(drive.image)["user_data"])
    assert ign["passwd"]["users"] == [{"name": "core", "sshAuthorizedKeys": [KEY]}]
    assert ign["storage"]["files"][0]["path"] == "/etc/hostname"


def test_bad_network_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"network\[0\]\.device: interface 'eth0'"):
        compose_configdrive(node_uuid=UUID, network=[{"device": "eth0"}], port_macs={})
