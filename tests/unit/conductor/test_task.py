"""A task's saves: a flow's last save goes out with the lock's release, in one transaction."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ingot import states
from ingot.conductor import outcome
from ingot.conductor.service import Conductor
from ingot.conductor.task import Task, load_task, locked_task
from ingot.db import models
from ingot.db.queries import get_node
from ingot.errors import InvalidState, NodeLocked, NotFound
from ingot.settings import IngotSettings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> IngotSettings:
    """One worker, so a second flow queues (and parks) behind the first."""
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0,
                   "workers_pool_size": 1},
    )  # fmt: skip


@pytest.fixture
def conductor(app_services: Any, client: Any) -> Conductor:
    assert (
        client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n1"}).status_code == 201
    )
    return app_services[1]  # type: ignore[no-any-return]


@pytest.fixture
def commits(conductor: Conductor) -> Iterator[list[int]]:
    """Counts the commits of the conductor's database while a test runs."""
    engine = conductor.services.db.engine
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def _node(conductor: Conductor) -> tuple[str | None, str, str | None, list[str]]:
    with conductor.services.db.read() as session:
        node = get_node(session, "n1")
        events = [h.event for h in session.query(models.NodeHistory).filter_by(node_id=node.id)]
        return node.reservation, node.provision_state, node.description, events


def test_locking_and_loading_is_one_transaction(conductor: Conductor, commits: list[int]) -> None:
    task = load_task(conductor, "n1", lock=True)
    assert (len(commits), task.node.name, task.node.reservation) == (1, "n1", conductor.hostname)
    with pytest.raises(NodeLocked, match=conductor.hostname):
        load_task(conductor, "n1", lock=True)
    with pytest.raises(NotFound, match="Node nope could not be found"):
        load_task(conductor, "nope", lock=True)
    task.release()
    assert _node(conductor)[0] is None


def test_a_deferred_save_is_written_with_the_release(
    conductor: Conductor, commits: list[int]
) -> None:
    task = load_task(conductor, "n1", lock=True)
    before = _node(conductor)
    task.update(description="done")
    task.save("finished", defer=True)
    assert _node(conductor) == before  # nothing written yet, the lock still held
    commits.clear()
    task.release()
    assert len(commits) == 1
    reservation, _state, description, events = _node(conductor)
    assert (reservation, description, events[-1]) == (None, "done", "finished")


def test_a_deferred_save_goes_out_with_the_next_save_in_order(conductor: Conductor) -> None:
    task = load_task(conductor, "n1", lock=True)
    task.update(description="first")
    task.save("one", defer=True)
    task.update(extra={"k": "v"})
    task.save("two")
    reservation, _state, description, events = _node(conductor)
    assert (reservation, description, events[-2:]) == (conductor.hostname, "first", ["one", "two"])
    task.release()


def test_an_unlocked_task_never_defers(conductor: Conductor) -> None:
    task = load_task(conductor, "n1", lock=False)
    task.update(description="now")
    task.save("at once", defer=True)
    reservation, _state, description, events = _node(conductor)
    assert (reservation, description, events[-1]) == (None, "now", "at once")


def test_a_flow_ending_in_a_resting_state_commits_state_and_unlock_together(
    conductor: Conductor, commits: list[int]
) -> None:
    task = load_task(conductor, "n1", lock=True)
    task.set_provision(states.VERIFYING, states.MANAGEABLE)
    task.save("verifying")
    outcome.advance(task, "done", "Node verified")  # manageable: the flow ends here
    assert _node(conductor)[:2] == (conductor.hostname, states.VERIFYING)
    commits.clear()
    task.release()
    assert len(commits) == 1
    reservation, state, _description, events = _node(conductor)
    assert (reservation, state, events[-1]) == (None, states.MANAGEABLE, "Node verified")


def test_a_lock_taken_in_a_transaction_that_fails_is_rolled_back_with_it(
    conductor: Conductor,
) -> None:
    """How a refused provision request leaves no lock behind: its checks run in the txn."""

    def refuse(session: Any) -> None:
        task = locked_task(session, conductor, "n1")
        assert task.locked and task.node.reservation == conductor.hostname
        raise InvalidState("no")

    with pytest.raises(InvalidState):
        conductor.services.db.run_write(refuse)
    assert _node(conductor)[0] is None


def test_save_in_writes_in_the_callers_transaction_and_can_release(conductor: Conductor) -> None:
    def accept(session: Any) -> None:
        task = locked_task(session, conductor, "n1")
        task.update(description="accepted")
        task.save_in(session, "'x' accepted", release=True)
        assert not task.locked

    conductor.services.db.run_write(accept)
    reservation, _state, description, events = _node(conductor)
    assert (reservation, description, events[-1]) == (None, "accepted", "'x' accepted")


def test_an_undeploy_without_clean_steps_is_one_transaction_with_the_release(
    conductor: Conductor, commits: list[int]
) -> None:
    from ingot.conductor import deploy

    task = load_task(conductor, "n1", lock=True)
    task.set_provision(states.DELETING, states.AVAILABLE)
    task.save("'deleted' accepted")
    commits.clear()
    conductor.call(deploy.undeploy(task))  # fake-hardware: no clean steps
    task.release()
    assert len(commits) == 1
    reservation, state, _description, events = _node(conductor)
    assert (reservation, state) == (None, states.AVAILABLE)
    assert events[-3:] == [
        "Instance torn down; cleaning",
        "Starting automated cleaning with steps: none",
        "Cleaning completed",
    ]


def test_a_queued_flow_parks_its_snapshot_and_runs_on_a_fresh_one(
    conductor: Conductor, client: Any
) -> None:
    assert (
        client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n2"}).status_code == 201
    )
    gate, seen = threading.Event(), {}

    async def blocker(task: Task) -> None:
        while not gate.is_set():
            await asyncio.sleep(0.01)

    async def queued(task: Task) -> None:
        seen.update(name=task.node.name, ports=task.ports, driver=task.node.driver)

    first, second = load_task(conductor, "n1", lock=True), load_task(conductor, "n2", lock=True)
    conductor.spawn(first, blocker, "blocking")
    conductor.call(asyncio.sleep(0.1))  # the one worker slot is taken
    conductor.spawn(second, queued, "queued")
    conductor.call(asyncio.sleep(0.1))
    assert not hasattr(second.node, "name")  # parked: only id and uuid kept while it waits
    gate.set()
    conductor.call(conductor.idle())
    assert seen == {"name": "n2", "ports": [], "driver": "fake-hardware"}
    with conductor.services.db.read() as session:
        assert get_node(session, "n2").reservation is None
