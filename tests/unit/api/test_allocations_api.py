"""The allocation API: matching, readable failures, races, backfill, freeing, validation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from ingot.db import models

Make = Callable[..., dict[str, Any]]


@pytest.fixture
def make_node(client: Any, app_services: Any) -> Make:
    """Create a fake-hardware node and put it straight into the wanted state in the DB."""
    services = app_services[0]

    def make(name: str, *, traits: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
        body = {"name": name, "driver": "fake-hardware", "resource_class": "baremetal"}
        for key in ("resource_class", "properties", "owner"):
            if key in fields:
                body[key] = fields.pop(key)
        node = client.post("/v1/nodes", json=body).json()
        values = {"provision_state": "available", "power_state": "power off", **fields}
        with services.db.write() as session:
            session.execute(
                update(models.Node).where(models.Node.uuid == node["uuid"]).values(**values)
            )
        for trait in traits:
            assert client.put(f"/v1/nodes/{name}/traits/{trait}").status_code == 204
        return node

    return make


def fault(response: Any) -> str:
    """The faultstring of an Ironic error body."""
    return str(json.loads(response.json()["error_message"])["faultstring"])


def allocate(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_allocation_claims_the_matching_node(client: Any, make_node: Make) -> None:
    make_node("ctl-0", properties={"capabilities": "profile:control"})
    cmp = make_node("cmp-0", traits=("CUSTOM_GPU",),
                    properties={"capabilities": "profile:compute,boot_mode:uefi"})  # fmt: skip
    alloc = allocate(client, name="cmp-0", resource_class="baremetal", traits=["CUSTOM_GPU"],
                     capabilities={"profile": "compute"}, extra={"role": "compute"})  # fmt: skip
    assert alloc["state"] == "active" and alloc["last_error"] is None
    assert alloc["node_uuid"] == cmp["uuid"]
    node = client.get("/v1/nodes/cmp-0").json()
    assert node["instance_uuid"] == alloc["uuid"] == node["allocation_uuid"]
    assert client.get("/v1/nodes/cmp-0/allocation").json()["uuid"] == alloc["uuid"]
    assert client.get(f"/v1/allocations/{alloc['name']}").json()["extra"] == {"role": "compute"}
    listed = client.get("/v1/allocations", params={"node": "cmp-0"}).json()["allocations"]
    assert [a["uuid"] for a in listed] == [alloc["uuid"]]


def test_unsatisfiable_allocation_names_each_node_and_criterion(
    client: Any, make_node: Make
) -> None:
    make_node("a", resource_class="gold")
    make_node("b", maintenance=True, maintenance_reason="fan broken")
    make_node("c", properties={"capabilities": "profile:control"})
    make_node("d", provision_state="manageable")
    make_node("e", fault="power failure")
    alloc = allocate(client, resource_class="baremetal", capabilities={"profile": "compute"})
    assert alloc["state"] == "error" and alloc["node_uuid"] is None
    error = alloc["last_error"]
    for expected in (
        "a: wrong resource class (gold != baremetal)",
        "b: in maintenance (fan broken)",
        "c: capability mismatch: profile=control (wanted compute)",
        "d: not available (state manageable)",
        "e: power sync failed (fault: power failure)",
    ):
        assert expected in error


def test_owner_and_candidate_nodes_restrict(client: Any, make_node: Make) -> None:
    make_node("mine", owner="p1")
    make_node("theirs", owner="p2")
    alloc = allocate(client, resource_class="baremetal", owner="p2", candidate_nodes=["mine"])
    assert alloc["state"] == "error"
    assert "mine: owned by another project (p1)" in alloc["last_error"]
    assert "theirs" not in alloc["last_error"]
    assert alloc["candidate_nodes"] == [client.get("/v1/nodes/mine").json()["uuid"]]


def test_two_allocations_racing_for_one_node(client: Any, make_node: Make) -> None:
    node = make_node("only")
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(allocate(client, resource_class="baremetal"))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r["state"] == "active"]
    assert len(winners) == 1 and winners[0]["node_uuid"] == node["uuid"]
    for loser in (r for r in results if r["state"] != "active"):
        assert "already allocated" in loser["last_error"]


def test_delete_frees_the_node_for_the_next_allocation(client: Any, make_node: Make) -> None:
    make_node("n1")
    first = allocate(client, resource_class="baremetal", name="first")
    assert client.delete("/v1/allocations/first").status_code == 204
    node = client.get("/v1/nodes/n1").json()
    assert node["instance_uuid"] is None and node["allocation_uuid"] is None
    second = allocate(client, resource_class="baremetal")
    assert second["state"] == "active" and second["node_uuid"] == first["node_uuid"]
    assert client.delete("/v1/nodes/n1/allocation").status_code == 204
    assert client.get("/v1/nodes/n1/allocation").status_code == 404


def test_delete_refused_while_node_active(client: Any, make_node: Make, app_services: Any) -> None:
    make_node("n1")
    allocate(client, resource_class="baremetal", name="a1")
    with app_services[0].db.write() as session:
        session.execute(update(models.Node).values(provision_state="active"))
    response = client.delete("/v1/allocations/a1")
    assert response.status_code == 400
    assert "because the node is active" in fault(response)


def test_backfill_active_node_takes_its_instance_uuid(client: Any, make_node: Make) -> None:
    instance = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
    make_node("deployed", provision_state="active", instance_uuid=instance)
    alloc = allocate(client, node="deployed", name="deployed")
    assert alloc["uuid"] == instance and alloc["state"] == "active"
    assert alloc["resource_class"] == "baremetal"
    assert client.get("/v1/nodes/deployed").json()["allocation_uuid"] == instance


@pytest.mark.parametrize(
    ("node_fields", "body", "status", "message"),
    [
        ({}, {"node": "n1"}, 400, 'the node must be "active"'),
        ({"provision_state": "active"}, {"node": "n1", "resource_class": "gold"}, 400,
         "wrong resource class"),
        ({"provision_state": "active"}, {"node": "nope"}, 400, "Node nope could not be found"),
    ],
)  # fmt: skip
def test_backfill_refusals(
    client: Any, make_node: Make, node_fields: dict[str, Any], body: dict[str, Any],
    status: int, message: str,
) -> None:  # fmt: skip
    make_node("n1", **node_fields)
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == status and message in fault(response)
    assert client.get("/v1/allocations").json()["allocations"] == []


def test_patch_name_and_extra_only(client: Any, make_node: Make) -> None:
    make_node("n1")
    alloc = allocate(client, resource_class="baremetal", name="old")
    patch = [{"op": "replace", "path": "/name", "value": "new"},
             {"op": "add", "path": "/extra/k", "value": "v"}]  # fmt: skip
    updated = client.patch(f"/v1/allocations/{alloc['uuid']}", json=patch).json()
    assert updated["name"] == "new" and updated["extra"] == {"k": "v"}
    bad = client.patch("/v1/allocations/new", json=[
        {"op": "replace", "path": "/resource_class", "value": "x"}])  # fmt: skip
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "resource_class field is mandatory"),
        ({"resource_class": "baremetal", "traits": ["gpu"]}, 400, "Invalid trait"),
        ({"resource_class": "baremetal", "bogus": 1}, 400, "'bogus' was unexpected"),
        ({"resource_class": "baremetal", "candidate_nodes": ["ghost"]}, 400,
         "Candidate node(s) not found: ghost"),
        ({"resource_class": "baremetal", "name": "bad name"}, 400, "allocation name"),
        ({"resource_class": "baremetal", "capabilities": {"profile": ["x"]}}, 400,
         "must be strings"),
        ([], 400, "must be a JSON object"),
    ],
)  # fmt: skip
def test_create_validation(client: Any, body: Any, status: int, message: str) -> None:
    response = client.post("/v1/allocations", json=body)
    assert response.status_code == status, response.text
    assert message in fault(response)


def test_duplicate_name_conflicts(client: Any, make_node: Make) -> None:
    make_node("n1")
    allocate(client, resource_class="baremetal", name="dup")
    response = client.post("/v1/allocations", json={"resource_class": "baremetal", "name": "dup"})
    assert response.status_code == 409


def test_old_microversion_has_no_allocations(client: Any) -> None:
    headers = {"X-OpenStack-Ironic-API-Version": "1.51"}
    assert client.get("/v1/allocations", headers=headers).status_code == 404
    node = client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()
    assert "allocation_uuid" not in client.get(f"/v1/nodes/{node['uuid']}", headers=headers).json()


def test_explain_endpoint_lists_reasons_without_allocating(client: Any, make_node: Make) -> None:
    make_node("good", traits=("CUSTOM_GPU",))
    make_node("plain")
    result = client.get("/v1/ingot/explain", params=[("resource_class", "baremetal"),
                                                     ("trait", "CUSTOM_GPU")]).json()  # fmt: skip
    by_name = {n["name"]: n for n in result["nodes"]}
    assert by_name["good"]["eligible"] and by_name["good"]["reasons"] == []
    assert by_name["plain"]["reasons"] == ["missing trait CUSTOM_GPU"]
    assert result["message"] is None
    assert client.get("/v1/allocations").json()["allocations"] == []
    none = client.get("/v1/ingot/explain", params={"resource_class": "gold"}).json()
    assert none["eligible"] == [] and "wrong resource class" in none["message"]
