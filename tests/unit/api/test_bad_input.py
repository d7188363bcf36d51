"""Bad input is a 4xx in Ironic's error body that names the field, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

MAC = "52:54:00:12:34:56"  # only ever used where the request fails


@pytest.fixture
def client(shared_client: Any) -> Any:
    """These tests only read node n1 or add uniquely named things: share one app."""
    return shared_client


@pytest.fixture
def node(client: Any) -> str:
    """Node n1, in enroll, created once per module."""
    r = client.get("/v1/nodes/n1")
    if r.status_code == 404:
        r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n1"})
        assert r.status_code == 201, r.text
    assert r.json()["provision_state"] == "enroll"
    if r.json()["maintenance"]:  # an earlier test's maintenance request went through
        client.delete("/v1/nodes/n1/maintenance")
    return str(r.json()["uuid"])


def fresh_mac(client: Any) -> str:
    """A MAC no port of the shared app has yet."""
    count = len(client.get("/v1/ports").json()["ports"])
    return f"52:54:00:77:{count // 256:02x}:{count % 256:02x}"


def fault(r: Any) -> str:
    """The faultstring of Ironic's double-encoded error body."""
    body = r.json()
    assert set(body) == {"error_message"}, body
    inner = json.loads(body["error_message"])
    assert inner["faultcode"] == "Client" and inner["debuginfo"] is None, inner
    return str(inner["faultstring"])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"driver": "no-such-driver"}, 400, ["no-such-driver"]),
        ({"name": "x"}, 400, ["driver"]),
        ({"driver": "fake-hardware", "bogus_field": 1}, 400, ["bogus_field"]),
        ({"driver": "fake-hardware", "provision_state": "active"}, 400, ["provision_state"]),
        ({"driver": "fake-hardware", "name": "has space"}, 400, ["has space"]),
        ({"driver": "fake-hardware", "name": "4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a"}, 400,
         ["4b8b5c5e"]),
        ({"driver": "fake-hardware", "name": 12}, 400, ["name"]),
        ({"driver": "fake-hardware", "properties": "cpus=4"}, 400, ["properties"]),
        ({"driver": "fake-hardware", "driver_info": [1]}, 400, ["driver_info"]),
        ({"driver": "fake-hardware", "automated_clean": "perhaps"}, 400, ["automated_clean"]),
        ({"driver": "fake-hardware", "uuid": "not-a-uuid"}, 400, ["not-a-uuid"]),
        ({"driver": "fake-hardware", "boot_interface": "nope"}, 400, ["nope"]),
        ({"driver": "fake-hardware", "resource_class": "x" * 81}, 400, ["resource_class"]),
        ({"driver": "fake-hardware", "chassis_uuid": "4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a"},
         400, ["4b8b5c5e"]),
        ([{"driver": "fake-hardware"}], 400, ["object"]),
        ("fake-hardware", 400, ["object"]),
    ],
)  # fmt: skip
def test_node_create_rejects(client: Any, body: Any, status: int, words: list[str]) -> None:
    r = client.post("/v1/nodes", json=body)
    assert r.status_code == status, r.text
    message = fault(r)
    for word in words:
        assert word in message, message


def test_duplicate_node_name_is_409(client: Any, node: str) -> None:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n1"})
    assert r.status_code == 409
    assert "n1" in fault(r) and "already exists" in fault(r)
    other = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    # renaming onto a taken name was a 500 (the UNIQUE constraint fired on autoflush)
    r = client.patch(f"/v1/nodes/{other}", json=[{"op": "replace", "path": "/name", "value": "n1"}])
    assert r.status_code == 409 and "n1" in fault(r)
    client.delete(f"/v1/nodes/{other}")


def test_duplicate_uuid_is_409(client: Any, node: str) -> None:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "uuid": node})
    assert r.status_code == 409 and node in fault(r)
    # the UUID clash is named even when the name clashes with another node too
    client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "other"})
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "uuid": node, "name": "other"})
    assert r.status_code == 409 and "UUID" in fault(r) and node in fault(r)


