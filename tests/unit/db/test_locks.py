"""The node lock: one compare-and-set on ``reservation``, on both engines."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from ingot.db import Database, locks, models
from ingot.errors import NodeLocked, NotFound
from tests.unit.db.conftest import add_node


def _holder(db: Database, node_id: int) -> str | None:
    with db.read() as session:
        return session.scalar(select(models.Node.reservation).where(models.Node.id == node_id))


def test_reserve_then_second_reserve_names_the_holder(db: Database) -> None:
    node_id = add_node(db)
    locks.reserve(db, node_id, "conductor-a")
    assert _holder(db, node_id) == "conductor-a"
    with pytest.raises(NodeLocked) as err:
        locks.reserve(db, node_id, "conductor-b")
    assert err.value.holder == "conductor-a"
    with db.read() as session:
        uuid = session.get(models.Node, node_id).uuid  # type: ignore[union-attr]
    assert uuid in str(err.value) and "conductor-a" in str(err.value)
    assert err.value.status == 409


def test_same_host_can_not_take_its_own_lock_twice(db: Database) -> None:
    node_id = add_node(db)
    locks.reserve(db, node_id, "a")
    with pytest.raises(NodeLocked):
        locks.reserve(db, node_id, "a")


def test_release_only_by_the_holder(db: Database) -> None:
    node_id = add_node(db)
    locks.reserve(db, node_id, "a")
    assert locks.release(db, node_id, "b") is False
    assert _holder(db, node_id) == "a"
    assert locks.release(db, node_id, "a") is True
    assert _holder(db, node_id) is None
    assert locks.release(db, node_id, "a") is False
    locks.reserve(db, node_id, "b")
    assert _holder(db, node_id) == "b"


def test_release_all_clears_only_that_host(db: Database) -> None:
    mine = [add_node(db) for _ in range(3)]
    theirs = add_node(db)
    for node_id in mine:
        locks.reserve(db, node_id, "a")
    locks.reserve(db, theirs, "b")
    assert locks.release_all(db, "a") == 3
    assert [_holder(db, n) for n in mine] == [None, None, None]
    assert _holder(db, theirs) == "b"
    assert locks.release_all(db, "a") == 0


def test_reserve_unknown_node_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        locks.reserve(db, 987654, "a")


def test_racing_reservations_have_exactly_one_winner(db: Database) -> None:
    node_id = add_node(db)
    barrier = threading.Barrier(8)
    winners: list[str] = []
    losers: list[str] = []
    errors: list[BaseException] = []

    def contend(host: str) -> None:
        barrier.wait()
        try:
            locks.reserve(db, node_id, host)
            winners.append(host)
        except NodeLocked as exc:
            losers.append(exc.holder)
        except BaseException as exc:  # anything else is a bug
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(winners) == 1 and len(losers) == 7
    assert set(losers) == set(winners) == {_holder(db, node_id)}


def test_reserve_by_ident_takes_the_lock_by_name_or_uuid_in_the_callers_transaction(
    db: Database,
) -> None:
    node_id = add_node(db, name="by-name")
    assert db.run_write(lambda s: locks.reserve_by_ident(s, "by-name", "a")) == node_id
    with db.read() as session:
        uuid = session.get(models.Node, node_id).uuid  # type: ignore[union-attr]
    with pytest.raises(NodeLocked) as err:
        db.run_write(lambda s: locks.reserve_by_ident(s, uuid, "b"))
    assert err.value.holder == "a" and _holder(db, node_id) == "a"
    with pytest.raises(NotFound, match="Node missing could not be found"):
        db.run_write(lambda s: locks.reserve_by_ident(s, "missing", "b"))
