"""Takeover of a dead conductor's nodes: stale locks, interrupted operations, boot files."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ingot import states
from ingot.app_runtime import api_only, build_services, running_conductor
from ingot.conductor import takeover
from ingot.conductor.service import Conductor
from ingot.db import history, models
from ingot.db.queries import get_node
from ingot.settings import IngotSettings, load_settings

LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}
TIMEOUT = 30.0


def _settings(tmp_path: Path, name: str) -> IngotSettings:
    return load_settings(
        default={"state_dir": tmp_path / name},
        database={"connection": f"sqlite:///{tmp_path / 'shared.sqlite'}"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0,
                   "heartbeat_interval": 3600, "heartbeat_timeout": TIMEOUT},
    )  # fmt: skip


def _register(conductor: Conductor, host: str, age: float) -> None:
    def write(session: Any) -> None:
        session.add(models.Conductor(
            hostname=host, conductor_group="", online=True, drivers=["fake-hardware"],
            rpc_url="http://127.0.0.1:9/",
            heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age),
        ))  # fmt: skip

    conductor.services.db.run_write(write)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Conductor, TestClient]]:
    """Conductor c1 running, ``peer`` alive (never answers), ``ghost`` dead; an API client."""
    with contextlib.ExitStack() as stack:
        services = build_services(_settings(tmp_path, "c1"))
        stack.callback(services.db.dispose)
        c1 = stack.enter_context(running_conductor(services, hostname="c1", rpc_host=None))
        _register(c1, "peer", 0)
        _register(c1, "ghost", TIMEOUT * 3)
        c1.ring_cache.refresh()
        _s, app = stack.enter_context(api_only(_settings(tmp_path, "api")))
        yield c1, stack.enter_context(TestClient(app, headers=LATEST))


def _nodes(client: TestClient, count: int) -> dict[str, str]:
    """Enroll ``count`` fake nodes; name -> owner. Fixed UUIDs: the same split on every run
    (random ones left c1 with no node in about one run of twenty)."""
    for i in range(count):
        node_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"n{i}.takeover.ingot"))
        assert client.post("/v1/nodes", json={"driver": "fake-hardware", "name": f"n{i}",
                                              "uuid": node_uuid}).status_code == 201  # fmt: skip
    rows = client.get("/v1/nodes?fields=name,conductor").json()["nodes"]
    return {r["name"]: r["conductor"] for r in rows}


def _set(c1: Conductor, name: str, actor: str | None = None, **values: Any) -> None:
    def write(session: Any) -> None:
        node = get_node(session, name)
        session.execute(update(models.Node).where(models.Node.id == node.id).values(**values))
        if actor is not None:
            history.record(session, node, "worked on it", conductor=actor)

    c1.services.db.run_write(write)


def _node(c1: Conductor, name: str) -> models.Node:
    with c1.services.db.read() as session:
        node = get_node(session, name)
        session.expunge(node)
        return node


CASES = [
    # (state, reservation, last actor) -> (state after, reservation after, what the pass did)
    (states.DEPLOYING, "ghost", "ghost", states.DEPLOYFAIL, None, "failed"),
    (states.CLEANING, None, "ghost", states.CLEANFAIL, None, "failed"),
    (states.CLEANWAIT, None, "ghost", states.CLEANWAIT, None, "rebuilt"),
    (states.CLEANHOLD, "ghost", "ghost", states.CLEANHOLD, None, "unlocked+rebuilt"),
    (states.ACTIVE, None, "peer", states.ACTIVE, None, "rebuilt"),
    (states.ACTIVE, None, "c1", states.ACTIVE, None, ""),
    (states.AVAILABLE, "ghost", "ghost", states.AVAILABLE, None, "unlocked"),
    (states.DEPLOYING, "peer", "peer", states.DEPLOYING, "peer", ""),
    (states.CLEANING, None, "peer", states.CLEANING, None, ""),
]


@pytest.mark.parametrize(("state", "holder", "actor", "after", "holder_after", "did"), CASES)
def test_takeover_of_owned_nodes(
    cluster: tuple[Conductor, TestClient],
    state: str, holder: str | None, actor: str, after: str, holder_after: str | None, did: str,
) -> None:  # fmt: skip
    c1, client = cluster
    owners = _nodes(client, 8)
    mine = sorted(n for n, o in owners.items() if o == "c1")
    theirs = sorted(n for n, o in owners.items() if o == "peer")
    assert mine and theirs, owners
    name, other = mine[0], theirs[0]
    _set(c1, name, actor, provision_state=state, reservation=holder)
    _set(c1, other, "ghost", provision_state=state, reservation=holder)

    summary = c1.call(takeover.take_over(c1))

    node = _node(c1, name)
    assert (node.provision_state, node.reservation) == (after, holder_after)
    uuid = node.uuid
    assert (uuid in summary.failed) == ("failed" in did)
    assert (uuid in summary.unlocked) == ("unlocked" in did)
    assert (uuid in summary.rebuilt) == ("rebuilt" in did)
    if "failed" in did:
        assert "Conductor ghost stopped heartbeating" in str(node.last_error)
        assert "conductor c1 took the node over" in str(node.last_error)
    untouched = _node(c1, other)  # owned by the live peer: not ours to touch
    assert (untouched.provision_state, untouched.reservation) == (state, holder)
    again = c1.call(takeover.take_over(c1))
    assert not (again.failed or again.unlocked or again.rebuilt), again


def test_history_names_the_takeover(cluster: tuple[Conductor, TestClient]) -> None:
    c1, client = cluster
    owners = _nodes(client, 4)
    name = next(n for n, o in owners.items() if o == "c1")
    _set(c1, name, "ghost", provision_state=states.DEPLOYWAIT)
    c1.call(takeover.take_over(c1))
    events = client.get(f"/v1/nodes/{name}/history?detail=true").json()["history"]
    last = events[-1]
    assert last["conductor"] == "c1" and last["event_type"] == "takeover"
    assert "took the node over from ghost in state 'wait call-back'" in last["event"]


def test_restart_fails_only_nodes_it_owns(cluster: tuple[Conductor, TestClient]) -> None:
    """_fail_interrupted at start-up consults the ring from the database, not just itself."""
    c1, client = cluster
    owners = _nodes(client, 8)
    for name in owners:
        _set(c1, name, None, provision_state=states.CLEANING)
    c1._fail_interrupted()
    for name, owner in owners.items():
        expected = states.CLEANFAIL if owner == "c1" else states.CLEANING
        assert _node(c1, name).provision_state == expected, (name, owner)


def test_node_this_conductor_cannot_load_loses_the_dead_lock(
    cluster: tuple[Conductor, TestClient],
) -> None:
    """A node whose interface is not enabled here (conductors may enable different ones):
    the dead conductor's lock is cleared, not moved to us for good, the history says why, and
    the pass goes on to the other nodes."""
    c1, client = cluster
    owners = _nodes(client, 8)
    name, other = sorted(n for n, o in owners.items() if o == "c1")[:2]
    _set(c1, name, "ghost", provision_state=states.DEPLOYING, reservation="ghost",
         power_interface="not-enabled-here")  # fmt: skip
    _set(c1, other, "ghost", provision_state=states.CLEANING, reservation="ghost")

    summary = c1.call(takeover.take_over(c1))

    node = _node(c1, name)
    assert (node.provision_state, node.reservation) == (states.DEPLOYING, None)
    assert node.uuid in summary.unlocked
    assert _node(c1, other).provision_state == states.CLEANFAIL
    last = client.get(f"/v1/nodes/{name}/history?detail=true").json()["history"][-1]
    assert (last["conductor"], last["event_type"]) == ("c1", "takeover")
    assert "not-enabled-here" in last["event"] and "ghost" in last["event"], last
    again = c1.call(takeover.take_over(c1))  # the note names c1 now: nothing more to do
    assert not (again.failed or again.unlocked or again.rebuilt), again
    assert _node(c1, name).reservation is None
