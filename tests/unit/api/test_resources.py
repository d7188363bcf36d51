"""CRUD and validation of the other resources: portgroups, chassis, volume connectors and
targets, deploy templates, runbooks, shards, conductors, drivers; node traits, VIFs, history."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def client(shared_client: Any) -> Any:
    return shared_client


def _fault(r: Any) -> str:
    return str(json.loads(r.json()["error_message"])["faultstring"])


def _node(client: Any, name: str) -> str:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["uuid"])


STEP = {"interface": "deploy", "step": "deploy", "args": {}}
CASES: list[tuple[str, Any, list[dict[str, Any]], str, Any, list[tuple[dict[str, Any], str]]]] = [
    # (path, create body (NODE = node uuid), patch, patched field, its value, bad bodies)
    ("chassis", {"description": "rack 1"},
     [{"op": "replace", "path": "/description", "value": "rack 2"}], "description", "rack 2",
     [({"bogus": 1}, "bogus"), ({"description": "x" * 256}, "description")]),
    ("portgroups", {"node_uuid": "NODE", "address": "52:54:00:00:aa:01", "name": "bond0",
                    "mode": "802.3ad"},
     [{"op": "add", "path": "/properties/miimon", "value": 100}], "properties", {"miimon": 100},
     [({"node_uuid": "NODE", "address": "bad-mac"}, "bad-mac"), ({"address": "52:54:00:00:aa:09"},
      "node_uuid")]),
    ("volume/connectors", {"node_uuid": "NODE", "type": "iqn",
                           "connector_id": "iqn.2024-01.org.example:n1"},
     [{"op": "add", "path": "/extra/a", "value": 1}], "extra", {"a": 1},
     [({"node_uuid": "NODE", "type": "bogus", "connector_id": "x"}, "bogus"),
      ({"node_uuid": "NODE", "type": "iqn"}, "connector_id")]),
    ("volume/targets", {"node_uuid": "NODE", "volume_type": "iscsi", "boot_index": 0,
                        "volume_id": "vol-1"},
     [{"op": "replace", "path": "/volume_id", "value": "vol-2"}], "volume_id", "vol-2",
     [({"node_uuid": "NODE", "volume_type": "iscsi", "boot_index": "first",
        "volume_id": "v"}, "boot_index")]),
    ("deploy_templates", {"name": "CUSTOM_RAID1", "steps": [{**STEP, "priority": 10}]},
     [{"op": "add", "path": "/extra/k", "value": "v"}], "extra", {"k": "v"},
     [({"name": "not_custom", "steps": [{**STEP, "priority": 1}]}, "not_custom"),
      ({"name": "CUSTOM_B", "steps": []}, "steps"),
      ({"name": "CUSTOM_C", "steps": [{**STEP, "priority": -1}]}, "priority"),
      ({"name": "CUSTOM_D", "steps": [{**STEP, "interface": "warp", "priority": 1}]},
       "interface")]),
    ("runbooks", {"name": "CUSTOM_WIPE", "steps": [{**STEP, "order": 0}]},
     [{"op": "replace", "path": "/public", "value": True}], "public", True,
     [({"name": "CUSTOM_W2", "steps": [{**STEP}]}, "order"),
      ({"name": "CUSTOM_W3"}, "steps")]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "patch", "field", "value", "bad"), CASES)
def test_crud_and_validation(
    client: Any, path: str, body: Any, patch: Any, field: str, value: Any, bad: Any
) -> None:
    node = _node(client, "crud-" + path.replace("/", "-"))
    fill = {k: (node if v == "NODE" else v) for k, v in body.items()}
    r = client.post(f"/v1/{path}", json=fill)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"].endswith(f"/v1/{path}/{created['uuid']}")
    uuid = created["uuid"]
    key = path.split("/")[-1]
    assert uuid in [o["uuid"] for o in client.get(f"/v1/{path}").json()[key]]
    assert uuid in [o["uuid"] for o in client.get(f"/v1/{path}/detail").json()[key]]
    assert client.get(f"/v1/{path}/{uuid}").json()["uuid"] == uuid
    r = client.patch(f"/v1/{path}/{uuid}", json=patch)
    assert r.status_code == 200, r.text
    assert r.json()[field] == value
    r = client.patch(f"/v1/{path}/{uuid}", json=[{"op": "add", "path": "/bogus", "value": 1}])
    assert r.status_code == 400 and "bogus" in _fault(r)
    r = client.patch(f"/v1/{path}/{uuid}", json=[{"op": "replace", "path": "/uuid", "value": "x"}])
    assert r.status_code == 400 and "uuid" in _fault(r)
    for bad_body, word in bad:
        bad_fill = {k: (node if v == "NODE" else v) for k, v in bad_body.items()}
        r = client.post(f"/v1/{path}", json=bad_fill)
        assert r.status_code == 400, (bad_body, r.text)
        assert word in _fault(r), (word, _fault(r))
    if "name" in body and path != "portgroups":
        r = client.post(f"/v1/{path}", json=fill)
        assert r.status_code == 409 and body["name"] in _fault(r)
    assert client.delete(f"/v1/{path}/{uuid}").status_code == 204
    assert client.get(f"/v1/{path}/{uuid}").status_code == 404


def test_chassis_holds_nodes(client: Any) -> None:
    chassis = client.post("/v1/chassis", json={"description": "c"}).json()["uuid"]
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "chassis_uuid": chassis})
    assert r.status_code == 201 and r.json()["chassis_uuid"] == chassis
    nodes = client.get(f"/v1/chassis/{chassis}/nodes").json()["nodes"]
    assert [n["uuid"] for n in nodes] == [r.json()["uuid"]]
    deleted = client.delete(f"/v1/chassis/{chassis}")
    assert deleted.status_code == 409 and chassis in _fault(deleted)


def test_port_joins_portgroup_of_its_own_node_only(client: Any) -> None:
    a, b = _node(client, "pg-a"), _node(client, "pg-b")
    pg = client.post("/v1/portgroups", json={"node_uuid": a, "name": "bond-a"}).json()["uuid"]
    r = client.post("/v1/ports", json={"node_uuid": b, "address": "52:54:00:00:bb:01",
                                        "portgroup_uuid": pg})  # fmt: skip
    assert r.status_code == 400 and pg in _fault(r)
    r = client.post("/v1/ports", json={"node_uuid": a, "address": "52:54:00:00:bb:02",
                                        "portgroup_uuid": pg})  # fmt: skip
    assert r.status_code == 201 and r.json()["portgroup_uuid"] == pg
    assert client.get(f"/v1/portgroups/{pg}/ports").json()["ports"][0]["uuid"] == r.json()["uuid"]
    assert client.delete(f"/v1/portgroups/{pg}").status_code == 409


def test_traits(client: Any) -> None:
    _node(client, "tr1")
    assert (
        client.put(
            "/v1/nodes/tr1/traits", json={"traits": ["CUSTOM_A", "HW_CPU_X86_VMX"]}
        ).status_code
        == 204
    )
    assert client.put("/v1/nodes/tr1/traits/CUSTOM_B").status_code == 204
    assert client.get("/v1/nodes/tr1/traits").json() == {
        "traits": ["CUSTOM_A", "CUSTOM_B", "HW_CPU_X86_VMX"]
    }
    assert client.get("/v1/nodes/tr1").json()["traits"] == [
        "CUSTOM_A",
        "CUSTOM_B",
        "HW_CPU_X86_VMX",
    ]
    assert client.delete("/v1/nodes/tr1/traits/CUSTOM_A").status_code == 204
    r = client.delete("/v1/nodes/tr1/traits/CUSTOM_A")
    assert r.status_code == 404 and "CUSTOM_A" in _fault(r)
    r = client.put("/v1/nodes/tr1/traits/lower")
    assert r.status_code == 400 and "lower" in _fault(r)
    r = client.put("/v1/nodes/tr1/traits", json={"traits": [f"CUSTOM_{i}" for i in range(51)]})
    assert r.status_code == 400
    assert client.delete("/v1/nodes/tr1/traits").status_code == 204
    assert client.get("/v1/nodes/tr1/traits").json() == {"traits": []}


def test_vifs(client: Any) -> None:
    node = _node(client, "vif1")
    r = client.post("/v1/nodes/vif1/vifs", json={"id": "vif-a"})
    assert r.status_code == 409 and "port" in _fault(r)
    client.post("/v1/ports", json={"node_uuid": node, "address": "52:54:00:00:cc:01"})
    assert client.post("/v1/nodes/vif1/vifs", json={"id": "vif-a"}).status_code == 204
    assert client.get("/v1/nodes/vif1/vifs").json() == {"vifs": [{"id": "vif-a"}]}
    r = client.post("/v1/nodes/vif1/vifs", json={"id": "vif-a"})
    assert r.status_code == 409 and "vif-a" in _fault(r)
    assert client.delete("/v1/nodes/vif1/vifs/vif-a").status_code == 204
    r = client.delete("/v1/nodes/vif1/vifs/vif-a")
    assert r.status_code == 404 and "vif-a" in _fault(r)


def test_history_and_one_event(client: Any) -> None:
    _node(client, "hist1")
    client.put("/v1/nodes/hist1/maintenance", json={"reason": "why"})
    events = client.get("/v1/nodes/hist1/history").json()["history"]
    assert [e["event"] for e in events][:2] == ["Node created", "Maintenance set: why"]
    assert set(events[0]) == {"uuid", "created_at", "severity", "event", "links"}
    detail = client.get("/v1/nodes/hist1/history?detail=true").json()["history"][1]
    assert {"conductor", "event_type", "user"} <= set(detail)
    one = client.get(f"/v1/nodes/hist1/history/{events[1]['uuid']}").json()
    assert one["event"] == "Maintenance set: why"
    assert client.get("/v1/nodes/hist1/history/nope").status_code == 404


def test_drivers_conductors_shards(client: Any) -> None:
    drivers = client.get("/v1/drivers").json()["drivers"]
    names = [d["name"] for d in drivers]
    assert "fake-hardware" in names and "ipmi" in names
    fake = client.get("/v1/drivers/fake-hardware").json()
    assert fake["name"] == "fake-hardware" and fake["hosts"]
    assert "fake" in fake["enabled_power_interfaces"]
    props = client.get("/v1/drivers/ipmi/properties").json()
    assert "ipmi_address" in props
    conductors = client.get("/v1/conductors").json()["conductors"]
    assert conductors and conductors[0]["alive"] is True
    one = client.get(f"/v1/conductors/{conductors[0]['hostname']}").json()
    assert "fake-hardware" in one["drivers"]
    client.post("/v1/nodes", json={"driver": "fake-hardware", "shard": "s1"})
    shards = client.get("/v1/shards").json()["shards"]
    assert {"name": "s1", "count": 1} in [{"name": s["name"], "count": s["count"]} for s in shards]
