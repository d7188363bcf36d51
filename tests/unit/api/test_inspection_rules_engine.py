"""The rule engine: conditions case by case, and rules applied when an inventory is posted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from ingot.conductor.rules import RuleFailed, load_built_in_rules, run_rules
from ingot.db import models
from ingot.errors import ConfigError

INVENTORY = {
    "memory": {"physical_mb": 262144},
    "cpu": {"count": 32, "architecture": "x86_64"},
    "system_vendor": {"manufacturer": "Dell Inc.", "product_name": "PowerEdge R640"},
    "bmc_address": "10.0.0.5",
    "disks": [{"name": "/dev/sda", "size": 480 * 1024**3, "serial": "S1"}],
    "interfaces": [{"name": "eth0", "mac_address": "52:54:00:aa:bb:01"}],
}


def node(**kw: Any) -> Any:
    fields = dict(
        uuid="u1",
        name="n1",
        properties={},
        extra={},
        driver_info={},
        instance_info={},
        network_data={},
        resource_class="baremetal",
        description=None,
        owner=None,
        lessee=None,
        conductor_group="",
        automated_clean=None,
        retired=False,
        retired_reason=None,
        shard=None,
    )
    return SimpleNamespace(**{**fields, **kw})


def rule(conditions: list[Any], actions: list[Any] | None = None, **kw: Any) -> dict[str, Any]:
    acts = actions or [{"op": "add-trait", "args": {"name": "CUSTOM_HIT"}}]
    return {"uuid": "r", "conditions": conditions, "actions": acts, **kw}


@pytest.mark.parametrize(
    ("condition", "hit"),
    [
        ({"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 262143]}}, True),
        ({"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 262144]}}, False),
        ({"op": "!lt", "args": ["{inventory[cpu][count]}", 16]}, True),
        ({"op": "eq", "args": {"values": ["{inventory[cpu][architecture]}", "x86_64"]}}, True),
        (
            {
                "op": "contains",
                "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "(?i)dell"},
            },
            True,
        ),
        (
            {
                "op": "matches",
                "args": {"value": "{inventory[system_vendor][product_name]}", "regex": "PowerEdge"},
            },
            False,
        ),
        (
            {
                "op": "in-net",
                "args": {"address": "{inventory[bmc_address]}", "subnet": "10.0.0.0/24"},
            },
            True,
        ),
        (
            {
                "op": "one-of",
                "args": {"value": "{node.resource_class}", "values": ["baremetal", "gold"]},
            },
            True,
        ),
        ({"op": "is-empty", "args": {"value": "{node.description}"}}, True),
        ({"op": "is-true", "args": {"value": "{node.retired}"}}, False),
        (
            {
                "op": "eq",
                "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]},
                "loop": ["HPE", "PowerEdge R640"],
                "multiple": "any",
            },
            True,
        ),
        ({"op": "eq", "args": {"values": ["{inventory[nope]}", "x"]}}, False),
    ],
)
def test_conditions(condition: dict[str, Any], hit: bool) -> None:
    run, applied = run_rules([rule([condition])], node(), [], INVENTORY, {})
    assert (run.traits == ["CUSTOM_HIT"]) is hit
    assert bool(applied) is hit


def test_actions_change_a_copy_of_the_node() -> None:
    actions = [
        {"op": "set-capability", "args": {"name": "profile", "value": "compute"}},
        {"op": "set-attribute", "args": {"path": "/resource_class", "value": "big"}},
        {
            "op": "set-attribute",
            "args": {
                "path": "properties.root_device",
                "value": {"serial": "{inventory[disks][0][serial]}"},
            },
        },
        {
            "op": "set-attribute",
            "args": {"path": "/driver_info/{item[k]}", "value": "{item[v]}"},
            "loop": [{"k": "ipmi_address", "v": "{inventory[bmc_address]}"}],
        },
        {
            "op": "extend-attribute",
            "args": {"path": "/extra/tags", "value": "r640", "unique": True},
        },
        {"op": "set-plugin-data", "args": {"path": "matched", "value": True}},
    ]
    original = node(properties={"capabilities": "boot_mode:uefi"})
    run, _ = run_rules([rule([], actions)], original, [], INVENTORY, {})
    changes = run.changes()
    assert changes["properties"]["capabilities"] == "boot_mode:uefi,profile:compute"
    assert changes["properties"]["root_device"] == {"serial": "S1"}
    assert changes["resource_class"] == "big"
    assert changes["driver_info"] == {"ipmi_address": "10.0.0.5"}
    assert changes["extra"] == {"tags": ["r640"]}
    assert run.plugin_data == {"matched": True} and run.plugin_changed
    assert original.properties == {"capabilities": "boot_mode:uefi"}


def test_priority_orders_rules_and_fail_stops() -> None:
    low = rule(
        [], [{"op": "set-attribute", "args": {"path": "/description", "value": "low"}}], priority=1
    )
    high = rule(
        [], [{"op": "set-attribute", "args": {"path": "/description", "value": "high"}}], priority=9
    )
    run, _ = run_rules([high, low], node(), [], INVENTORY, {})
    assert run.changes()["description"] == "low"  # the lower priority runs last
    with pytest.raises(RuleFailed, match="too small"):
        run_rules([rule([], [{"op": "fail", "args": {"msg": "too small"}}])], node(), [], {}, {})
    with pytest.raises(RuleFailed, match="can not set /driver"):
        run_rules(
            [rule([], [{"op": "set-attribute", "args": {"path": "/driver", "value": "x"}}])],
            node(),
            [],
            {},
            {},
        )


def test_secrets_are_masked_unless_the_rule_is_sensitive() -> None:
    inventory = {"bmc_password": "hunter2"}
    copy_pw = [
        {"op": "set-attribute", "args": {"path": "/extra/pw", "value": "{inventory[bmc_password]}"}}
    ]
    masked, _ = run_rules([rule([], copy_pw)], node(), [], inventory, {}, "sensitive")
    assert masked.changes()["extra"] == {"pw": "***"}
    shown, _ = run_rules(
        [rule([], copy_pw, sensitive=True)], node(), [], inventory, {}, "sensitive"
    )
    assert shown.changes()["extra"] == {"pw": "hunter2"}


def test_built_in_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "- description: tag\n  actions:\n    - op: add-trait\n      args: {name: CUSTOM_X}\n"
    )
    (loaded,) = load_built_in_rules(path)
    assert loaded["built_in"] and loaded["uuid"].startswith("00000000-")
    path.write_text("- actions: [{op: nope, args: {}}]\n")
    with pytest.raises(ConfigError, match="rule 0"):
        load_built_in_rules(path)
    with pytest.raises(ConfigError, match="not found"):
        load_built_in_rules(tmp_path / "missing.yaml")


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    """Settings with a built-in rules file, so the posted inventory meets both kinds of rule."""
    from ingot.settings import load_settings

    rules_file = tmp_path / "built_in.yaml"
    rules_file.write_text(
        "- description: root disk by serial\n"
        "  actions:\n"
        "    - op: set-attribute\n"
        "      args:\n"
        "        path: /properties/root_device\n"
        "        value: {serial: '{inventory[disks][0][serial]}'}\n"
    )
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
        inspection_rules={"built_in_rules": str(rules_file)},
    )


def test_rules_apply_when_the_agent_posts_its_inventory(client: Any, app_services: Any) -> None:
    services = app_services[0]
    rule_body = {
        "description": "big memory is compute",
        "conditions": [
            {"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 262143]}}
        ],
        "actions": [
            {"op": "set-capability", "args": {"name": "profile", "value": "compute"}},
            {"op": "add-trait", "args": {"name": "CUSTOM_BIGMEM"}},
            {"op": "set-attribute", "args": {"path": "/resource_class", "value": "compute"}},
        ],
    }
    assert client.post("/v1/inspection_rules", json=rule_body).status_code == 201
    node_ = client.post("/v1/nodes", json={"name": "n1", "driver": "fake-hardware"}).json()
    client.post("/v1/ports", json={"node_uuid": node_["uuid"], "address": "52:54:00:aa:bb:01"})
    with services.db.write() as session:
        session.execute(update(models.Node).values(provision_state="inspect wait"))
    response = client.post("/v1/continue_inspection", json={"inventory": INVENTORY})
    assert response.status_code == 200, response.text
    shown = client.get("/v1/nodes/n1").json()
    assert shown["properties"]["capabilities"] == "profile:compute"
    assert shown["properties"]["root_device"] == {"serial": "S1"}
    assert shown["properties"]["memory_mb"] == 262144
    assert shown["resource_class"] == "compute"
    assert shown["traits"] == ["CUSTOM_BIGMEM"]
    events = client.get("/v1/nodes/n1/history").json()["history"]
    assert any("Inspection rules applied" in e["event"] for e in events)
