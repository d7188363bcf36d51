"""Ignition user data: seed 004's config, detection, version checks, key/hostname merge."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ingot.configdrive.ignition import looks_like_ignition, merge_ignition, parse_ignition
from ingot.errors import InvalidInput

SEED004 = (Path(__file__).parent / "data" / "seed004_config.ign").read_text()
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv0 ops@lab"


def seed004_fixed() -> str:
    return re.sub(r",(\s*[}\]])", r"\1", SEED004)


def test_seed004_as_pasted_is_refused_with_the_trailing_comma_pointed_out() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_ignition(SEED004)
    message = str(err.value)
    assert "looks like an Ignition config but is not valid JSON" in message
    assert "line 14" in message
    assert "trailing comma" in message


def test_seed004_without_trailing_commas_is_ignition_2() -> None:
    doc = parse_ignition(seed004_fixed().encode())
    assert doc is not None
    assert doc["ignition"]["version"] == "2.2.0"


@pytest.mark.parametrize(
    "data",
    [b"#cloud-config\n{}", b'{"hello": "world"}', b"[1, 2]", b"", b'{"ignition": "x"}'],
)
def test_not_ignition(data: bytes) -> None:
    assert parse_ignition(data) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"ignition": {}}', "ignition.version is None"),
        ('{"ignition": {"version": "4.0.0"}}', "not a spec Ingot knows"),
        ('{"ignition": {"version": "3"}}', "needs a spec version string"),
        ('{"ignitionVersion": 1, "ignition": 1}', "Ignition 1 config"),
        ("{'ignition': {}}", "double quotes"),
    ],
)
def test_bad_ignition(text: str, message: str) -> None:
    assert looks_like_ignition(text)
    with pytest.raises(InvalidInput, match=message):
        parse_ignition(text)


def test_merge_into_spec2_adds_key_once_and_hostname_on_root_filesystem() -> None:
    config: dict[str, Any] = json.loads(seed004_fixed())
    before = json.dumps(config, sort_keys=True)
    seed_key = config["passwd"]["users"][0]["sshAuthorizedKeys"][0]
    merged = merge_ignition(config, ssh_keys=[KEY, seed_key], hostname="ocp-node-1")
    assert json.dumps(config, sort_keys=True) == before  # input untouched
    assert merged["passwd"]["users"] == [{"name": "core", "sshAuthorizedKeys": [seed_key, KEY]}]
    assert merged["storage"]["files"] == [
        {
            "filesystem": "root",
            "path": "/etc/hostname",
            "mode": 420,
            "contents": {"source": "data:,ocp-node-1%0A"},
        }
    ]


def test_merge_into_spec3_creates_the_user_and_overwrites_hostname() -> None:
    merged = merge_ignition({"ignition": {"version": "3.4.0"}}, ssh_keys=[KEY], hostname="fcos-0")
    assert merged["passwd"] == {"users": [{"name": "core", "sshAuthorizedKeys": [KEY]}]}
    (hostname,) = merged["storage"]["files"]
    assert hostname["overwrite"] is True and "filesystem" not in hostname


def test_merge_keeps_a_hostname_file_the_config_already_writes() -> None:
    own = {"path": "/etc/hostname", "contents": {"source": "data:,mine"}}
    config = {"ignition": {"version": "3.0.0"}, "storage": {"files": [own]}}
    assert merge_ignition(config, hostname="other")["storage"]["files"] == [own]
