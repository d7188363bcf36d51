"""meta_data.json defaults (Ironic's and Ingot's own) and their checks."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.configdrive.metadata import apply_ironic_defaults, build_meta_data
from ingot.errors import InvalidInput

UUID = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv0 admin@lab"


@pytest.mark.parametrize(
    ("given", "name", "expected"),
    [
        ({}, "node-1", {"uuid": UUID, "name": "node-1"}),
        ({}, None, {"uuid": UUID}),
        ({"uuid": "mine", "name": "n", "x": 1}, "node-1", {"uuid": "mine", "name": "n", "x": 1}),
    ],
)
def test_ironic_defaults_only_fill_uuid_and_name(
    given: dict[str, Any], name: str | None, expected: dict[str, Any]
) -> None:
    assert apply_ironic_defaults(given, node_uuid=UUID, node_name=name) == expected
    assert "uuid" not in given or given["uuid"] == "mine"  # input untouched


def test_full_meta_data() -> None:
    doc = build_meta_data(
        node_uuid=UUID,
        node_name="compute-0",
        public_keys=[KEY],
        availability_zone="rack1",
        project_id="p1",
        extra={"meta": {"role": "compute"}},
    )
    assert doc == {
        "uuid": UUID,
        "name": "compute-0",
        "hostname": "compute-0",
        "public_keys": {"0": KEY},
        "launch_index": 0,
        "availability_zone": "rack1",
        "project_id": "p1",
        "files": [],
        "meta": {"role": "compute"},
    }


def test_hostname_falls_back_to_uuid_and_keys_may_be_named() -> None:
    doc = build_meta_data(node_uuid=UUID, public_keys={"admin": KEY + "\n"})
    assert doc["hostname"] == UUID
    assert doc["public_keys"] == {"admin": KEY}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"public_keys": ["not a key"]}, r"public_keys\[0\] is not an SSH public key"),
        ({"hostname": "bad_name!"}, "not a valid host name"),
        ({"extra": {"uuid": "other"}}, "differs from node"),
    ],
)
def test_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_meta_data(node_uuid=UUID, **kwargs)
