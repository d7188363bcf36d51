"""API -> owner routing over JSON-RPC: two conductors and an API-only app on one database."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingot.app_runtime import api_only, build_services, running_conductor
from ingot.conductor import jsonrpc
from ingot.conductor.hashring import NoConductorAlive
from ingot.conductor.jsonrpc import (
    ConductorUnreachable,
    RemoteError,
    RpcClient,
    RpcServer,
    decode_error,
    encode_error,
)
from ingot.conductor.ring import RingCache
from ingot.conductor.rpc import WrongConductor, dispatch
from ingot.db import locks, models
from ingot.errors import IngotError, InvalidInput, InvalidState, NodeLocked, NotFound
from ingot.settings import IngotSettings, load_settings
from tests.unit.api.test_smoke_api import wait_state

LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}

ERRORS: list[tuple[BaseException, type[BaseException], int]] = [
    (NodeLocked("n-1", "c9"), NodeLocked, 409),
    (InvalidState("Node n-1 is in state enroll; manage it first."), InvalidState, 400),
    (NotFound("Node n-2 could not be found."), NotFound, 404),
    (InvalidInput("Bad 'target'."), InvalidInput, 400),
    (NoConductorAlive("no conductor in group x"), NoConductorAlive, 400),
    (ValueError("boom"), RemoteError, 500),
]


@pytest.mark.parametrize(("raised", "cls", "status"), ERRORS)
def test_conductor_errors_come_back_with_class_status_and_message(
    raised: BaseException, cls: type[BaseException], status: int
) -> None:
    def fail(_params: dict[str, Any]) -> None:
        raise raised

    server = RpcServer({"fail": fail, "echo": lambda p: p})
    client = RpcClient(timeout=5)
    try:
        assert client.call(server.url, "echo", {"a": [1]}) == {"a": [1]}
        with pytest.raises(cls) as caught:
            client.call(server.url, "fail", {})
        assert isinstance(caught.value, IngotError)
        assert caught.value.status == status
        assert str(raised) in caught.value.message
        if isinstance(raised, NodeLocked):
            assert (caught.value.node, caught.value.holder) == ("n-1", "c9")  # type: ignore[attr-defined]
    finally:
        client.close()
        server.stop()


def test_a_call_is_not_held_back_by_nagle_and_delayed_ack() -> None:
    """The answer's body must not wait for the caller's delayed ACK (40 ms a call with Nagle).

    30 calls take about 30 ms on this machine; with Nagle on the server they took 1.4 s.
    """
    server = RpcServer({"echo": lambda p: p})
    client = RpcClient(timeout=5)
    try:
        client.call(server.url, "echo", {})
        started = time.monotonic()
        for i in range(30):
            assert client.call(server.url, "echo", {"i": i}) == {"i": i}
        assert time.monotonic() - started < 0.9
    finally:
        client.close()
        server.stop()


def test_a_keep_alive_connection_the_conductor_dropped_is_replaced_before_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server closes idle connections (60 s); the next call must not fail on the old one."""
    monkeypatch.setattr(jsonrpc._RequestHandler, "timeout", 0.2)
    server = RpcServer({"echo": lambda p: p})
    client = RpcClient(timeout=5)
    try:
        assert client.call(server.url, "echo", {"n": 1}) == {"n": 1}
        time.sleep(0.6)  # the server has dropped the idle connection by now
        assert client.call(server.url, "echo", {"n": 2}) == {"n": 2}
    finally:
        client.close()
        server.stop()


def test_unknown_error_class_keeps_status() -> None:
    error = encode_error(InvalidState("x"))
    error["data"]["class"] = "elsewhere.Gone"
    decoded = decode_error(error)
    assert type(decoded) is RemoteError and decoded.status == 400 and decoded.message == "x"


def test_closed_port_is_unreachable() -> None:
    server = RpcServer({})
    url = server.url
    server.stop()
    client = RpcClient(timeout=2)
    with pytest.raises(ConductorUnreachable, match="did not answer"):
        client.call(url, "ping", {})
    client.close()


# --- a cluster in one process: two conductors (own services, one SQLite file) + an API ------


