"""GET /v1/nodes[/detail] writes stored JSON text as it is and masks only what could be a
secret (routes/nodes.py ``_list_items``): its items must still be what GET /v1/nodes/{ident}
shows, for values that the shortcuts could get wrong."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ingot.api.routes import nodes as node_routes
from ingot.db import models
from ingot.db.queries import get_node
from ingot.settings import IngotSettings, load_settings

TRICKY = [
    {"driver_info": {"ipmi_address": "10.0.0.1", "port": 623}, "extra": {"big": 2**70}},
    {"driver_info": {"ipmi_address": "a", "nested": {"api_token": "t", "keep": "k"}}},
    {"driver_info": {"ssh_\u212aey": "spelled with a Kelvin sign", "n": 1}},
    {"driver_info": {"ipmi_password": "p", "big": 2**70, "f": 1e16},
     "extra": {"é": "ü\u2028"}, "properties": {"cpus": 4, "f": 1.5}},
    {"driver_info": {"ipmi_password": "", "password_hint": None}, "instance_info": {"x": [1]}},
    {"driver_info": {"note": "a password is not a key"}, "description": "quote \" and \\ "},
]  # fmt: skip
# Stored NaN and Infinity (json.dumps writes them, json.loads reads them; the API's show
# and create cannot answer with them, but the list has always written them as NaN).
NOT_FINITE = {
    "driver_info": {"ipmi_password": "p", "inf": math.inf, "nan": math.nan},
    "extra": {"nan": math.nan, "ninf": -math.inf},
}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> IngotSettings:
    """``client`` on each database engine: PostgreSQL's driver decodes JSON columns itself,
    so the list takes the decoded-value side of each shortcut there."""
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        database={"connection": db_url},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
    )


def canonical(value: Any) -> str:
    """Comparable text: NaN != NaN, but json.dumps writes both the same."""
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def tricky_nodes(client: Any) -> list[str]:
    chassis = client.post("/v1/chassis", json={"description": "c"}).json()["uuid"]
    uuids = []
    for i, body in enumerate(TRICKY):
        body = {"driver": "fake-hardware", "name": f"tricky{i}", **body}
        if i == 1:
            body["chassis_uuid"] = chassis
        r = client.post("/v1/nodes", json=body)
        assert r.status_code == 201, r.text
        uuids.append(r.json()["uuid"])
    assert client.put(f"/v1/nodes/{uuids[0]}/traits/CUSTOM_A").status_code == 204
    return uuids


@pytest.mark.parametrize("version", ["latest", "1.1", "1.37"])
def test_list_items_equal_show(client: Any, tricky_nodes: list[str], version: str) -> None:
    headers = {"X-OpenStack-Ironic-API-Version": version}
    listed = client.get("/v1/nodes/detail", headers=headers).json()["nodes"]
    assert [n["uuid"] for n in listed] == tricky_nodes
    for item in listed:
        shown = client.get(f"/v1/nodes/{item['uuid']}", headers=headers).json()
        assert canonical(item) == canonical(shown)


def test_list_masks_what_could_be_secret(client: Any, tricky_nodes: list[str]) -> None:
    listed = client.get("/v1/nodes/detail").json()["nodes"]
    assert listed[0]["traits"] == ["CUSTOM_A"] and listed[1]["chassis_uuid"]
    assert listed[0]["extra"] == {"big": 2**70}
    assert listed[1]["driver_info"]["nested"] == {"api_token": "******", "keep": "k"}
    assert listed[2]["driver_info"]["ssh_\u212aey"] == "******"
    info = listed[3]["driver_info"]
    assert info == {"ipmi_password": "******", "big": 2**70, "f": 1e16}
    assert listed[4]["driver_info"] == {"ipmi_password": "", "password_hint": None}
    assert listed[5]["driver_info"] == {"note": "a password is not a key"}


def test_fields_and_short_list_equal_show(client: Any, tricky_nodes: list[str]) -> None:
    fields = "name,driver_info,extra,created_at,conductor,chassis_uuid,traits,ports"
    listed = client.get(f"/v1/nodes?fields={fields}").json()["nodes"]
    for item in listed:
        shown = client.get(f"/v1/nodes/{item['uuid']}?fields={fields}").json()
        assert canonical(item) == canonical(shown)
    short = client.get("/v1/nodes").json()["nodes"]
    assert list(short[0]) == ["uuid", "instance_uuid", "maintenance", "name", "power_state",
                              "provision_state", "links"]  # fmt: skip


def test_conductor_field_is_owner_of(app_services: Any, client: Any) -> None:
    services = app_services[0]
    for name, group in (("own1", ""), ("own2", "NoSuchGroup")):
        body = {"driver": "fake-hardware", "name": name, "conductor_group": group}
        assert client.post("/v1/nodes", json=body).status_code == 201
    listed = {n["name"]: n for n in client.get("/v1/nodes/detail").json()["nodes"]}
    for name in ("own1", "own2"):
        with services.db.read() as session:
            expected = services.conductor.owner_of(get_node(session, name))
        assert listed[name]["conductor"] == expected
    assert listed["own1"]["conductor"] is not None and listed["own2"]["conductor"] is None


def plain_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the list take its fallback: plain values written by pydantic-core, as before
    orjson (on PostgreSQL it is taken when orjson refuses an integer past 64 bits)."""

    def refuse(content: Any) -> bytes:
        raise TypeError("Integer exceeds 64-bit range")

    monkeypatch.setattr(node_routes, "json_bytes", refuse)


def test_fast_and_plain_paths_write_the_same(
    app_services: Any, client: Any, tricky_nodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = app_services[0]
    if services.db.is_sqlite:  # PostgreSQL's JSON has no NaN
        N = models.Node
        services.db.run_write(
            lambda s: s.execute(update(N).where(N.name == "tricky1").values(**NOT_FINITE))
        )
    fast = client.get("/v1/nodes/detail")
    short = client.get("/v1/nodes?fields=uuid,driver_info,extra,links&limit=3")
    plain_path(monkeypatch)
    assert canonical(client.get("/v1/nodes/detail").json()) == canonical(fast.json())
    plain = client.get("/v1/nodes?fields=uuid,driver_info,extra,links&limit=3")
    assert canonical(plain.json()) == canonical(short.json())
    if services.db.is_sqlite:
        assert b"NaN" in fast.content and b"Infinity" in fast.content
        node = fast.json()["nodes"][1]
        assert node["driver_info"]["ipmi_password"] == "******"
        assert math.isnan(node["extra"]["nan"]) and node["extra"]["ninf"] == -math.inf


@pytest.mark.parametrize("chunk", [1, 4, 6])
def test_page_written_in_chunks_is_one_list(
    client: Any, tricky_nodes: list[str], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """6 nodes written 1, 4 (4 + 2) or 6 at a time: the same items, in order, once each."""
    whole = client.get("/v1/nodes/detail").json()
    monkeypatch.setattr(node_routes, "_CHUNK", chunk)
    chunked = client.get("/v1/nodes/detail").json()
    assert [n["uuid"] for n in chunked["nodes"]] == tricky_nodes
    assert canonical(chunked) == canonical(whole)
    paged = client.get("/v1/nodes/detail?limit=4").json()
    assert [n["uuid"] for n in paged["nodes"]] == tricky_nodes[:4]
    assert paged["next"].endswith(f"marker={tricky_nodes[3]}")
