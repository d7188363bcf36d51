"""Issue 2, must show: the real ``baremetal`` CLI manages nodes and ports on ``ingot serve``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.functional.conftest import BaremetalCLI, IngotServer


def test_node_create_list_show_set_unset_delete(baremetal: BaremetalCLI) -> None:
    created = baremetal.json(
        "node", "create", "--driver", "fake-hardware", "--name", "cli-node-1",
        "--property", "cpus=8", "--property", "memory_mb=16384",
        "--driver-info", "ipmi_address=10.0.0.5", "--resource-class", "baremetal-small",
    )  # fmt: skip
    assert created["name"] == "cli-node-1"
    assert created["provision_state"] == "enroll"
    # the CLI sends "8" as JSON 8 (split_and_deserialize)
    assert created["properties"] == {"cpus": 8, "memory_mb": 16384}
    assert created["resource_class"] == "baremetal-small"
    uuid = created["uuid"]

    listed = baremetal.json("node", "list")
    mine = next(n for n in listed if n["uuid"] == uuid)
    assert (mine["name"], mine["provision_state"], mine["maintenance"]) == (
        "cli-node-1", "enroll", False,
    )  # fmt: skip
    picked = baremetal.json("node", "list", "--fields", "uuid", "name", "driver")
    assert {"uuid": uuid, "name": "cli-node-1", "driver": "fake-hardware"} in picked
    long = baremetal.json("node", "list", "--long")
    assert next(n for n in long if n["uuid"] == uuid)["resource_class"] == "baremetal-small"
    table = baremetal.run("node", "list").stdout
    assert "cli-node-1" in table and "enroll" in table

    baremetal.run(
        "node", "set", "cli-node-1", "--property", "local_gb=100",
        "--property", "capabilities=boot_mode:uefi,profile:compute",
        "--driver-info", "ipmi_username=admin", "--resource-class", "baremetal-large",
        "--extra", "rack=r1",
    )  # fmt: skip
    shown = baremetal.json("node", "show", "cli-node-1")
    assert shown["properties"] == {
        "cpus": 8, "memory_mb": 16384, "local_gb": 100,
        "capabilities": "boot_mode:uefi,profile:compute",
    }  # fmt: skip
    assert shown["driver_info"] == {"ipmi_address": "10.0.0.5", "ipmi_username": "admin"}
    assert shown["resource_class"] == "baremetal-large"
    assert shown["extra"] == {"rack": "r1"}

    baremetal.run(
        "node", "unset", uuid, "--property", "cpus", "--property", "capabilities",
        "--driver-info", "ipmi_username", "--resource-class", "--extra", "rack",
    )  # fmt: skip
    shown = baremetal.json("node", "show", uuid, "--fields", "properties", "driver_info",
                           "resource_class", "extra")  # fmt: skip
    assert shown["properties"] == {"memory_mb": 16384, "local_gb": 100}
    assert shown["driver_info"] == {"ipmi_address": "10.0.0.5"}
    assert shown["resource_class"] is None
    assert shown["extra"] == {}

    baremetal.run("node", "delete", "cli-node-1")
    assert "could not be found" in baremetal.fails("node", "show", uuid).lower()
    assert all(n["uuid"] != uuid for n in baremetal.json("node", "list"))


def test_port_create_list_show_set_unset_delete(baremetal: BaremetalCLI) -> None:
    node = baremetal.json("node", "create", "--driver", "fake-hardware", "--name", "cli-port-n")
    port = baremetal.json(
        "port", "create", "52:54:00:AA:BB:01", "--node", node["uuid"],
        "--extra", "nic=eth0", "--local-link-connection", "switch_id=00:11:22:33:44:55",
        "--local-link-connection", "port_id=Eth1/1", "--physical-network", "physnet1",
    )  # fmt: skip
    assert port["address"] == "52:54:00:aa:bb:01"
    assert port["node_uuid"] == node["uuid"]
    assert port["pxe_enabled"] is True
    assert port["local_link_connection"] == {"switch_id": "00:11:22:33:44:55", "port_id": "Eth1/1"}

    listed = baremetal.json("port", "list", "--node", "cli-port-n")
    assert [p["address"] for p in listed] == ["52:54:00:aa:bb:01"]
    assert any(p["uuid"] == port["uuid"] for p in baremetal.json("port", "list", "--long"))
    by_address = baremetal.json("port", "list", "--address", "52:54:00:aa:bb:01")
    assert [p["uuid"] for p in by_address] == [port["uuid"]]

    baremetal.run("port", "set", port["uuid"], "--extra", "vlan=100", "--pxe-disabled")
    shown = baremetal.json("port", "show", port["uuid"])
    assert shown["extra"] == {"nic": "eth0", "vlan": 100}
    assert shown["pxe_enabled"] is False
    baremetal.run("port", "unset", port["uuid"], "--extra", "nic", "--physical-network")
    shown = baremetal.json("port", "show", port["uuid"])
    assert shown["extra"] == {"vlan": 100}
    assert shown["physical_network"] is None

    err = baremetal.fails("port", "create", "52:54:00:aa:bb:01", "--node", node["uuid"])
    assert "52:54:00:aa:bb:01" in err and "already exists" in err
    err = baremetal.fails("port", "create", "not-a-mac", "--node", node["uuid"])
    assert "not-a-mac" in err

    baremetal.run("port", "delete", port["uuid"])
    assert baremetal.json("port", "list", "--node", node["uuid"]) == []
    baremetal.run("node", "delete", node["uuid"])


def test_create_from_yaml_with_nested_ports(
    baremetal: BaremetalCLI, server: IngotServer, tmp_path: Path
) -> None:
    doc = {
        "nodes": [
            {
                "name": "yaml-node-1", "driver": "fake-hardware",
                "driver_info": {"ipmi_address": "10.0.0.11", "ipmi_password": "s3cret"},
                "properties": {"cpus": 4, "memory_mb": 8192, "capabilities": "boot_mode:uefi"},
                "ports": [{"address": "52:54:00:00:11:01"}, {"address": "52:54:00:00:11:02"}],
            },
            {"name": "yaml-node-2", "driver": "fake-hardware",
             "ports": [{"address": "52:54:00:00:12:01", "pxe_enabled": False}]},
        ]
    }  # fmt: skip
    path = tmp_path / "nodes.yaml"
    path.write_text(yaml.safe_dump(doc))
    baremetal.run("create", str(path))

    first = baremetal.json("node", "show", "yaml-node-1")
    assert first["properties"]["cpus"] == 4
    assert first["driver_info"] == {"ipmi_address": "10.0.0.11", "ipmi_password": "******"}
    ports = baremetal.json("port", "list", "--node", "yaml-node-1")
    assert sorted(p["address"] for p in ports) == ["52:54:00:00:11:01", "52:54:00:00:11:02"]
    second = baremetal.json("port", "list", "--node", "yaml-node-2", "--long")
    assert [(p["address"], p["pxe_enabled"]) for p in second] == [("52:54:00:00:12:01", False)]
    # the same file as JSON works too, and a second run is refused by name, not a 500
    again = tmp_path / "nodes.json"
    again.write_text(json.dumps(doc))
    err = baremetal.fails("create", str(again))
    assert "yaml-node-1" in err and "already exists" in err
    for name in ("yaml-node-1", "yaml-node-2"):
        baremetal.run("node", "delete", name)
