"""The manual power interface through the API: each request tells the operator what to press
and, once the conductor chose a boot device, where the server must boot from."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.drivers.test_bmc_conductor import _wait_power


def _request(client: Any) -> dict[str, Any]:
    info = client.get("/v1/nodes/m1").json()["driver_internal_info"]
    return dict(info["manual_power_request"])


@pytest.fixture
def node(client: Any) -> str:
    r = client.post("/v1/nodes", json={"driver": "manual-management", "name": "m1"})
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/ports", json={"node_uuid": r.json()["uuid"], "address": "52:54:00:aa:bb:01"}
    )
    assert r.status_code == 201, r.text
    return "m1"


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("pxe", "and make it boot from the network (PXE)."),
        ("disk", "and make it boot from its local disk."),
    ],
)
def test_power_on_names_the_button_the_mac_and_the_boot_device(
    client: Any, node: str, device: str, words: str
) -> None:
    r = client.put(f"/v1/nodes/{node}/management/boot_device", json={"boot_device": device})
    assert r.status_code == 204, r.text
    assert (
        client.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"}).status_code == 202
    )
    _wait_power(client, node, "power on")
    request = _request(client)
    assert request["action"] == "power on"
    assert request["message"] == (
        "ACTION NEEDED: POWER ON (press the power button) server m1 "
        f"(MAC 52:54:00:aa:bb:01) {words}"
    )


def test_power_off_says_nothing_about_booting(client: Any, node: str) -> None:
    client.put(f"/v1/nodes/{node}/management/boot_device", json={"boot_device": "pxe"})
    client.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"})
    _wait_power(client, node, "power on")
    assert (
        client.put(f"/v1/nodes/{node}/states/power", json={"target": "power off"}).status_code
        == 202
    )
    _wait_power(client, node, "power off")
    request = _request(client)
    assert request["action"] == "power off"
    assert request["message"].endswith("server m1 (MAC 52:54:00:aa:bb:01).")
    assert "boot" not in request["message"].split("server m1")[1]
