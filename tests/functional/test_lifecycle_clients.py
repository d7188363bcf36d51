"""Issue 3, must show: the fake-hardware lifecycle and node operations through real clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import (
    BaremetalCLI,
    IngotServer,
    running_server,
)

SECRET = "Pa55-never-logged-7f3a"


def _history(server: IngotServer, node: str) -> list[str]:
    with server.http() as http:
        return [e["event"] for e in http.get(f"/v1/nodes/{node}/history").json()["history"]]


def _lifecycle(baremetal: BaremetalCLI, server: IngotServer, *nodes: str) -> None:
    """manage, provide, deploy, undeploy with --wait, all nodes in one command per verb.

    (The client polls deploy every 10 s, so one command for all nodes keeps this quick.)
    """
    expected = [
        ("manage", "manageable"), ("provide", "available"),
        ("deploy", "active"), ("undeploy", "available"),
    ]  # fmt: skip
    for verb, state in expected:
        baremetal.run("node", verb, *nodes, "--wait", "60")
        for node in nodes:
            with server.http() as http:  # checked over HTTP: each CLI run costs ~1 s
                shown = http.get(f"/v1/nodes/{node}").json()
            assert (shown["provision_state"], shown["target_provision_state"]) == (state, None)
            assert shown["last_error"] is None and shown["reservation"] is None


def _cleanings(server: IngotServer, node: str) -> int:
    return sum("Cleaning completed" in e for e in _history(server, node))


def test_lifecycle_with_cleaning_on_and_off(baremetal: BaremetalCLI, server: IngotServer) -> None:
    baremetal.run("node", "create", "--driver", "fake-hardware", "--name", "life-1")
    baremetal.run("node", "create", "--driver", "fake-hardware", "--name", "life-2")
    baremetal.run("node", "set", "life-2", "--no-automated-clean")
    _lifecycle(baremetal, server, "life-1", "life-2")
    # cleaning ran twice on the default node (on provide and after undeploy), never on life-2
    assert _cleanings(server, "life-1") == 2
    assert _cleanings(server, "life-2") == 0
    assert any("Deployment completed" in e for e in _history(server, "life-1"))


@pytest.fixture(scope="module")
def no_clean_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    with running_server(
        tmp_path_factory.mktemp("noclean"), env={"INGOT_CONDUCTOR__AUTOMATED_CLEAN": "false"}
    ) as srv:
        yield srv


def test_lifecycle_with_cleaning_off_in_config(no_clean_server: IngotServer) -> None:
    cli = BaremetalCLI(no_clean_server.url)
    cli.run("node", "create", "--driver", "fake-hardware", "--name", "life-3")
    cli.run("node", "create", "--driver", "fake-hardware", "--name", "life-4")
    cli.run("node", "set", "life-4", "--automated-clean")  # the node's setting wins
    _lifecycle(cli, no_clean_server, "life-3", "life-4")
    assert _cleanings(no_clean_server, "life-3") == 0
    assert _cleanings(no_clean_server, "life-4") == 2


def test_openstacksdk_nodes_ports_and_wait(conn: Any) -> None:
    node = conn.baremetal.create_node(
        driver="fake-hardware", name="sdk-1", properties={"cpus": 2}, resource_class="rc1"
    )
    assert node.provision_state == "enroll"
    assert conn.baremetal.get_node("sdk-1").id == node.id
    assert conn.baremetal.find_node("sdk-1").id == node.id
    assert conn.baremetal.find_node("no-such-node") is None
    assert any(n.id == node.id for n in conn.baremetal.nodes())
    detailed = [n for n in conn.baremetal.nodes(details=True) if n.id == node.id]
    assert detailed[0].properties == {"cpus": 2} and detailed[0].resource_class == "rc1"
    assert [n.id for n in conn.baremetal.nodes(resource_class="rc1")] == [node.id]

    updated = conn.baremetal.update_node(node, extra={"owner": "ops"}, description="sdk made")
    assert updated.extra == {"owner": "ops"} and updated.description == "sdk made"
    patched = conn.baremetal.patch_node(
        node, [{"op": "add", "path": "/properties/memory_mb", "value": 4096}]
    )
    assert patched.properties == {"cpus": 2, "memory_mb": 4096}

    port = conn.baremetal.create_port(node_uuid=node.id, address="52:54:00:5d:00:01")
    assert port.address == "52:54:00:5d:00:01"
    assert [p.id for p in conn.baremetal.ports(node=node.id)] == [port.id]
    assert conn.baremetal.get_port(port.id).node_id == node.id
    conn.baremetal.update_port(port, extra={"nic": "eth0"})
    assert conn.baremetal.get_port(port.id).extra == {"nic": "eth0"}

    conn.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=60)
    conn.baremetal.set_node_provision_state(node, "provide", wait=True, timeout=60)
    conn.baremetal.set_node_provision_state(node, "active")
    (done,) = conn.baremetal.wait_for_nodes_provision_state([node], "active", timeout=60)
    assert done.provision_state == "active"
    conn.baremetal.set_node_provision_state(node, "deleted")
    (done,) = conn.baremetal.wait_for_nodes_provision_state([node], "available", timeout=60)
    assert done.provision_state == "available"

    conn.baremetal.delete_port(port)
    assert list(conn.baremetal.ports(node=node.id)) == []
    conn.baremetal.delete_node(node)
    assert conn.baremetal.find_node("sdk-1") is None


def test_power_boot_device_maintenance_and_validate(
    baremetal: BaremetalCLI, server: IngotServer
) -> None:
    def power() -> str:
        """The power state once the asynchronous (202) change has settled."""
        with server.http() as http:
            for _ in range(200):
                node = http.get("/v1/nodes/ops-1/states").json()
                if node["target_power_state"] is None:
                    break
                time.sleep(0.05)
            return str(node["power_state"])

    baremetal.run("node", "create", "--driver", "fake-hardware", "--name", "ops-1")
    baremetal.run("node", "manage", "ops-1", "--wait", "30")
    for command, state in [("on", "power on"), ("off", "power off"), ("on", "power on")]:
        baremetal.run("node", "power", command, "ops-1")
        assert power() == state
    baremetal.run("node", "reboot", "ops-1")
    assert power() == "power on"

    baremetal.run("node", "boot", "device", "set", "ops-1", "pxe", "--persistent")
    shown = baremetal.json("node", "boot", "device", "show", "ops-1")
    assert shown == {"boot_device": "pxe", "persistent": True}
    supported = baremetal.json("node", "boot", "device", "show", "ops-1", "--supported")
    assert "pxe" in supported["supported_boot_devices"]
    baremetal.fails("node", "boot", "device", "set", "ops-1", "floppy")

    baremetal.run("node", "maintenance", "set", "ops-1", "--reason", "fan broken")
    shown = baremetal.json("node", "show", "ops-1")
    assert (shown["maintenance"], shown["maintenance_reason"]) == (True, "fan broken")
    err = baremetal.fails("node", "provide", "ops-1")
    assert "maintenance" in err
    baremetal.run("node", "maintenance", "unset", "ops-1")
    shown = baremetal.json("node", "show", "ops-1")
    assert (shown["maintenance"], shown["maintenance_reason"]) == (False, None)

    table = baremetal.run("node", "validate", "ops-1").stdout
    for kind in ("boot", "deploy", "management", "network", "power"):
        assert kind in table
    rows = {r["Interface"]: r for r in baremetal.json("node", "validate", "ops-1")}
    assert rows["power"]["Result"] is True and rows["deploy"]["Result"] is True

    baremetal.run("node", "create", "--driver", "ipmi", "--name", "ops-ipmi")
    rows = {r["Interface"]: r for r in baremetal.json("node", "validate", "ops-ipmi")}
    assert rows["power"]["Result"] is False
    assert "ipmi_address" in rows["power"]["Reason"]


def test_invalid_transition_through_the_cli(baremetal: BaremetalCLI) -> None:
    baremetal.run("node", "create", "--driver", "fake-hardware", "--name", "bad-1")
    err = baremetal.fails("node", "deploy", "bad-1")
    assert "enroll" in err and "manage" in err


def test_password_masked_and_never_logged(
    baremetal: BaremetalCLI, server: IngotServer, tmp_path: Path
) -> None:
    baremetal.run(
        "node", "create", "--driver", "ipmi", "--name", "sec-1",
        "--driver-info", f"ipmi_password={SECRET}", "--driver-info", "ipmi_address=127.0.0.1",
        "--driver-info", f"redfish_password={SECRET}", "--driver-info", f"snmp_key={SECRET}",
    )  # fmt: skip
    baremetal.run("node", "set", "sec-1", "--driver-info", f"ipmi_password={SECRET}x")
    shown = baremetal.run("node", "show", "sec-1").stdout
    assert SECRET not in shown and "******" in shown
    info = baremetal.json("node", "show", "sec-1")["driver_info"]
    assert info["ipmi_password"] == info["redfish_password"] == info["snmp_key"] == "******"
    assert SECRET not in baremetal.run("node", "list", "--long").stdout
    # a failing verify puts the driver_info through the conductor and its error paths too
    baremetal.run("node", "manage", "sec-1", check=False)
    with server.http() as http:
        http.get("/v1/nodes/sec-1/validate")
    assert SECRET not in server.log.read_text()


def test_password_never_logged_at_debug(tmp_path: Path) -> None:
    with running_server(tmp_path / "debug", log_level="debug") as srv:
        cli = BaremetalCLI(srv.url)
        cli.run("node", "create", "--driver", "fake-hardware", "--name", "dbg-1",
                "--driver-info", f"ipmi_password={SECRET}")  # fmt: skip
        cli.run("node", "set", "dbg-1", "--driver-info", f"ipmi_password={SECRET}2")
        cli.run("node", "manage", "dbg-1", "--wait", "30")
        log = srv.log.read_text()
    assert SECRET not in log, [line for line in log.splitlines() if SECRET in line][:3]
