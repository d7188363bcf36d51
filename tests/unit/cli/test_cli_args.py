"""Argument handling of the CLI: --wait's optional value, set/unset patches, import plans."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ingot.cli import lifecycle, node_fields
from ingot.cli.import_plan import Existing, node_patch, plan_node
from ingot.cli.main import app, expand_wait
from ingot.errors import InvalidInput
from ingot.inventory import NodeRequest


@pytest.mark.parametrize(
    ("args", "expanded"),
    [
        (["node", "manage", "n1", "--wait"], ["node", "manage", "n1", "--wait=0"]),
        (["node", "manage", "--wait", "n1"], ["node", "manage", "--wait=0", "n1"]),
        (["node", "manage", "n1", "--wait", "60"], ["node", "manage", "n1", "--wait", "60"]),
        (["node", "list"], ["node", "list"]),
    ],
)
def test_expand_wait(args: list[str], expanded: list[str]) -> None:
    assert expand_wait(args) == expanded


def test_set_patch_merges_capabilities_and_converts_numbers() -> None:
    node = {"properties": {"capabilities": "boot_mode:uefi,profile:control"}}
    patch = node_fields.set_patch(
        node,
        properties=["cpus=8", "cpu_arch=x86_64"],
        driver_info=["ipmi_port=623"],
        capabilities=["profile:compute", "node:c-0"],
        fields={"name": "c-0", "resource_class": None},
    )
    assert patch == [
        {"op": "add", "path": "/name", "value": "c-0"},
        {"op": "add", "path": "/properties/cpus", "value": 8},
        {"op": "add", "path": "/properties/cpu_arch", "value": "x86_64"},
        {"op": "add", "path": "/driver_info/ipmi_port", "value": "623"},
        {"op": "add", "path": "/properties/capabilities",
         "value": "boot_mode:uefi,profile:compute,node:c-0"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "text"), [("--property", "cpus"), ("--property", "=8"), ("--capability", "profile")]
)
def test_bad_pairs_name_the_option(option: str, text: str) -> None:
    kwargs = {"capabilities": [text]} if option == "--capability" else {"properties": [text]}
    with pytest.raises(InvalidInput, match=option):
        node_fields.set_patch({}, **kwargs)


def test_unset_removes_the_last_capability_whole() -> None:
    node = {"properties": {"capabilities": "profile:compute", "cpus": 2}}
    patch = node_fields.unset_patch(node, properties=["cpus"], capabilities=["profile"])
    assert patch == [
        {"op": "remove", "path": "/properties/cpus"},
        {"op": "remove", "path": "/properties/capabilities"},
    ]


def test_node_patch_keeps_masked_secrets_unless_asked() -> None:
    desired = {"driver": "ipmi", "driver_info": {"ipmi_password": "pw", "ipmi_address": "10.0.0.9"}}
    current = {
        "driver": "ipmi",
        "driver_info": {"ipmi_password": "******", "ipmi_address": "10.0.0.8"},
    }
    assert node_patch(desired, current) == [
        {"op": "add", "path": "/driver_info/ipmi_address", "value": "10.0.0.9"}
    ]
    assert len(node_patch(desired, current, update_secrets=True)) == 2


def test_plan_matches_by_mac_and_conflicts_across_nodes() -> None:
    existing = Existing(
        nodes=[{"uuid": "u1", "name": "a", "driver": "fake-hardware"}, {"uuid": "u2", "name": "b"}],
        ports=[
            {"uuid": "p1", "address": "52:54:00:00:00:01", "node_uuid": "u1", "pxe_enabled": True}
        ],
        portgroups=[],
        chassis=[],
    )
    same = NodeRequest(
        {"driver": "fake-hardware"}, ports=[{"address": "52:54:00:00:00:01", "pxe_enabled": True}]
    )
    assert plan_node(same, existing).action == "unchanged"
    renamed = NodeRequest({"driver": "fake-hardware", "name": "b"},
                          ports=[{"address": "52:54:00:00:00:01"}])  # fmt: skip
    assert plan_node(renamed, existing).action == "conflict"
    new = NodeRequest(
        {"driver": "fake-hardware", "name": "c"}, ports=[{"address": "52:54:00:00:00:02"}]
    )
    plan = plan_node(new, existing)
    assert plan.action == "create" and plan.new_ports == [{"address": "52:54:00:00:00:02"}]


@pytest.mark.parametrize(
    ("state", "wanted", "steps"),
    [
        ("enroll", ["provide"], ["manage", "provide"]),
        ("enroll", ["manage", "inspect", "provide"], ["manage", "inspect", "provide"]),
        ("manageable", ["manage", "provide"], ["provide"]),
        ("available", ["manage", "provide"], []),
        ("clean failed", ["provide"], ["manage", "provide"]),
        ("active", ["provide"], []),
    ],
)
def test_lifecycle_steps(state: str, wanted: list[str], steps: list[str]) -> None:
    assert lifecycle.steps_for(state, wanted)[0] == steps


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["node", "--help"], env={"COLUMNS": "200"})
    for command in ("list", "show", "set", "unset", "manage", "provide", "power", "validate"):
        assert command in result.output


def test_node_list_unreachable_needs_no_server() -> None:
    result = CliRunner().invoke(app, ["--url", "http://127.0.0.1:9", "node", "list", "-f", "json"])
    assert result.exit_code != 0 and "Cannot reach" in str(result.exception)
