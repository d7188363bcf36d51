"""The claim compare-and-set and stale-allocation cleanup, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ingot.db import Database, migrate, models
from ingot.scheduling import allocator


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


def _node(session: object, name: str, **kw: object) -> models.Node:
    node = models.Node(uuid=str(uuid.uuid4()), name=name, driver="fake-hardware",
                       provision_state="available", power_state="power off",
                       resource_class="baremetal", **kw)  # fmt: skip
    session.add(node)  # type: ignore[attr-defined]
    return node


def _allocation(session: object, name: str) -> models.Allocation:
    alloc = models.Allocation(uuid=str(uuid.uuid4()), name=name, state=allocator.ALLOCATING,
                              resource_class="baremetal")  # fmt: skip
    session.add(alloc)  # type: ignore[attr-defined]
    return alloc


def test_claim_is_compare_and_set(db: Database) -> None:
    with db.write() as session:
        node = _node(session, "n1")
        first, second = _allocation(session, "a"), _allocation(session, "b")
        session.flush()
        assert allocator.claim(session, first, node.id)
        assert not allocator.claim(session, second, node.id)
    with db.read() as session:
        stored = session.get(models.Node, node.id)
        assert stored is not None and stored.instance_uuid == first.uuid


def test_claim_skips_locked_nodes_and_allocate_reports_them_busy(db: Database) -> None:
    with db.write() as session:
        _node(session, "n1", reservation="conductor-1")
        alloc = _allocation(session, "a")
        session.flush()
        alloc_id = alloc.id
    allocator.allocate(db, alloc_id, attempts=2, wait=0.01)
    with db.read() as session:
        stored = session.get(models.Allocation, alloc_id)
        assert stored is not None and stored.state == allocator.ERROR
        assert "n1 (locked by conductor-1)" in (stored.last_error or "")


def test_claim_removes_a_stale_allocation_of_the_node(db: Database) -> None:
    with db.write() as session:
        node = _node(session, "n1")
        stale = _allocation(session, "stale")
        session.flush()
        stale.node_id, stale.state = node.id, allocator.ACTIVE  # left by an undeploy
        fresh = _allocation(session, "fresh")
        session.flush()
        assert allocator.claim(session, fresh, node.id)
    with db.read() as session:
        assert session.get(models.Allocation, stale.id) is None
