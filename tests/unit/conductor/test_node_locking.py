"""Conductor behaviour through the API: locks, failing steps, transitions, power and friends."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from ingot import states
from ingot.db import locks
from ingot.db.queries import get_node
from tests.unit.api.test_smoke_api import wait_state


def _fault(r: Any) -> str:
    return str(json.loads(r.json()["error_message"])["faultstring"])


def _node(client: Any, name: str, *path: tuple[str, str]) -> str:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name})
    assert r.status_code == 201, r.text
    for verb, state in path:
        assert (
            client.put(f"/v1/nodes/{name}/states/provision", json={"target": verb}).status_code
            == 202
        )
        wait_state(client, name, state)
    return str(r.json()["uuid"])


def _node_id(client: Any, name: str) -> int:
    services = client.app.state.services
    with services.db.read() as session:
        return int(get_node(session, name).id)


LOCKED_REQUESTS = [
    ("PUT", "/states/provision", {"target": "manage"}),
    ("PUT", "/states/power", {"target": "power on"}),
    ("PATCH", "", [{"op": "add", "path": "/extra/x", "value": 1}]),
    ("DELETE", "", None),
    ("PUT", "/maintenance", {"reason": "r"}),
    ("PUT", "/management/boot_device", {"boot_device": "pxe"}),
    ("PUT", "/traits/CUSTOM_X", None),
]


@pytest.mark.parametrize(("method", "path", "body"), LOCKED_REQUESTS)
def test_locked_node_is_409_naming_node_and_holder(
    client: Any, method: str, path: str, body: Any
) -> None:
    uuid = _node(client, "busy")
    db = client.app.state.services.db
    locks.reserve(db, _node_id(client, "busy"), "other-conductor")
    try:
        r = client.request(method, f"/v1/nodes/busy{path}", json=body)
        assert r.status_code == 409, r.text
        message = _fault(r)
        assert uuid in message and "other-conductor" in message, message
    finally:
        assert locks.release(db, _node_id(client, "busy"), "other-conductor")
    # once released, the same request goes through
    r = client.request(method, f"/v1/nodes/busy{path}", json=body)
    assert r.status_code < 300, r.text


def test_two_racing_verbs_one_wins_other_gets_409(client: Any) -> None:
    """The winner holds the lock from accept until its flow ends; a verb sent meanwhile loses."""
    _node(client, "race", ("manage", states.MANAGEABLE))
    conductor = client.app.state.services.conductor.conductor
    # block the conductor loop so the accepted flow can not finish before the second request
    gate = threading.Event()

    async def block() -> None:
        gate.wait(10)  # blocks the loop thread on purpose

    assert conductor.loop is not None
    blocker = asyncio.run_coroutine_threadsafe(block(), conductor.loop)
    try:
        first = client.put("/v1/nodes/race/states/provision", json={"target": "provide"})
        second = client.put("/v1/nodes/race/states/provision", json={"target": "inspect"})
    finally:
        gate.set()
        blocker.result(5)
    assert first.status_code == 202, first.text
    assert second.status_code == 409, second.text
    assert conductor.hostname in _fault(second) and "race" not in _fault(second)
    wait_state(client, "race", states.AVAILABLE)


def test_failing_step_leaves_no_lock_and_records_the_error(client: Any) -> None:
    _node(client, "boom", ("manage", states.MANAGEABLE))
    steps = [{"interface": "deploy", "step": "fail", "args": {"message": "disk on fire"}}]
    r = client.put(
        "/v1/nodes/boom/states/provision", json={"target": "clean", "clean_steps": steps}
    )
    assert r.status_code == 202, r.text
    node = wait_state(client, "boom", states.CLEANFAIL)
    assert node["reservation"] is None and "disk on fire" in node["last_error"]
    history = client.get("/v1/nodes/boom/history?detail=true").json()["history"]
    assert any("disk on fire" in e["event"] and e["severity"] == "ERROR" for e in history)
    # nothing else is blocked: the node takes requests again at once
    assert (
        client.patch(
            "/v1/nodes/boom", json=[{"op": "add", "path": "/extra/a", "value": 1}]
        ).status_code
        == 200
    )
    assert (
        client.put("/v1/nodes/boom/states/provision", json={"target": "manage"}).status_code == 202
    )
    wait_state(client, "boom", states.MANAGEABLE)


@pytest.mark.parametrize(
    ("path", "verb", "state", "allowed"),
    [
        ((), "active", states.ENROLL, ["manage"]),
        ((), "provide", states.ENROLL, ["manage"]),
        ((("manage", states.MANAGEABLE),), "deleted", states.MANAGEABLE, ["provide", "clean"]),
        ((("manage", states.MANAGEABLE), ("provide", states.AVAILABLE)), "provide",
         states.AVAILABLE, ["active", "manage"]),
    ],
)  # fmt: skip
def test_invalid_transition_is_400_with_state_and_verbs(
    client: Any, path: tuple[tuple[str, str], ...], verb: str, state: str, allowed: list[str]
) -> None:
    _node(client, "tr", *path)
    r = client.put("/v1/nodes/tr/states/provision", json={"target": verb})
    assert r.status_code == 400, r.text
    message = _fault(r)
    assert state in message and verb in message, message
    for v in allowed:
        assert v in message, message
    assert client.get("/v1/nodes/tr").json()["reservation"] is None


def test_unknown_verb_lists_the_verbs(client: Any) -> None:
    _node(client, "uv")
    r = client.put("/v1/nodes/uv/states/provision", json={"target": "fly"})
    assert r.status_code == 400 and "fly" in _fault(r) and "manage" in _fault(r)


def _settled_power(client: Any, name: str) -> dict[str, Any]:
    """Power changes are asynchronous (202): wait for target_power_state to clear."""
    deadline = time.monotonic() + 10
    while True:
        node: dict[str, Any] = client.get(f"/v1/nodes/{name}/states").json()
        if node["target_power_state"] is None or time.monotonic() > deadline:
            return node
        time.sleep(0.01)


def test_power_actions_read_back(client: Any) -> None:
    _node(client, "pw", ("manage", states.MANAGEABLE))
    for target, expected in [
        ("power on", states.POWER_ON), ("power off", states.POWER_OFF),
        ("rebooting", states.POWER_ON), ("soft power off", states.POWER_OFF),
        ("power on", states.POWER_ON), ("soft rebooting", states.POWER_ON),
    ]:  # fmt: skip
        r = client.put("/v1/nodes/pw/states/power", json={"target": target, "timeout": 10})
        assert r.status_code == 202, r.text
        assert r.headers["location"].endswith("/v1/nodes/pw/states")
        node = _settled_power(client, "pw")
        assert (node["power_state"], node["target_power_state"]) == (expected, None), target
    r = client.put("/v1/nodes/pw/states/power", json={"target": "power sideways"})
    assert r.status_code == 400 and "power sideways" in _fault(r)


def test_boot_device_and_maintenance(client: Any) -> None:
    _node(client, "bd")
    supported = client.get("/v1/nodes/bd/management/boot_device/supported").json()
    assert "pxe" in supported["supported_boot_devices"]
    for device, persistent in [("pxe", True), ("disk", False)]:
        r = client.put(
            "/v1/nodes/bd/management/boot_device",
            json={"boot_device": device, "persistent": persistent},
        )
        assert r.status_code == 204, r.text
        got = client.get("/v1/nodes/bd/management/boot_device").json()
        assert got == {"boot_device": device, "persistent": persistent}
    r = client.put("/v1/nodes/bd/management/boot_device", json={"boot_device": "floppy"})
    assert r.status_code == 400 and "floppy" in _fault(r)

    assert client.put("/v1/nodes/bd/maintenance", json={"reason": "fan"}).status_code == 202
    node = client.get("/v1/nodes/bd").json()
    assert (node["maintenance"], node["maintenance_reason"]) == (True, "fan")
    r = client.put("/v1/nodes/bd/states/provision", json={"target": "manage"})
    assert r.status_code == 202  # manage is allowed in maintenance, like Ironic
    wait_state(client, "bd", states.MANAGEABLE)
    r = client.put("/v1/nodes/bd/states/provision", json={"target": "provide"})
    assert r.status_code == 400 and "maintenance" in _fault(r)
    assert client.delete("/v1/nodes/bd/maintenance").status_code == 202
    node = client.get("/v1/nodes/bd").json()
    assert (node["maintenance"], node["maintenance_reason"]) == (False, None)
    events = [e["event"] for e in client.get("/v1/nodes/bd/history").json()["history"]]
    assert any("Maintenance set: fan" in e for e in events)


def test_validate_reports_every_interface(client: Any) -> None:
    _node(client, "val")
    result = client.get("/v1/nodes/val/validate").json()
    for kind in ("boot", "deploy", "management", "network", "power", "console", "inspect",
                 "raid", "rescue", "storage", "bios"):  # fmt: skip
        assert result[kind]["result"] is True, (kind, result[kind])
    ipmi = client.post("/v1/nodes", json={"driver": "ipmi"}).json()["uuid"]
    result = client.get(f"/v1/nodes/{ipmi}/validate").json()
    assert result["power"]["result"] is False and "ipmi_address" in result["power"]["reason"]