@pytest.mark.parametrize("ident", ["n1", "uuid", "8b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a", "nope"])
def test_port_create_finds_its_node_by_uuid_or_name(client: Any, node: str, ident: str) -> None:
    mac = f"52:54:00:aa:bb:{len(ident):02x}"  # the node is shared by the module's tests
    body = {"node_uuid": node if ident == "uuid" else ident, "address": mac}
    r = client.post("/v1/ports", json=body)
    if ident in ("n1", "uuid"):
        assert r.status_code == 201, r.text
        assert r.json()["node_uuid"] == node
    else:
        assert r.status_code == 400 and ident in fault(r) and "create the node" in fault(r)


@pytest.mark.parametrize(
    "address",
    ["not-a-mac", "52:54:00:12:34", "52:54:00:12:34:56:78", "zz:54:00:12:34:56", "", 5, None],
)
def test_invalid_mac_is_400_naming_it(client: Any, node: str, address: Any) -> None:
    r = client.post("/v1/ports", json={"node_uuid": node, "address": address})
    assert r.status_code == 400, r.text
    assert "address" in fault(r) or "MAC" in fault(r)


def test_duplicate_mac_is_409_also_in_another_spelling(client: Any, node: str) -> None:
    mac = fresh_mac(client)
    assert client.post("/v1/ports", json={"node_uuid": node, "address": mac}).status_code == 201
    for spelling in (mac, mac.upper(), mac.replace(":", "-")):
        r = client.post("/v1/ports", json={"node_uuid": node, "address": spelling})
        assert r.status_code == 409, r.text
        assert mac in fault(r)


def test_port_patch_to_a_taken_mac_is_409(client: Any, node: str) -> None:
    mac = fresh_mac(client)
    assert client.post("/v1/ports", json={"node_uuid": node, "address": mac}).status_code == 201
    other = client.post("/v1/ports", json={"node_uuid": node, "address": fresh_mac(client)})
    r = client.patch(
        f"/v1/ports/{other.json()['uuid']}",
        json=[{"op": "replace", "path": "/address", "value": mac.upper()}],
    )
    assert r.status_code == 409 and mac in fault(r)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"address": MAC}, ["node_uuid"]),
        ({"node_uuid": "no-such-node", "address": MAC}, ["no-such-node"]),
        ({"node_uuid": "NODE", "address": MAC, "bogus": 1}, ["bogus"]),
        ({"node_uuid": "NODE", "address": MAC, "pxe_enabled": "sometimes"}, ["pxe_enabled"]),
        ({"node_uuid": "NODE", "address": MAC, "local_link_connection": "x"},
         ["local_link_connection"]),
        ({"node_uuid": "NODE"}, ["address"]),
    ],
)  # fmt: skip
def test_port_create_rejects(
    client: Any, node: str, body: dict[str, Any], words: list[str]
) -> None:
    body = {k: (node if v == "NODE" else v) for k, v in body.items()}
    r = client.post("/v1/ports", json=body)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in fault(r)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("sort_key=bogus", ["bogus"]),
        ("sort_key=driver_info", ["driver_info"]),
        ("sort_dir=sideways", ["sideways"]),
        ("limit=-1", ["imit"]),
        ("limit=abc", ["abc"]),
        ("fields=uuid,bogus", ["bogus"]),
        ("provision_state=flying", ["flying"]),
        ("maintenance=perhaps", ["maintenance"]),
        ("associated=perhaps", ["associated"]),
        ("instance_uuid=nope", ["nope"]),
        ("detail=perhaps", ["detail"]),
    ],
)
def test_bad_list_queries_are_400(client: Any, node: str, query: str, words: list[str]) -> None:
    r = client.get("/v1/nodes?" + query)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in fault(r)


