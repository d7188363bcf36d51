"""The conductor against virtual BMCs over real protocols: ipmitool cross-checks, power sync
of out-of-band changes, and BMCs that misbehave (unreachable, dropping packets)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ingot import states
from ingot.conductor import periodics
from ingot.lab.bmc.ipmi import IpmiBmcServer, IpmiFaults, start_ipmi_bmcs
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


def _enroll(client: Any, port: int) -> None:
    r = client.post("/v1/nodes", json={
        "driver": "ipmi", "name": "b1",
        "driver_info": {"ipmi_address": "127.0.0.1", "ipmi_port": port,
                        "ipmi_username": "admin", "ipmi_password": "secret"},
    })  # fmt: skip
    assert r.status_code == 201, r.text


def _wait_power(client: Any, node: str, state: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/nodes/{node}").json()
        if body["power_state"] == state and body["target_power_state"] is None:
            return body
        time.sleep(0.05)
    raise AssertionError(f"power of {node} is {body.get('power_state')}: {body.get('last_error')}")


def _ipmitool(port: int, *args: str) -> str:
    cmd = ["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(port), "-U", "admin",
           "-P", "secret", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.mark.skipif(shutil.which("ipmitool") is None, reason="ipmitool not installed (make test)")
def test_ipmitool_reads_back_what_the_conductor_set(client: Any, bmc: Any) -> None:
    machine, server = bmc
    port = server.port_of(machine)
    _enroll(client, port)
    assert client.put("/v1/nodes/b1/states/power", json={"target": "power on"}).status_code == 202
    _wait_power(client, "b1", states.POWER_ON)
    assert "Chassis Power is on" in _ipmitool(port, "power", "status")
    r = client.put("/v1/nodes/b1/management/boot_device", json={"boot_device": "pxe"})
    assert r.status_code == 204, r.text
    assert "Force PXE" in _ipmitool(port, "chassis", "bootparam", "get", "5")
    r = client.put("/v1/nodes/b1/management/boot_device",
                   json={"boot_device": "disk", "persistent": True})  # fmt: skip
    assert r.status_code == 204
    assert "Force Boot from default Hard-Drive" in _ipmitool(
        port, "chassis", "bootparam", "get", "5"
    )
    assert client.put("/v1/nodes/b1/states/power", json={"target": "power off"}).status_code == 202
    _wait_power(client, "b1", states.POWER_OFF)
    assert "Chassis Power is off" in _ipmitool(port, "power", "status")


@pytest.mark.parametrize("force", [True, False])
def test_power_sync_detects_out_of_band_change(app_services: Any, client: Any, bmc: Any,
                                               force: bool) -> None:  # fmt: skip
    services, conductor, _app = app_services
    services.settings.conductor.force_power_state_during_sync = force
    machine, server = bmc
    _enroll(client, server.port_of(machine))
    client.put("/v1/nodes/b1/states/provision", json={"target": "manage"})
    wait_state(client, "b1", states.MANAGEABLE, timeout=30)
    machine.power("on")  # someone pressed the button
    conductor.call(periodics.sync_power_states(conductor))
    node = client.get("/v1/nodes/b1").json()
    events = [e["event"] for e in client.get("/v1/nodes/b1/history").json()["history"]]
    assert any("Power state sync" in e and "power on" in e for e in events), events
    if force:
        assert machine.get_power() == "off" and node["power_state"] == states.POWER_OFF
    else:
        assert machine.get_power() == "on" and node["power_state"] == states.POWER_ON


def test_bmc_dropping_ten_percent_still_works(client: Any, bmc: Any) -> None:
    machine, server = bmc
    server.bmc_for(machine).faults = IpmiFaults(drop_rate=0.1)
    _enroll(client, server.port_of(machine))
    client.put("/v1/nodes/b1/states/provision", json={"target": "manage"})
    node = wait_state(client, "b1", states.MANAGEABLE, timeout=90)
    assert node["last_error"] is None
    assert client.put("/v1/nodes/b1/states/power", json={"target": "power on"}).status_code == 202
    _wait_power(client, "b1", states.POWER_ON, timeout=90)


def test_unreachable_bmc_fails_verification_clearly(
    app_services: Any, client: Any, bmc: Any
) -> None:
    services, _conductor, _app = app_services
    services.settings.ipmi.command_retry_timeout = 5
    machine, server = bmc
    server.bmc_for(machine).faults = IpmiFaults(silent=True)
    _enroll(client, server.port_of(machine))
    client.put("/v1/nodes/b1/states/provision", json={"target": "manage"})
    node = wait_state(client, "b1", states.ENROLL, timeout=120)
    assert f"127.0.0.1:{server.port_of(machine)}" in node["last_error"]
    assert node["reservation"] is None and node["target_provision_state"] is None