def _settings(tmp_path: Path, name: str) -> IngotSettings:
    return load_settings(
        default={"state_dir": tmp_path / name},
        database={"connection": f"sqlite:///{tmp_path / 'shared.sqlite'}"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0,
                   "heartbeat_interval": 0.5, "heartbeat_timeout": 30},
    )  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with contextlib.ExitStack() as stack:
        conductors = {}
        for name in ("c1", "c2"):
            services = build_services(_settings(tmp_path, name))
            stack.callback(services.db.dispose)
            conductors[name] = stack.enter_context(running_conductor(services, hostname=name))
        _services, app = stack.enter_context(api_only(_settings(tmp_path, "api")))
        yield stack.enter_context(TestClient(app, headers=LATEST)), conductors


def _enroll(client: TestClient, count: int) -> list[dict[str, Any]]:
    for i in range(count):
        r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": f"n{i}"})
        assert r.status_code == 201, r.text
    return list(client.get("/v1/nodes?fields=name,uuid,conductor").json()["nodes"])


def _fault(r: Any) -> str:
    return str(json.loads(r.json()["error_message"])["faultstring"])


def test_api_sends_each_node_to_its_owner(cluster: tuple[TestClient, dict[str, Any]]) -> None:
    client, _conductors = cluster
    nodes = _enroll(client, 12)
    owners = {n["name"]: n["conductor"] for n in nodes}
    assert set(owners.values()) == {"c1", "c2"}, owners
    for name in owners:
        assert client.put(f"/v1/nodes/{name}/states/provision",
                          json={"target": "manage"}).status_code == 202  # fmt: skip
    for name, owner in owners.items():
        wait_state(client, name, "manageable")
        events = client.get(f"/v1/nodes/{name}/history?detail=true").json()["history"]
        actors = {e["conductor"] for e in events if e["event_type"] != "create"}
        assert actors == {owner}, (name, events)
    listed = client.get("/v1/nodes?conductor=c2&fields=name").json()["nodes"]
    assert {n["name"] for n in listed} == {n for n, o in owners.items() if o == "c2"}
    assert client.get("/v1/nodes/n0/validate").status_code == 200
    r = client.put("/v1/nodes/n0/management/boot_device", json={"boot_device": "pxe"})
    assert r.status_code == 204, r.text
    assert client.get("/v1/nodes/n0/management/boot_device").json()["boot_device"] == "pxe"


def test_conductor_errors_reach_the_api_client(cluster: tuple[TestClient, dict[str, Any]]) -> None:
    client, conductors = cluster
    _enroll(client, 1)
    r = client.put("/v1/nodes/n0/states/provision", json={"target": "active"})
    assert r.status_code == 400 and "enroll" in _fault(r), r.text
    services = next(iter(conductors.values())).services
    with services.db.read() as session:
        node_id = session.query(models.Node.id).filter_by(name="n0").scalar()
    locks.reserve(services.db, node_id, "someone-else")
    r = client.put("/v1/nodes/n0/states/provision", json={"target": "manage"})
    assert r.status_code == 409 and "locked by host someone-else" in _fault(r), r.text
    r = client.put("/v1/nodes/n0/states/power", json={"target": "sideways"})
    assert r.status_code == 400 and "sideways" in _fault(r)


def test_non_owner_refuses_work(cluster: tuple[TestClient, dict[str, Any]]) -> None:
    client, conductors = cluster
    nodes = _enroll(client, 6)
    node = next(n for n in nodes if n["conductor"] == "c1")
    with pytest.raises(WrongConductor, match="does not own"):
        dispatch(conductors["c2"], "provision", {"node": node["uuid"], "verb": "manage",
                                                 "args": {}})  # fmt: skip


def test_no_conductor_alive_is_a_clear_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "api")
    with api_only(settings, migrate_schema=True) as (_s, app), TestClient(app, headers=LATEST) as c:
        _enroll(c, 1)
        assert c.get("/v1/nodes/n0").json()["conductor"] is None
        r = c.put("/v1/nodes/n0/states/provision", json={"target": "manage"})
        assert r.status_code == 400 and "no conductor is alive" in _fault(r)


