"""Fencing: a conductor whose lock was taken over (it was presumed dead) writes nothing more.

The takeover is simulated the way another conductor does it: the node's row gets a new
``reservation`` and state while this conductor still holds a Task for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ingot import states
from ingot.conductor.service import Conductor
from ingot.conductor.task import Task, load_task
from ingot.db import models
from ingot.db.queries import get_node
from ingot.errors import LockLost
from ingot.settings import IngotSettings, load_settings

FAILED = "Conductor c1 stopped heartbeating; c2 took the node over."


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> IngotSettings:
    """The all-in-one process of ``app_services`` on each database engine."""
    return load_settings(
        default={"state_dir": tmp_path / "state"},
        database={"connection": db_url},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
    )


@pytest.fixture
def conductor(app_services: Any, client: Any) -> Conductor:
    assert (
        client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "n1"}).status_code == 201
    )
    return app_services[1]  # type: ignore[no-any-return]


def _take_over(conductor: Conductor) -> None:
    """What the survivor does: move the lock by compare-and-set and fail the operation."""

    def write(session: Any) -> None:
        node = get_node(session, "n1")
        session.execute(
            update(models.Node)
            .where(models.Node.id == node.id)
            .values(reservation="c2", provision_state=states.CLEANFAIL, last_error=FAILED)
        )

    conductor.services.db.run_write(write)


def _row(conductor: Conductor) -> tuple[str | None, str, str | None, int]:
    with conductor.services.db.read() as session:
        node = get_node(session, "n1")
        entries = session.query(models.NodeHistory).filter_by(node_id=node.id).count()
        return node.reservation, node.provision_state, node.last_error, entries


def test_a_stale_task_cannot_save_or_release_after_a_takeover(conductor: Conductor) -> None:
    task = load_task(conductor, "n1", lock=True)
    _take_over(conductor)
    before = _row(conductor)
    task.set_provision(states.MANAGEABLE, None)
    with pytest.raises(LockLost, match=r"no longer holds the lock on node .* held by c2"):
        task.save("Cleaning completed")
    with pytest.raises(LockLost):  # an event alone is refused too
        task.save("still here")
    task.release()
    assert _row(conductor) == before == ("c2", states.CLEANFAIL, FAILED, before[3])


def test_a_deferred_save_is_dropped_at_release_after_a_takeover(
    conductor: Conductor, caplog: pytest.LogCaptureFixture
) -> None:
    task = load_task(conductor, "n1", lock=True)
    task.set_provision(states.MANAGEABLE, None)
    task.save("Cleaning completed", defer=True)  # written with the release
    _take_over(conductor)
    before = _row(conductor)
    task.release()  # no exception: the flow is over, the new owner keeps its lock
    assert _row(conductor) == before == ("c2", states.CLEANFAIL, FAILED, before[3])
    assert any("last changes not written" in r.getMessage() for r in caplog.records)


def test_a_task_that_holds_its_lock_saves_as_before(conductor: Conductor) -> None:
    task = load_task(conductor, "n1", lock=True)
    task.update(description="kept")
    task.save("noted")
    task.release()
    with conductor.services.db.read() as session:
        node = get_node(session, "n1")
        assert (node.description, node.reservation) == ("kept", None)
    unlocked = load_task(conductor, "n1", lock=False)  # unlocked tasks are not fenced
    unlocked.update(description="again")
    unlocked.save()
    with conductor.services.db.read() as session:
        assert get_node(session, "n1").description == "again"


def test_a_flow_taken_over_midway_is_abandoned_without_recording_a_failure(
    conductor: Conductor, caplog: pytest.LogCaptureFixture
) -> None:
    async def flow(task: Task) -> None:
        _take_over(conductor)  # the survivor acts while this conductor was "paused"
        task.set_provision(states.MANAGEABLE, None)
        task.save("Cleaning completed")

    task = load_task(conductor, "n1", lock=True)
    conductor.spawn(task, flow, "cleaning")
    conductor.call(conductor.idle())
    reservation, state, error, _entries = _row(conductor)
    assert (reservation, state, error) == ("c2", states.CLEANFAIL, FAILED)
    warnings = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert warnings and "held by c2" in warnings[0]
    assert not [r for r in caplog.records if r.exc_info]  # a warning, not a traceback


def _add_port(mac: str) -> Any:
    def write(session: Any) -> str:
        node = get_node(session, "n1")
        session.add(models.Port(uuid=f"00000000-0000-0000-0000-{mac.replace(':', '')}",
                                address=mac, node_id=node.id, pxe_enabled=False, extra={},
                                internal_info={}, local_link_connection={}))  # fmt: skip
        return mac

    return write


def _ports(conductor: Conductor) -> list[str]:
    with conductor.services.db.read() as session:
        return sorted(p.address for p in session.query(models.Port))


def test_writes_beyond_the_node_row_are_fenced_too(conductor: Conductor) -> None:
    task = load_task(conductor, "n1", lock=True)
    assert task.write(_add_port("52:54:00:00:00:01")) == "52:54:00:00:00:01"
    _take_over(conductor)
    with pytest.raises(LockLost, match="held by c2"):
        task.write(_add_port("52:54:00:00:00:02"))
    with pytest.raises(LockLost):  # remembered: not even a look at the database
        task.write(_add_port("52:54:00:00:00:03"))
    task.release()
    assert _ports(conductor) == ["52:54:00:00:00:01"]
    assert _row(conductor)[:3] == ("c2", states.CLEANFAIL, FAILED)
    unlocked = load_task(conductor, "n1", lock=False)  # unlocked tasks write as before
    unlocked.write(_add_port("52:54:00:00:00:04"))
    assert _ports(conductor) == ["52:54:00:00:00:01", "52:54:00:00:00:04"]


def test_inspection_data_of_a_stale_conductor_is_not_stored(conductor: Conductor) -> None:
    from ingot.conductor.inspection import apply_inventory

    inventory = {"interfaces": [{"mac_address": "52:54:00:aa:bb:cc"}],
                 "cpu": {"count": 4, "architecture": "x86_64"}}  # fmt: skip
    task = load_task(conductor, "n1", lock=True)
    _take_over(conductor)
    with pytest.raises(LockLost):
        apply_inventory(task, inventory, {"inventory": inventory})
    assert _ports(conductor) == []
    with conductor.services.db.read() as session:
        assert session.query(models.NodeInventory).count() == 0
