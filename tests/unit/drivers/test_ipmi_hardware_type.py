"""The ``ipmi`` hardware type through the API, against a virtual IPMI BMC on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingot.lab.bmc.ipmi import IpmiBmcServer, start_ipmi_bmcs
from ingot.lab.machine import VirtualMachine
from tests.unit.api.test_smoke_api import wait_state


@pytest.fixture
def bmc() -> Iterator[tuple[VirtualMachine, IpmiBmcServer]]:
    machine = VirtualMachine(name="ipmi-0")
    server = start_ipmi_bmcs([(machine, 0)], "admin", "secret")
    try:
        yield machine, server
    finally:
        server.stop()


def _create(client: Any, port: int, password: str = "secret") -> None:
    r = client.post("/v1/nodes", json={
        "driver": "ipmi", "name": "i1",
        "driver_info": {"ipmi_address": "127.0.0.1", "ipmi_port": port,
                        "ipmi_username": "admin", "ipmi_password": password},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["driver_info"]["ipmi_password"] == "******"


def test_manage_power_and_boot_device_over_ipmi(client: Any, bmc: Any) -> None:
    machine, server = bmc
    _create(client, server.port_of(machine))
    client.put("/v1/nodes/i1/states/provision", json={"target": "manage"})
    node = wait_state(client, "i1", "manageable", timeout=30)
    assert node["power_state"] == "power off"

    assert client.put("/v1/nodes/i1/states/power", json={"target": "power on"}).status_code == 202
    deadline_ok = False
    for _ in range(300):
        node = client.get("/v1/nodes/i1").json()
        if node["power_state"] == "power on" and node["target_power_state"] is None:
            deadline_ok = True
            break
        import time

        time.sleep(0.05)
    assert deadline_ok, node
    assert machine.get_power() == "on"

    r = client.put("/v1/nodes/i1/management/boot_device", json={"boot_device": "pxe"})
    assert r.status_code == 204, r.text
    assert machine.get_boot_device() == ("pxe", False)
    assert client.get("/v1/nodes/i1/management/boot_device").json()["boot_device"] == "pxe"


def test_wrong_password_fails_verification_with_clear_error(client: Any, bmc: Any) -> None:
    machine, server = bmc
    _create(client, server.port_of(machine), password="wrong")
    client.put("/v1/nodes/i1/states/provision", json={"target": "manage"})
    node = wait_state(client, "i1", "enroll", timeout=60)
    assert "127.0.0.1" in node["last_error"]
    assert "wrong" not in node["last_error"]


def test_redfish_node_power_and_boot_device(client: Any) -> None:
    from ingot.lab.bmc.redfish import start_redfish

    machine = VirtualMachine(name="rf-0")
    server = start_redfish([machine], 0, "admin", "secret")
    try:
        r = client.post("/v1/nodes", json={
            "driver": "redfish", "name": "r1",
            "driver_info": {"redfish_address": server.url, "redfish_username": "admin",
                            "redfish_password": "secret",
                            "redfish_system_id": server.system_path(machine)},
        })  # fmt: skip
        assert r.status_code == 201, r.text
        client.put("/v1/nodes/r1/states/provision", json={"target": "manage"})
        node = wait_state(client, "r1", "manageable", timeout=30)
        assert node["power_state"] == "power off", node["last_error"]
        r = client.put("/v1/nodes/r1/management/boot_device",
                       json={"boot_device": "pxe", "persistent": True})  # fmt: skip
        assert r.status_code == 204, r.text
        assert machine.get_boot_device() == ("pxe", True)
    finally:
        server.stop()
