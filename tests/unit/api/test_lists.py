"""Node and port lists: paging with next links, sorting, fields=, detail= and filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.api.test_smoke_api import wait_state

COUNT = 25


@pytest.fixture(scope="module")
def fleet(shared_client: Any) -> list[str]:
    """25 nodes with varied attributes; n00 is manageable, n01 in maintenance."""
    c = shared_client
    uuids = []
    for i in range(COUNT):
        body = {
            "driver": "fake-hardware" if i % 5 else "ipmi", "name": f"n{i:02d}",
            "resource_class": "big" if i % 2 else "small", "conductor_group": "",
            "owner": "team-a" if i < 10 else "team-b", "description": f"rack {i % 3}",
        }  # fmt: skip
        r = c.post("/v1/nodes", json=body)
        assert r.status_code == 201, r.text
        uuids.append(r.json()["uuid"])
    c.put("/v1/nodes/n01/maintenance", json={"reason": "x"})
    c.put("/v1/nodes/n03/states/provision", json={"target": "manage"})
    wait_state(c, "n03", "manageable")
    r = c.post("/v1/ports", json={"node_uuid": uuids[3], "address": "52:54:00:00:03:01"})
    assert r.status_code == 201
    return uuids


@pytest.fixture
def client(shared_client: Any, fleet: list[str]) -> Any:
    return shared_client


def _walk(client: Any, url: str) -> tuple[list[dict[str, Any]], int]:
    """Follow next links from ``url``; the items and the number of pages."""
    items, pages = [], 0
    while url:
        body = client.get(url).json()
        items += body["nodes"]
        pages += 1
        url = body.get("next", "")
        assert pages <= COUNT + 1
    return items, pages


@pytest.mark.parametrize("limit", [1, 7, 10, 25])
def test_next_links_cover_every_node_once(client: Any, fleet: list[str], limit: int) -> None:
    items, pages = _walk(client, f"/v1/nodes?limit={limit}")
    assert [n["uuid"] for n in items] == fleet
    assert pages == -(-COUNT // limit) + (1 if COUNT % limit == 0 else 0)


def test_next_link_carries_sort_filters_and_fields(client: Any, fleet: list[str]) -> None:
    body = client.get(
        "/v1/nodes?limit=3&sort_key=name&sort_dir=desc&resource_class=big&fields=name"
    ).json()
    assert [n["name"] for n in body["nodes"]] == ["n23", "n21", "n19"]
    assert set(body["nodes"][0]) == {"uuid", "name", "links"}
    query = parse_qs(urlsplit(body["next"]).query)
    assert query["marker"] == [body["nodes"][-1]["uuid"]]
    assert query["sort_key"] == ["name"] and query["sort_dir"] == ["desc"]
    assert query["resource_class"] == ["big"] and query["limit"] == ["3"]
    items, _ = _walk(client, body["next"])
    assert [n["name"] for n in items][:2] == ["n17", "n15"]
    assert all(int(n["name"][1:]) % 2 for n in items)


def test_limit_zero_and_max_limit(client: Any, fleet: list[str]) -> None:
    assert len(client.get("/v1/nodes?limit=0").json()["nodes"]) == COUNT
    assert "next" not in client.get("/v1/nodes?limit=0").json()
    settings = client.app.state.services.settings
    saved = settings.api.max_limit
    settings.api.max_limit = 10
    try:
        body = client.get("/v1/nodes?limit=1000").json()
        assert len(body["nodes"]) == 10 and "next" in body
    finally:
        settings.api.max_limit = saved


@pytest.mark.parametrize("key", ["name", "created_at", "provision_state", "driver", "uuid"])
def test_sort_keys(client: Any, fleet: list[str], key: str) -> None:
    nodes = client.get(f"/v1/nodes/detail?sort_key={key}&sort_dir=desc").json()["nodes"]
    values = [n[key] for n in nodes]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("provision_state=manageable", ["n03"]),
        ("maintenance=true", ["n01"]),
        ("maintenance=false&owner=team-a&resource_class=small",
         ["n00", "n02", "n04", "n06", "n08"]),
        ("driver=ipmi", ["n00", "n05", "n10", "n15", "n20"]),
        ("resource_class=big&owner=team-b&driver=ipmi", ["n15"]),
        ("description_contains=rack 2&owner=team-a", ["n02", "n05", "n08"]),
        ("associated=true", []),
        ("conductor_group=&driver=ipmi&limit=2", ["n00", "n05"]),
    ],
)  # fmt: skip
def test_filters(client: Any, fleet: list[str], query: str, names: list[str]) -> None:
    got = [n["name"] for n in client.get(f"/v1/nodes?{query}").json()["nodes"]]
    assert got == names


def test_list_shapes_fields_and_detail(client: Any, fleet: list[str]) -> None:
    short = client.get("/v1/nodes?limit=1").json()["nodes"][0]
    assert set(short) == {"uuid", "name", "instance_uuid", "power_state", "provision_state",
                          "maintenance", "links"}  # fmt: skip
    detail = client.get("/v1/nodes?limit=1&detail=true").json()["nodes"][0]
    assert detail == client.get("/v1/nodes/detail?limit=1").json()["nodes"][0]
    assert "driver_info" in detail and "properties" in detail
    picked = client.get("/v1/nodes?limit=1&fields=driver,owner").json()["nodes"][0]
    assert set(picked) == {"uuid", "driver", "owner", "links"}
    one = client.get("/v1/nodes/n03?fields=provision_state").json()
    assert one["provision_state"] == "manageable" and "driver" not in one
    assert client.get("/v1/nodes/detail?detail=true").status_code == 400
    assert client.get("/v1/nodes/detail?fields=name").status_code == 400


def test_node_by_name_or_uuid_and_sub_lists(client: Any, fleet: list[str]) -> None:
    assert client.get(f"/v1/nodes/{fleet[3]}").json()["name"] == "n03"
    ports = client.get("/v1/nodes/n03/ports").json()["ports"]
    assert [p["address"] for p in ports] == ["52:54:00:00:03:01"]
    assert set(ports[0]) == {"uuid", "address", "links"}
    detail = client.get(f"/v1/nodes/{fleet[3]}/ports/detail").json()["ports"]
    assert detail[0]["node_uuid"] == fleet[3]
    assert client.get("/v1/ports?node=n03").json()["ports"][0]["uuid"] == ports[0]["uuid"]
    assert client.get("/v1/ports?address=52:54:00:00:03:01").json()["ports"] == ports
    assert client.get("/v1/ports?node=n04").json()["ports"] == []


def test_location_headers_point_at_the_new_resource(client: Any, fleet: list[str]) -> None:
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "loc"})
    assert r.headers["location"] == f"http://testserver/v1/nodes/{r.json()['uuid']}"
    assert client.get(r.headers["location"]).json()["name"] == "loc"
    r = client.post("/v1/ports", json={"node_uuid": "loc", "address": "52:54:00:00:99:01"})
    assert r.status_code == 201, r.text
    assert client.get(r.headers["location"]).json()["address"] == "52:54:00:00:99:01"
    r = client.post("/v1/chassis", json={"description": "c"})
    assert client.get(r.headers["location"]).json()["description"] == "c"