# --- ring refresh ---------------------------------------------------------------------------


def _register(services: Any, host: str, age: float, group: str = "") -> None:
    def write(session: Any) -> None:
        session.add(models.Conductor(
            hostname=host, conductor_group=group, online=True, drivers=["fake-hardware"],
            rpc_url=f"http://127.0.0.1:9/{host}",
            heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age),
        ))  # fmt: skip

    services.db.run_write(write)


def test_ring_holds_only_conductors_that_heartbeat_in_time(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, "x"))
    try:
        _register(services, "fresh", 1)
        _register(services, "late", 60)
        _register(services, "other-group", 1, group="rack2")
        cache = RingCache(services.db, heartbeat_timeout=30, partition_exponent=5, max_age=3600)
        view = cache.get()
        assert view.hosts == {"fresh", "other-group"}
        assert view.owner("11111111-2222-3333-4444-555555555555", "") == "fresh"
        assert view.owner("11111111-2222-3333-4444-555555555555", "RACK2") == "other-group"
        with pytest.raises(NoConductorAlive, match="rack3"):
            view.owner("11111111-2222-3333-4444-555555555555", "rack3")
        _register(services, "newcomer", 0)
        assert cache.get() is view  # cached until max_age ...
        assert "newcomer" in cache.refresh().hosts  # ... or a forced refresh
    finally:
        services.db.dispose()


def test_ring_moves_only_the_leavers_nodes(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, "x"))
    try:
        for host in ("a", "b", "c"):
            _register(services, host, 0)
        cache = RingCache(services.db, heartbeat_timeout=30, partition_exponent=5, max_age=0)
        keys = [f"00000000-0000-0000-0000-{i:012d}" for i in range(300)]
        before = {k: cache.get().owner(k, "") for k in keys}
        assert set(before.values()) == {"a", "b", "c"}

        def stop_b(session: Any) -> None:
            session.query(models.Conductor).filter_by(hostname="b").update({"online": False})

        services.db.run_write(stop_b)
        after = {k: cache.refresh().owner(k, "") for k in keys}
        moved = {k for k in keys if before[k] != after[k]}
        assert moved == {k for k in keys if before[k] == "b"}
        assert set(after.values()) == {"a", "c"}
    finally:
        services.db.dispose()


def test_agent_calls_reach_the_owner(cluster: tuple[TestClient, dict[str, Any]]) -> None:
    """lookup and heartbeat from an agent in clean wait go to the node's owner."""
    client, _conductors = cluster
    nodes = _enroll(client, 4)
    api = client.app.state.services.conductor  # type: ignore[attr-defined]
    assert api.local is None
    for i, node in enumerate(nodes):
        mac = f"52:54:00:00:00:{i:02x}"
        port = {"address": mac, "node_uuid": node["uuid"]}
        assert client.post("/v1/ports", json=port).status_code == 201
        client.put(f"/v1/nodes/{node['name']}/states/provision", json={"target": "manage"})
        wait_state(client, node["name"], "manageable")
        r = client.put(f"/v1/nodes/{node['name']}/states/provision",
                       json={"target": "clean", "clean_steps": [{"interface": "deploy",
                                                                 "step": "wait"}]})  # fmt: skip
        assert r.status_code == 202, r.text
        wait_state(client, node["name"], "clean wait")
        found = api.lookup([mac], None)
        assert found["node"]["uuid"] == node["uuid"]
        token = found["config"]["agent_token"]
        api.heartbeat(node["uuid"], "http://127.0.0.1:9/", "1.0", token)
        wait_state(client, node["name"], "manageable")
        events = client.get(f"/v1/nodes/{node['name']}/history?detail=true").json()["history"]
        assert {e["conductor"] for e in events[1:]} == {node["conductor"]}
    with pytest.raises(NotFound, match="No node has a port with MAC"):
        api.lookup(["52:54:00:ff:ff:ff"], None)
    with pytest.raises(NotFound, match="No node waiting for inspection"):
        api.continue_inspection(
            {"inventory": {"interfaces": [{"mac_address": "52:54:00:ff:ff:ff"}]}}
        )
