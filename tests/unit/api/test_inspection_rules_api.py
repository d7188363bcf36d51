"""``/v1/inspection_rules``: create, list, patch, delete, sensitive rules, validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

PROFILE_RULE = {
    "description": "big memory is compute",
    "priority": 50,
    "conditions": [{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 262143]}}],
    "actions": [{"op": "set-capability", "args": {"name": "profile", "value": "compute"}}],
}


def fault(response: Any) -> str:
    return str(json.loads(response.json()["error_message"])["faultstring"])


def test_crud_round_trip(client: Any) -> None:
    created = client.post("/v1/inspection_rules", json=PROFILE_RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["phase"] == "main" and rule["sensitive"] is False and rule["built_in"] is False
    assert created.headers["location"].endswith(f"/v1/inspection_rules/{rule['uuid']}")
    short = client.get("/v1/inspection_rules").json()["inspection_rules"]
    assert set(short[0]) == {"uuid", "priority", "phase", "description", "links"}
    detail = client.get("/v1/inspection_rules", params={"detail": "true"}).json()
    assert detail["inspection_rules"][0]["actions"] == PROFILE_RULE["actions"]
    patched = client.patch(
        f"/v1/inspection_rules/{rule['uuid']}",
        json=[{"op": "replace", "path": "/priority", "value": 70}],
    )
    assert patched.json()["priority"] == 70
    assert client.delete(f"/v1/inspection_rules/{rule['uuid']}").status_code == 204
    assert client.get(f"/v1/inspection_rules/{rule['uuid']}").status_code == 404


def test_sensitive_rules_hide_conditions_and_stay_sensitive(client: Any) -> None:
    rule = client.post("/v1/inspection_rules", json={**PROFILE_RULE, "sensitive": True}).json()
    assert rule["conditions"] is None and rule["actions"] is None
    assert client.get(f"/v1/inspection_rules/{rule['uuid']}").json()["actions"] is None
    response = client.patch(
        f"/v1/inspection_rules/{rule['uuid']}",
        json=[{"op": "replace", "path": "/sensitive", "value": False}],
    )
    assert response.status_code == 400 and "sensitive flag unset" in fault(response)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"conditions": []}, "at least one action"),
        ({"actions": [{"op": "explode", "args": {}}]}, "unsupported operator 'explode'"),
        ({"actions": [{"op": "set-attribute", "args": {"path": "/x"}}]}, "missing value"),
        ({"actions": [{"op": "add-trait", "args": {"name": "X", "extra": 1}}]}, "unexpected extra"),
        (
            {"actions": [{"op": "log", "args": {"msg": "x"}}], "priority": 10000},
            "between 0 and 9999",
        ),
        ({"actions": [{"op": "log", "args": {"msg": "x"}}], "phase": "late"}, "Invalid phase"),
        (
            {
                "actions": [{"op": "log", "args": {"msg": "x"}}],
                "conditions": [{"op": "!bogus", "args": {}}],
            },
            "unsupported operator '!bogus'",
        ),
        (
            {"actions": [{"op": "log", "args": {"msg": "x"}}], "scope": "x"},
            "Unknown inspection rule",
        ),
    ],
)
def test_validation_errors(client: Any, body: dict[str, Any], message: str) -> None:
    response = client.post("/v1/inspection_rules", json=body)
    assert response.status_code == 400, response.text
    assert message in fault(response)


def test_needs_microversion_96(client: Any) -> None:
    headers = {"X-OpenStack-Ironic-API-Version": "1.95"}
    assert client.get("/v1/inspection_rules", headers=headers).status_code == 404
