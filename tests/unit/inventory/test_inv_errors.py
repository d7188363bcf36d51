"""Every bad inventory gives precise errors (file, node, field, fix) and nothing to create."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingot.errors import InvalidInput
from ingot.inventory import InventoryInvalid, parse_inventory

GOOD = {
    "name": "n0",
    "pm_type": "ipmi",
    "pm_addr": "127.0.0.1",
    "pm_user": "admin",
    "pm_password": "hunter2-secret",
    "mac": ["52:54:00:00:00:01"],
}


def nodes(*changes: dict[str, Any]) -> str:
    """An instackenv file with one node per change dict (None removes a field)."""
    out = []
    for i, change in enumerate(changes):
        node = {**GOOD, "name": f"n{i}", "mac": [f"52:54:00:00:00:{i + 1:02x}"], **change}
        out.append({k: v for k, v in node.items() if v is not None})
    return json.dumps({"nodes": out}, indent=1)


# (case id, file name, file text, [substrings that must all appear in one problem])
BAD_FILES = [
    (
        "bad-mac",
        "env.json",
        nodes({"mac": ["52:54:00:zz:00:01"]}),
        ["env.json", "node #0 (n0)", "'mac[0]'", "not a MAC address", "six hex pairs"],
    ),
    (
        "short-mac",
        "env.json",
        nodes({"mac": ["52:54:00:00:01"]}),
        ["node #0", "'mac[0]'", "not a MAC address"],
    ),
    (
        "missing-pm_addr",
        "env.json",
        nodes({}, {"pm_addr": None}),
        ["node #1 (n1)", "'pm_addr'", "missing the BMC address", "add pm_addr"],
    ),
    (
        "missing-password",
        "env.json",
        nodes({"pm_password": None}),
        ["'pm_password'", "missing BMC credentials", "add pm_password"],
    ),
    (
        "non-integer-cpu",
        "env.json",
        nodes({"cpu": "two"}),
        ["'cpu'", "'two' is not a whole number", "CPU count"],
    ),
    (
        "non-numeric-memory",
        "env.json",
        nodes({"memory": "4GB"}),
        ["'memory'", "'4GB' is not a whole number", "memory in MiB"],
    ),
    ("negative-disk", "env.json", nodes({"disk": -1}), ["'disk'", "not a whole number"]),
    (
        "duplicate-mac",
        "env.json",
        nodes({}, {"mac": ["52:54:00:00:00:01"]}),
        ["node #1 (n1)", "'mac'", "'52:54:00:00:00:01' is already used by node #0 (n0)"],
    ),
    (
        "duplicate-mac-case",
        "env.json",
        nodes({}, {"mac": ["52-54-00-00-00-01"]}),
        ["node #1", "already used by node #0"],
    ),
    (
        "mac-twice-in-node",
        "env.json",
        nodes({"mac": ["52:54:00:00:00:07", "52:54:00:00:00:07"]}),
        ["node #0", "given twice for this node"],
    ),
    (
        "duplicate-name",
        "env.json",
        nodes({"name": "ctrl"}, {"name": "ctrl"}),
        ["node #1 (ctrl)", "'name'", "name 'ctrl' is already used by node #0 (ctrl)"],
    ),
    (
        "same-bmc",
        "env.json",
        nodes({}, {}),
        ["node #1", "BMC endpoint ipmi:127.0.0.1:623 is already used by node #0"],
    ),
    (
        "unknown-pm_type",
        "env.json",
        nodes({"pm_type": "pxe_foo"}),
        ["'pm_type'", "unknown driver 'pxe_foo'", "agent_ipmitool", "fake_pxe", "redfish"],
    ),
    ("missing-pm_type", "env.json", nodes({"pm_type": None}), ["'pm_type'", "missing the driver"]),
    ("typo-field", "env.json", nodes({"memroy": "4096"}), ["'memroy'", "did you mean 'memory'"]),
    (
        "bad-capabilities",
        "env.json",
        nodes({"capabilities": "profile"}),
        ["'capabilities'", "key:value"],
    ),
    (
        "root-device-not-mapping",
        "env.json",
        nodes({"root_device": "/dev/sda"}),
        ["'root_device'", "expected a mapping"],
    ),
    ("bad-name", "env.json", nodes({"name": "my node"}), ["'name'", "not a valid node name"]),
    (
        "ipmi-address-with-scheme",
        "env.json",
        nodes({"pm_addr": "https://127.0.0.1"}),
        ["'pm_addr'", "not a host name or IP address (it has a scheme)"],
    ),
    (
        "redfish-bad-scheme",
        "env.json",
        nodes({"pm_type": "redfish", "pm_addr": "ftp://127.0.0.1"}),
        ["'pm_addr'", "not a Redfish address"],
    ),
    (
        "redfish-port-conflict",
        "env.json",
        nodes({"pm_type": "redfish", "pm_addr": "127.0.0.1:8000", "pm_port": 9000}),
        ["'pm_port'", "disagrees"],
    ),
    (
        "not-json",
        "env.json",
        '{"nodes": [\n  {"pm_type": "ipmi",}\n]}',
        ["env.json", "not valid JSON at line 2"],
    ),
    ("not-yaml", "env.yaml", "nodes:\n  - pm_type: [ipmi\n", ["env.yaml", "not valid YAML"]),
    ("empty", "env.json", "   \n", ["env.json", "the file is empty"]),
    (
        "unknown-format",
        "env.yaml",
        "just: a\nplain: mapping\n",
        ["cannot tell which inventory format", "bifrost-csv"],
    ),
    (
        "csv-missing-mac",
        "hosts.csv",
        ",root,pw,127.0.0.1,1,1024,10,,,,h0\n",
        ["hosts.csv: line 1: node #0 (h0)", "column 0 (mac)", "missing the MAC"],
    ),
    (
        "csv-bad-memory",
        "hosts.csv",
        "52:54:00:00:00:01,root,pw,127.0.0.1,1,lots,10,,,,h0\n",
        ["column 5 (memory_mb)", "'lots' is not a whole number"],
    ),
    (
        "csv-too-many-columns",
        "hosts.csv",
        "52:54:00:00:00:01" + ",x" * 20 + "\n",
        ["line 1", "21 columns"],
    ),
    (
        "server-yaml-missing-mac",
        "srv.yml",
        "baremetal_ipmi_ip: 127.0.0.1\nbaremetal_fqdn: a.b\n",
        ["srv.yml: node #0 (a.b)", "'baremetal_mac'", "missing the MAC"],
    ),
    (
        "server-yaml-missing-creds",
        "srv.yml",
        "baremetal_ipmi_ip: 127.0.0.1\nbaremetal_mac: 52:54:00:00:00:01\nbaremetal_fqdn: a.b\n",
        ["'baremetal_ipmi_user'", "missing BMC credentials"],
    ),
    (
        "bifrost-missing-driver",
        "hosts.json",
        json.dumps({"h1": {"nics": [{"mac": "52:54:00:00:00:01"}]}}),
        ["node #0 (h1)", "'driver'", "missing the driver"],
    ),
    (
        "bifrost-missing-ipmi-address",
        "hosts.json",
        json.dumps(
            {"h1": {"driver": "ipmi", "driver_info": {"ipmi_username": "a", "ipmi_password": "b"}}}
        ),
        ["'driver_info.ipmi_address'", "missing the BMC address"],
    ),
    (
        "bifrost-bad-ram",
        "hosts.json",
        json.dumps({"h1": {"driver": "fake", "properties": {"ram": "3 GB"}}}),
        ["'properties.ram'", "not a whole number"],
    ),
    (
        "ironic-unknown-top-level",
        "create.yaml",
        "nodes: []\nchasis: []\n",
        ["create.yaml", "'chasis'", "unknown top-level key"],
    ),
    (
        "ironic-node-typo",
        "create.yaml",
        "nodes:\n  - driver: ipmi\n    drive_info: {}\n",
        ["'drive_info'", "did you mean 'driver_info'"],
    ),
    (
        "ironic-bad-port",
        "create.yaml",
        "nodes:\n  - driver: fake-hardware\n    ports: [{address: nope}]\n",
        ["'ports[0].address'", "not a MAC"],
    ),
    (
        "ironic-bad-memory",
        "create.yaml",
        "nodes:\n  - driver: fake-hardware\n    properties: {memory_mb: 1.5}\n",
        ["'properties.memory_mb'", "not a whole number"],
    ),
]


@pytest.mark.parametrize(
    ("file_name", "text", "expected"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_inventory_is_rejected_precisely(
    tmp_path: Path, file_name: str, text: str, expected: list[str]
) -> None:
    path = tmp_path / file_name
    path.write_text(text)

    with pytest.raises(InventoryInvalid) as caught:
        parse_inventory(path, name=file_name)

    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status == 400
    rendered = [str(p) for p in caught.value.problems]
    assert any(all(part in line for part in expected) for line in rendered), rendered
    assert "hunter2" not in str(caught.value)


def test_all_problems_are_reported_together() -> None:
    text = nodes({"mac": ["bad"]}, {"cpu": "x", "pm_addr": None}, {"pm_type": "nope"})
    with pytest.raises(InventoryInvalid) as caught:
        parse_inventory(text, name="env.json")

    fields = [(p.where.index, p.field) for p in caught.value.problems]
    assert fields == [(0, "mac[0]"), (1, "pm_addr"), (1, "cpu"), (2, "pm_type")]
    message = str(caught.value)
    assert message.startswith("inventory has 4 problems; nothing was imported:")
    assert message.count("\n  - env.json: node #") == 4


def test_skip_invalid_keeps_the_valid_nodes_and_lists_the_rest() -> None:
    text = nodes({}, {"pm_addr": None, "pm_port": 6231}, {"name": "n0", "pm_port": 6232})
    inventory = parse_inventory(text, skip_invalid=True)

    assert [n.name for n in inventory.nodes] == ["n0"]
    assert [(p.where.index, p.field) for p in inventory.problems] == [(1, "pm_addr"), (2, "name")]


def test_skip_invalid_still_raises_for_a_broken_file() -> None:
    with pytest.raises(InventoryInvalid, match="not valid JSON"):
        parse_inventory('{"nodes": [}\n', skip_invalid=True, name="x.json")


def test_missing_file_and_unknown_format_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InventoryInvalid, match="no such file"):
        parse_inventory(tmp_path / "absent.json")
    with pytest.raises(InventoryInvalid, match="unknown format 'xml'"):
        parse_inventory(nodes({}), fmt="xml")
