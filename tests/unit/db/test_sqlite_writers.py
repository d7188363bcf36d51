"""Concurrent writers on SQLite queue on the write lock; "database is locked" never escapes."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingot.db import Database, migrate, models
from tests.unit.db.conftest import add_node

THREADS, WRITES = 8, 50


def test_many_threads_writing_never_see_database_locked(tmp_path: Path) -> None:
    # a short busy timeout makes SQLite give up quickly, so run_write's own retry is exercised
    db = Database(f"sqlite:///{tmp_path / 'w.sqlite'}", busy_timeout_ms=50)
    migrate.upgrade(db)
    node_id = add_node(db)
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(WRITES):

            def write(session: Session, i: int = i) -> None:
                # read-modify-write in one transaction: lost updates would show in the count
                node = session.get(models.Node, node_id)
                assert node is not None
                extra = dict(node.extra or {})
                extra["count"] = extra.get("count", 0) + 1
                node.extra = extra
                session.add(models.NodeHistory(
                    uuid=f"{n:02d}-{i:03d}-0000-0000-000000000000", node_id=node_id,
                    event=f"w{n}.{i}", severity="INFO", event_type="test",
                ))  # fmt: skip

            try:
                db.run_write(write)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == [], errors[:3]
        with db.read() as session:
            node = session.get(models.Node, node_id)
            assert node is not None and node.extra["count"] == THREADS * WRITES
            rows = session.scalar(select(func.count()).select_from(models.NodeHistory))
            assert rows == THREADS * WRITES
    finally:
        db.dispose()
