"""``ingot import`` against a live server: notes, dry run, idempotency, lifecycle, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from ingot.client import IngotClient

Invoke = Callable[..., Result]
DATA = Path(__file__).parent / "data"

SEED000 = DATA / "seed000_instackenv.json"
RACK = DATA / "fake_rack.json"


def test_seed000_dry_run_shows_the_mapping_and_changes_nothing(
    cli: Invoke, api: IngotClient
) -> None:
    result = cli("import", str(SEED000), "--dry-run")
    assert "'fake_pxe' is a retired classic driver" in result.output
    assert "manual-management" in result.output
    assert result.output.count("create") >= 3
    assert "aa:aa:aa:aa:aa:aa" in result.output
    assert "Dry run" in result.output
    assert api.find_port("aa:aa:aa:aa:aa:aa") is None
    assert not [n for n in api.list_nodes(driver="manual-management")]


def test_seed000_imports_three_manual_nodes_with_their_ports(cli: Invoke, api: IngotClient) -> None:
    result = cli("import", str(SEED000))
    assert "3 created" in result.output
    for mac in ("aa:aa:aa:aa:aa:aa", "bb:bb:bb:bb:bb:bb", "cc:cc:cc:cc:cc:cc"):
        port = api.find_port(mac)
        assert port is not None and port["pxe_enabled"] is True
        node = api.get_node(port["node_uuid"])
        assert node["driver"] == "manual-management"
        assert node["boot_interface"] == "pxe"
        assert node["properties"]["cpu_arch"] == "x86_64"
    again = cli("import", str(SEED000))
    assert "0 created, 0 updated, 3 unchanged, 0 failed" in again.output
    assert len(api.list_nodes(driver="manual-management")) == 3


def test_import_manage_provide_reaches_available(cli: Invoke, api: IngotClient) -> None:
    result = cli("import", str(RACK), "--manage", "--provide")
    assert "3 created" in result.output
    assert "3 node(s) done" in result.output
    for name, cpus in (("rack-0", 4), ("rack-1", 4), ("rack-2", 8)):
        node = api.get_node(name)
        assert node["provision_state"] == "available", node["last_error"]
        assert node["driver"] == "fake-hardware"
        assert node["properties"]["cpus"] == cpus
    assert api.get_node("rack-2")["properties"]["capabilities"] == "profile:compute"
    # Re-import of available nodes: nothing to change and nothing to drive.
    again = cli("import", str(RACK), "--manage", "--provide")
    assert "3 unchanged" in again.output
    assert "already available" in again.output


def test_reimport_updates_changed_fields_in_place(
    cli: Invoke, api: IngotClient, tmp_path: Path
) -> None:
    data = json.loads(RACK.read_text())
    for node in data["nodes"]:
        node["name"] = node["name"].replace("rack", "upd")
        node["mac"] = [node["mac"][0].replace(":aa:", ":bb:")]
    first = tmp_path / "first.json"
    first.write_text(json.dumps(data))
    cli("import", str(first))
    before = api.get_node("upd-1")
    data["nodes"][1]["memory"] = "12288"
    data["nodes"][1]["capabilities"] = "profile:storage"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    plan = cli("import", str(changed), "--dry-run")
    assert "properties.memory_mb=12288" in plan.output
    result = cli("import", str(changed))
    assert "0 created, 1 updated, 2 unchanged" in result.output
    after = api.get_node("upd-1")
    assert after["uuid"] == before["uuid"]
    assert after["properties"]["memory_mb"] == 12288
    assert after["properties"]["capabilities"] == "profile:storage"
    assert len(api.list_ports(node="upd-1")) == 1


def test_one_failing_node_is_reported_with_its_source_and_others_go_on(
    cli: Invoke, api: IngotClient, tmp_path: Path
) -> None:
    api.create_node({"name": "squatter", "driver": "fake-hardware"})
    squatter = api.get_node("squatter")["uuid"]
    api.create_port({"address": "52:54:00:cc:00:01", "node_uuid": squatter})
    api.create_node({"name": "clash-1", "driver": "fake-hardware"})
    inventory = {
        "nodes": [
            {"name": "good-0", "pm_type": "fake", "mac": ["52:54:00:cc:00:00"]},
            # Its name is one node's, its MAC another's: which server is it?
            {"name": "clash-1", "pm_type": "fake", "mac": ["52:54:00:cc:00:01"]},
            {"name": "good-2", "pm_type": "fake", "mac": ["52:54:00:cc:00:02"]},
        ]
    }
    path = tmp_path / "clash.json"
    path.write_text(json.dumps(inventory))
    result = cli("import", str(path), expect=1)
    assert "clash.json:nodes[1]" in result.output
    assert "matches several existing nodes" in result.output
    assert "2 created" in result.output and "1 failed" in result.output
    assert api.get_node("good-2")["driver"] == "fake-hardware"


def test_api_error_on_create_names_the_node_source(cli: Invoke, tmp_path: Path) -> None:
    bad = {
        "nodes": [
            {"name": "netbad-0", "driver": "fake-hardware", "network_interface": "no-such-net"},
            {"name": "netok-1", "driver": "fake-hardware"},
        ]
    }
    path = tmp_path / "ironic.yaml"
    path.write_text(json.dumps(bad))
    result = cli("import", str(path), "--format", "ironic", expect=1)
    assert "netbad-0" in result.output and "no-such-net" in result.output
    assert "1 created" in result.output


def test_secrets_are_never_printed(cli: Invoke, tmp_path: Path) -> None:
    inventory = {
        "nodes": [
            {"name": "secret-0", "pm_type": "ipmi", "pm_addr": "127.0.0.1", "pm_port": "16999",
             "pm_user": "admin", "pm_password": "s3cr3t-pa55", "mac": ["52:54:00:dd:00:00"]}
        ]
    }  # fmt: skip
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(inventory))
    outputs = [cli("import", str(path), "--dry-run").output, cli("import", str(path)).output]
    outputs.append(cli("node", "show", "secret-0", "-f", "json").output)
    outputs.append(cli("import", str(path), "--dry-run", "--update-secrets").output)
    assert all("s3cr3t-pa55" not in out for out in outputs)
    assert "driver_info.ipmi_password=******" in outputs[-1]
    assert json.loads(outputs[2])["driver_info"]["ipmi_password"] == "******"


def test_invalid_inventory_creates_nothing(cli: Invoke, api: IngotClient, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    nodes = [
        {"name": "bad-0", "pm_type": "fake", "mac": ["zz"]},
        {"name": "bad-1", "pm_type": "warp_drive"},
    ]
    path.write_text(json.dumps({"nodes": nodes}))
    result = cli("import", str(path), expect=1)
    message = str(result.exception)
    assert "nodes[0]" in message or "node #0" in message
    assert "warp_drive" in message
    assert all(n["name"] not in ("bad-0", "bad-1") for n in api.list_nodes(fields=["name"]))


def test_seed004_pxe_ipmitool_maps_to_ipmi_with_its_sizes(cli: Invoke, api: IngotClient) -> None:
    path = DATA / "seed004_new_node.json"
    plan = cli("import", str(path), "--dry-run")
    assert "'pxe_ipmitool' is a retired classic driver" in plan.output
    assert "unexpanded variable" in plan.output
    cli("import", str(path))
    node = api.get_node("blade-ocp-node-1")
    assert node["driver"] == "ipmi" and node["boot_interface"] == "pxe"
    assert node["driver_info"]["ipmi_address"] == "127.0.0.1"
    assert node["driver_info"]["ipmi_password"] == "******"
    assert {k: node["properties"][k] for k in ("cpus", "memory_mb", "local_gb")} == {
        "cpus": 2,
        "memory_mb": 4096,
        "local_gb": 40,
    }
    assert [p["address"] for p in api.list_ports(node="blade-ocp-node-1")] == ["18:db:f2:8c:d5:fa"]


def test_ironic_file_creates_chassis_portgroups_and_ports(cli: Invoke, api: IngotClient) -> None:
    path = DATA / "rack_bonded.yaml"
    assert "add port group bond0" in cli("import", str(path), "--dry-run").output
    cli("import", str(path))
    node = api.get_node("bonded-0")
    chassis = [c for c in api.list_chassis() if c["description"] == "functional-test rack"]
    assert len(chassis) == 1 and node["chassis_uuid"] == chassis[0]["uuid"]
    groups = api.list_portgroups(node="bonded-0")
    assert [g["name"] for g in groups] == ["bond0"]
    ports = {p["address"]: p for p in api.list_ports(node="bonded-0")}
    assert ports["52:54:00:f0:00:10"]["portgroup_uuid"] == groups[0]["uuid"]
    assert ports["52:54:00:f0:00:11"]["portgroup_uuid"] == groups[0]["uuid"]
    assert ports["52:54:00:f0:00:12"]["portgroup_uuid"] is None
    again = cli("import", str(path))
    assert "1 unchanged" in again.output
    assert len([c for c in api.list_chassis() if c["description"] == "functional-test rack"]) == 1
