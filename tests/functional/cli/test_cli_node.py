"""``ingot node``/``port``/``watch`` against a live server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import Result

from ingot import errors
from ingot.client import IngotClient, ProvisionFailed

Invoke = Callable[..., Result]
INGOT = Path(sys.executable).parent / "ingot"
FAIL_STEP = '[{"interface": "deploy", "step": "fail", "args": {"message": "disk 3 on fire"}}]'


@pytest.fixture
def node(api: IngotClient, request: pytest.FixtureRequest) -> str:
    """A fresh fake-hardware node in enroll, named after the test."""
    name = request.node.name.replace("_", "-")[:60]
    api.create_node({"name": name, "driver": "fake-hardware", "properties": {"cpus": 2}})
    return name


def test_list_has_the_baremetal_columns_and_parsable_json(cli: Invoke, node: str) -> None:
    table = cli("node", "list").output
    for heading in ("UUID", "Name", "Instance UUID", "Power State", "Provisioning State",
                    "Maintenance", "Last Error"):  # fmt: skip
        assert heading in table
    rows = json.loads(cli("node", "list", "-f", "json").output)
    mine = next(r for r in rows if r["Name"] == node)
    assert mine["Provisioning State"] == "enroll" and mine["Maintenance"] is False
    assert yaml.safe_load(cli("node", "list", "-f", "yaml").output) == rows
    assert "UUID,Name" in cli("node", "list", "-f", "csv").output


def test_list_filters(cli: Invoke, api: IngotClient, node: str) -> None:
    api.set_maintenance(node, True, reason="fan")
    names = [
        r["Name"] for r in json.loads(cli("node", "list", "--maintenance", "-f", "json").output)
    ]
    assert names == [node]
    enrolled = json.loads(cli("node", "list", "--state", "enroll", "-f", "json").output)
    assert node in [r["Name"] for r in enrolled]
    assert json.loads(cli("node", "list", "--driver", "ipmi", "-f", "json").output) == []


def test_show_set_unset(cli: Invoke, api: IngotClient, node: str) -> None:
    cli("node", "set", node, "--property", "memory_mb=4096", "--driver-info",
        "fake_password=hunter2", "--capability", "boot_mode:uefi", "--resource-class", "gold",
        "--trait", "CUSTOM_GPU")  # fmt: skip
    cli("node", "set", node, "--capability", "profile:compute")
    shown = json.loads(cli("node", "show", node, "-f", "json").output)
    assert shown["properties"] == {
        "cpus": 2,
        "memory_mb": 4096,
        "capabilities": "boot_mode:uefi,profile:compute",
    }
    assert shown["resource_class"] == "gold"
    assert shown["driver_info"]["fake_password"] == "******"
    assert "hunter2" not in cli("node", "show", node).output
    assert api.get_traits(node) == ["CUSTOM_GPU"]
    cli("node", "unset", node, "--property", "memory_mb", "--capability", "boot_mode",
        "--resource-class", "--trait", "CUSTOM_GPU")  # fmt: skip
    after = api.get_node(node)
    assert after["properties"] == {"cpus": 2, "capabilities": "profile:compute"}
    assert after["resource_class"] is None and after["traits"] == []
    missing = cli("node", "unset", node, "--property", "nope", expect=None)
    assert isinstance(missing.exception, errors.InvalidInput)
    assert "has no properties key 'nope'" in missing.exception.message


def test_provision_verbs_with_wait(cli: Invoke, api: IngotClient, node: str) -> None:
    result = cli("node", "manage", node, "--wait", "30")
    assert f"✓ {node}: manageable" in result.output
    cli("node", "provide", node, "--wait")
    assert api.get_node(node)["provision_state"] == "available"


def test_failed_clean_quotes_last_error_and_exits_1(
    cli: Invoke, api: IngotClient, node: str
) -> None:
    cli("node", "manage", node, "--wait", "30")
    result = cli("node", "clean", node, "--clean-steps", FAIL_STEP, "--wait", "30", expect=1)
    assert "clean failed" in result.output and "disk 3 on fire" in result.output
    assert api.get_node(node)["provision_state"] == "clean failed"
    history = json.loads(cli("node", "history", node, "-f", "json").output)
    assert any(e["Severity"] == "ERROR" and "disk 3 on fire" in e["Event"] for e in history)


def test_client_wait_fails_fast_with_last_error(api: IngotClient, node: str) -> None:
    api.set_provision_state(node, "manage")
    api.wait_for_provision_state([node], "manageable", timeout=30, interval=0.2)
    api.set_provision_state(node, "clean", clean_steps=json.loads(FAIL_STEP))
    with pytest.raises(ProvisionFailed) as caught:
        api.wait_for_provision_state([node], "manageable", timeout=30, interval=0.2)
    assert "disk 3 on fire" in caught.value.failures[node]


def test_bad_verb_is_reported_per_node(cli: Invoke, node: str) -> None:
    result = cli("node", "provide", node, "no-such-node", expect=1)
    assert "no-such-node" in result.output and "could not be found" in result.output


def power_state_after(api: IngotClient, node: str, timeout: float = 10) -> str:
    """The power state once the change settled: the request is a 202, the change runs after."""
    deadline = time.monotonic() + timeout
    while True:
        shown = api.get_node(node)
        if shown["target_power_state"] is None and shown["reservation"] is None:
            return str(shown["power_state"])
        if time.monotonic() > deadline:
            raise AssertionError(f"power change did not settle: {shown}")
        time.sleep(0.05)


def test_power_boot_device_maintenance(cli: Invoke, api: IngotClient, node: str) -> None:
    cli("node", "manage", node, "--wait", "30")
    cli("node", "power", "on", node)
    assert power_state_after(api, node) == "power on"
    cli("node", "power", "off", node)
    assert power_state_after(api, node) == "power off"
    cli("node", "boot-device", "set", node, "pxe", "--persistent")
    shown = json.loads(cli("node", "boot-device", "show", node, "-f", "json").output)
    assert shown == [{"Boot Device": "pxe", "Persistent": True}]
    cli("node", "maintenance", "set", node, "--reason", "replacing DIMM")
    record = api.get_node(node)
    assert record["maintenance"] is True and record["maintenance_reason"] == "replacing DIMM"
    cli("node", "maintenance", "unset", node)
    assert api.get_node(node)["maintenance"] is False


def test_validate_table(cli: Invoke, node: str) -> None:
    rows = json.loads(cli("node", "validate", node, "-f", "json").output)
    interfaces = {r["Interface"]: r["Result"] for r in rows}
    assert interfaces["power"] is True and interfaces["deploy"] is True
    assert "Interface" in cli("node", "validate", node).output


def test_create_show_delete(cli: Invoke, api: IngotClient) -> None:
    created = json.loads(cli("node", "create", "--driver", "fake-hardware", "--name", "made-here",
                             "--property", "cpus=16", "-f", "json").output)  # fmt: skip
    assert created["properties"] == {"cpus": 16}
    cli("port", "create", "52:54:00:ee:00:01", "--node", "made-here")
    ports = json.loads(cli("port", "list", "--node", "made-here", "-f", "json").output)
    assert [p["Address"] for p in ports] == ["52:54:00:ee:00:01"]
    cli("port", "delete", "52:54:00:EE:00:01")
    assert api.list_ports(node="made-here") == []
    cli("node", "delete", "made-here")
    with pytest.raises(errors.NotFound):
        api.get_node("made-here")


def test_watch_once_shows_states(cli: Invoke, node: str) -> None:
    result = cli("watch", "--once")
    assert node in result.output and "enroll" in result.output


def test_errors_reach_the_terminal_with_exit_2(server_url: str) -> None:
    proc = subprocess.run(
        [str(INGOT), "--url", server_url, "node", "show", "ghost"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Node ghost could not be found." in proc.stderr


def test_unreachable_api_says_how_to_fix(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(INGOT), "--url", "http://127.0.0.1:9", "node", "list"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Cannot reach the Ingot API" in proc.stderr and "INGOT_URL" in proc.stderr
