"""Issue 8: a lab server without a BMC (``manual-management``): Ingot asks the operator to press
the power button (ACTION NEEDED in the node's history and ``driver_internal_info``), waits,
and the deploy goes on once the test, playing the operator, presses it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.lab_fixtures import Site, config_drive, lab_site, publish_image

BUTTONS = {"power on": "on", "power off": "off", "soft power off": "off", "rebooting": "reset"}


def pending_request(
    site: Site, name: str, seen: set[str], node: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    node = node if node is not None else site.node(name)
    request = node["driver_internal_info"].get("manual_power_request")
    if not request or request["at"] in seen:
        return None
    return dict(request)


def press(site: Site, name: str, request: dict[str, Any], seen: set[str]) -> None:
    """Do what Ingot asked, on the server itself (the lab's power button)."""
    seen.add(request["at"])
    machine = site.lab.server(name).machine
    action = BUTTONS[request["action"]]
    if action == "reset" and machine.get_power() == "off":
        action = "on"
    machine.power(action)  # type: ignore[arg-type]


def operate_until(
    site: Site, name: str, states: set[str], seen: set[str], timeout: float = 90
) -> list[dict[str, Any]]:
    """Answer every request until ``name`` settles in one of ``states``; return the requests."""
    answered = []
    deadline = time.monotonic() + timeout
    while True:
        # One snapshot for both checks: a request made just before the node settled is still
        # answered (two reads could see the old request, then the settled node).
        node = site.node(name)
        request = pending_request(site, name, seen, node)
        if request is not None:
            press(site, name, request, seen)
            answered.append(request)
        elif node["provision_state"] in states and node["reservation"] is None:
            return answered
        assert time.monotonic() < deadline, (node["provision_state"], node["last_error"])
        time.sleep(0.2)


def test_manual_server_deploys_when_the_operator_presses_the_button(tmp_path: Path) -> None:
    with lab_site(tmp_path, nodes=1, bmc="manual") as site:
        image = publish_image(site.server, "img.raw")
        server = site.lab.server("node-0")
        seen: set[str] = set()
        site.import_inventory("--manage")
        assert site.node("node-0")["driver"] == "manual-management"
        site.set_state("node-0", "provide")
        cleaning = operate_until(site, "node-0", {"available", "clean failed"}, seen)
        assert site.node("node-0")["provision_state"] == "available"
        assert [r["action"] for r in cleaning][:1] == ["power on"]

        site.set_image("node-0", image)
        site.set_state("node-0", "active", configdrive=config_drive("manual.example"))
        deadline = time.monotonic() + 30
        while (request := pending_request(site, "node-0", seen)) is None:
            assert time.monotonic() < deadline, "no ACTION NEEDED request for the deploy"
            time.sleep(0.2)
        assert request["action"] == "power on"
        assert request["message"].startswith("ACTION NEEDED: POWER ON (press the power button)")
        assert "node-0" in request["message"] and server.spec.macs[0] in request["message"]
        assert any(e["event"] == request["message"] for e in site.history("node-0"))
        # Nobody pressed it yet: the server stays off and the deploy waits for its agent.
        time.sleep(2)
        node = site.node("node-0")
        assert node["provision_state"] == "wait call-back", node["last_error"]
        assert server.machine.get_power() == "off" and server.agent is None

        press(site, "node-0", request, seen)
        rest = operate_until(site, "node-0", {"active", "deploy failed"}, seen)
        node = site.node("node-0")
        assert (node["provision_state"], node["last_error"]) == ("active", None)
        # The agent asked for power off after writing the image; then power on from disk.
        assert [r["action"] for r in rest][-1:] == ["power on"]
        site.wait_booted("node-0", "manual.example")
