"""Basic create/list/lifecycle through the in-process API; deeper cases live beside it."""

from __future__ import annotations

import time
from typing import Any

from ingot import states


def wait_state(client: Any, node: str, state: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/nodes/{node}").json()
        settled = body["target_provision_state"] is None or state not in states.STABLE_STATES
        if body["provision_state"] == state and settled and body["reservation"] is None:
            return body
        time.sleep(0.02)
    raise AssertionError(f"node {node} did not reach {state}: {body['provision_state']}")


def test_fake_node_lifecycle(client: Any) -> None:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n1"})
    assert r.status_code == 201
    for verb, target in [
        ("manage", states.MANAGEABLE),
        ("provide", states.AVAILABLE),
        ("active", states.ACTIVE),
        ("deleted", states.AVAILABLE),
    ]:
        r = client.put("/v1/nodes/n1/states/provision", json={"target": verb})
        assert r.status_code == 202, r.text
        wait_state(client, "n1", target)
    events = [e["event"] for e in client.get("/v1/nodes/n1/history").json()["history"]]
    assert any("Deployment completed" in e for e in events)


def test_failed_step_releases_lock_and_sets_last_error(client: Any) -> None:
    client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "f1"})
    client.put("/v1/nodes/f1/states/provision", json={"target": "manage"})
    wait_state(client, "f1", states.MANAGEABLE)
    r = client.put(
        "/v1/nodes/f1/states/provision",
        json={"target": "clean", "clean_steps": [
            {"interface": "deploy", "step": "fail", "args": {"message": "disk on fire"}}]},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    node = wait_state(client, "f1", states.CLEANFAIL)
    assert node["reservation"] is None
    assert "disk on fire" in node["last_error"]
    # recoverable by the documented verb
    assert client.put("/v1/nodes/f1/states/provision", json={"target": "manage"}).status_code == 202
    wait_state(client, "f1", states.MANAGEABLE)


def test_invalid_transition_names_state_and_verbs(client: Any) -> None:
    client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "e1"})
    r = client.put("/v1/nodes/e1/states/provision", json={"target": "active"})
    assert r.status_code == 400
    message = r.json()["error_message"]
    assert "enroll" in message and "manage" in message


def test_retired_classic_driver_is_translated_with_a_note(client: Any) -> None:
    """Seed 003 runs `ironic node-create -d pxe_ipmitool`: accepted as ipmi + pxe boot."""
    r = client.post("/v1/nodes", json={"driver": "pxe_ipmitool", "name": "old1"})
    assert r.status_code == 201, r.text
    assert (r.json()["driver"], r.json()["boot_interface"]) == ("ipmi", "pxe")
    events = [e["event"] for e in client.get("/v1/nodes/old1/history").json()["history"]]
    assert any("pxe_ipmitool" in e and "retired" in e for e in events)
    r = client.post("/v1/nodes", json={"driver": "pxe_drac_redfish_turbo"})
    assert r.status_code == 400 and "pxe_drac_redfish_turbo" in r.json()["error_message"]
