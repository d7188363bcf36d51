"""JSON Patch on nodes and ports: what ``baremetal node set/unset`` sends, and its edges."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def node(client: Any) -> dict[str, Any]:
    r = client.post(
        "/v1/nodes",
        json={"driver": "fake-hardware", "name": "p1", "resource_class": "gold",
              "properties": {"cpus": 4}, "description": "rack 3", "extra": {"a": 1}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/resource_class", None),  # `baremetal node unset --resource-class` (was ignored)
        ("/description", None),
        ("/name", None),
        ("/extra", {}),
        ("/properties", {}),
        ("/properties/cpus", {}),
    ],
)
def test_remove_resets_the_field(
    client: Any, node: dict[str, Any], path: str, expected: Any
) -> None:
    r = client.patch("/v1/nodes/" + node["uuid"], json=[{"op": "remove", "path": path}])
    assert r.status_code == 200, r.text
    field = path.split("/")[1]
    assert r.json()[field] == expected
    assert client.get("/v1/nodes/" + node["uuid"]).json()[field] == expected


def test_remove_of_a_required_field_is_a_400(client: Any, node: dict[str, Any]) -> None:
    r = client.patch("/v1/nodes/p1", json=[{"op": "remove", "path": "/driver"}])
    assert r.status_code == 400
    assert "driver" in r.json()["error_message"]


def test_port_remove_resets_the_field(client: Any, node: dict[str, Any]) -> None:
    port = client.post(
        "/v1/ports",
        json={"node_uuid": node["uuid"], "address": "52:54:00:00:00:01",
              "physical_network": "physnet1", "extra": {"x": 1}},
    ).json()  # fmt: skip
    r = client.patch(
        f"/v1/ports/{port['uuid']}",
        json=[{"op": "remove", "path": "/physical_network"}, {"op": "remove", "path": "/extra/x"}],
    )
    assert r.status_code == 200, r.text
    assert r.json()["physical_network"] is None
    assert r.json()["extra"] == {}


def test_driver_info_secret_survives_unrelated_patch(client: Any, node: dict[str, Any]) -> None:
    """Patching the masked view must not overwrite the stored password with '******'."""
    client.patch(
        "/v1/nodes/p1",
        json=[{"op": "add", "path": "/driver_info/ipmi_password", "value": "hunter2"}],
    )
    r = client.patch(
        "/v1/nodes/p1", json=[{"op": "add", "path": "/driver_info/ipmi_username", "value": "u"}]
    )
    assert r.json()["driver_info"] == {"ipmi_password": "******", "ipmi_username": "u"}
    services = client.app.state.services
    from ingot.db.queries import get_node

    with services.db.read() as session:
        assert get_node(session, "p1").driver_info["ipmi_password"] == "hunter2"


@pytest.mark.parametrize(
    ("ops", "status", "words"),
    [
        ([{"op": "replace", "path": "/provision_state", "value": "active"}], 400,
         ["provision_state"]),
        ([{"op": "replace", "path": "/reservation", "value": "me"}], 400, ["reservation"]),
        ([{"op": "add", "path": "/bogus", "value": 1}], 400, ["bogus"]),
        ([{"op": "replace", "path": "/nope/x", "value": 1}], 400, ["nope"]),
        ([{"op": "frobnicate", "path": "/name", "value": 1}], 400, ["op"]),
        ([{"op": "replace", "path": "/name"}], 400, ["value"]),
        ([{"op": "replace", "value": 1}], 400, ["path"]),
        ([{"op": "replace", "path": "/properties/none", "value": 1}], 400, ["/properties/none"]),
        ([{"op": "remove", "path": "/extra/none"}], 400, ["/extra/none"]),
        ([{"op": "replace", "path": "/maintenance", "value": "maybe"}], 400, ["maintenance"]),
        ([{"op": "replace", "path": "/properties", "value": [1]}], 400, ["properties"]),
        ([{"op": "replace", "path": "/name", "value": 5}], 400, ["name"]),
        ([{"op": "replace", "path": "/name", "value": "has space"}], 400, ["has space"]),
        ([{"op": "replace", "path": "/driver", "value": "nope-driver"}], 400, ["nope-driver"]),
        ([{"op": "replace", "path": "/boot_interface", "value": "nope"}], 400, ["nope"]),
        ([{"op": "test", "path": "/name", "value": "other"}], 400, ["/name"]),
        ({"op": "replace"}, 400, ["list"]),
        ([], 400, ["list"]),
    ],
)  # fmt: skip
def test_bad_patches_are_4xx_naming_the_field(
    client: Any, node: dict[str, Any], ops: Any, status: int, words: list[str]
) -> None:
    r = client.patch("/v1/nodes/p1", json=ops)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error_message"], r.text