def test_marker_that_does_not_exist(client: Any, node: str) -> None:
    for path in ("/v1/nodes", "/v1/ports", "/v1/nodes/detail", "/v1/chassis"):
        r = client.get(f"{path}?marker=4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a")
        assert 400 <= r.status_code < 500, (path, r.text)
        assert "4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a" in fault(r)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/nodes"),
        ("POST", "/v1/ports"),
        ("POST", "/v1/chassis"),
        ("PATCH", "/v1/nodes/n1"),
        ("PUT", "/v1/nodes/n1/states/provision"),
        ("PUT", "/v1/nodes/n1/states/power"),
        ("PUT", "/v1/nodes/n1/management/boot_device"),
        ("PUT", "/v1/nodes/n1/traits"),
        ("POST", "/v1/nodes/n1/vifs"),
        ("PUT", "/v1/nodes/n1/maintenance"),
    ],
)
@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2", b"null", b"42"])
def test_non_json_and_wrong_shape_bodies(
    client: Any, node: str, method: str, path: str, raw: bytes
) -> None:
    r = client.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    if path.endswith("/maintenance") and raw == b"null":
        assert r.status_code == 202  # no body: maintenance without a reason is fine
        return
    assert 400 <= r.status_code < 500, (method, path, raw, r.status_code, r.text)
    fault(r)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_a_400_not_stored(client: Any, constant: str) -> None:
    raw = f'{{"driver": "fake-hardware", "name": "nan", "driver_info": {{"x": {constant}}}}}'
    r = client.post("/v1/nodes", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and constant in fault(r), r.text
    assert client.get("/v1/nodes/nan").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/states/provision", {}, ["target"]),
        ("/states/provision", {"target": 5}, ["target"]),
        ("/states/provision", {"target": "fly"}, ["fly"]),
        ("/states/provision", {"target": "manage", "bogus": 1}, ["bogus"]),
        ("/states/provision", {"target": "manage", "clean_steps": []}, ["clean_steps"]),
        ("/states/provision", {"target": "deploy"}, ["enroll", "manage"]),
        ("/states/power", {}, ["target"]),
        ("/states/power", {"target": "power sideways"}, ["power sideways"]),
        ("/management/boot_device", {}, ["boot_device"]),
        ("/management/boot_device", {"boot_device": "pxe", "persistent": "x"}, ["persistent"]),
        ("/states/raid", {"logical_disks": "x"}, ["logical_disks"]),
        ("/states/raid", {"logical_disks": [{"size_gb": 1}]}, ["raid_level"]),
        ("/traits", {"traits": ["lower_case"]}, ["lower_case"]),
        ("/traits", {"traits": "CUSTOM_X"}, ["traits"]),
        ("/maintenance", {"reason": 5}, ["reason"]),
    ],
)
def test_node_action_bodies(
    client: Any, node: str, path: str, body: dict[str, Any], words: list[str]
) -> None:
    method = "POST" if path == "/vifs" else "PUT"
    r = client.request(method, f"/v1/nodes/n1{path}", json=body)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in fault(r), fault(r)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nodes/nope"),
        ("GET", "/v1/nodes/4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a"),
        ("PATCH", "/v1/nodes/nope"),
        ("DELETE", "/v1/nodes/nope"),
        ("GET", "/v1/nodes/nope/states"),
        ("PUT", "/v1/nodes/nope/states/provision"),
        ("GET", "/v1/nodes/nope/validate"),
        ("GET", "/v1/ports/4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a"),
        ("GET", "/v1/ports/not-a-uuid"),
        ("GET", "/v1/drivers/nope"),
        ("GET", "/v1/chassis/4b8b5c5e-8f8e-4b51-9c2a-5a3d2b1e0f7a"),
        ("GET", "/v1/no-such-collection"),
    ],
)
def test_not_found_is_404_naming_it(client: Any, method: str, path: str) -> None:
    body = [{"op": "add", "path": "/extra/x", "value": 1}] if method == "PATCH" else None
    if path.endswith("/provision"):
        body = {"target": "manage"}
    r = client.request(method, path, json=body)
    assert r.status_code == 404, r.text
    message = fault(r)
    if "no-such" not in path:
        assert path.split("/")[3] in message, message


def test_delete_active_node_is_409(client: Any) -> None:
    from tests.unit.api.test_smoke_api import wait_state

    node = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "act"}).json()["uuid"]
    for verb, state in [("manage", "manageable"), ("provide", "available"), ("active", "active")]:
        client.put("/v1/nodes/act/states/provision", json={"target": verb})
        wait_state(client, "act", state)
    r = client.delete("/v1/nodes/act")
    assert r.status_code == 409 and "active" in fault(r) and node in fault(r)


def test_wrong_method_is_405_in_ironic_body(client: Any) -> None:
    r = client.put("/v1/nodes", json={})
    assert r.status_code == 405
    fault(r)
