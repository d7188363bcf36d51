"""Node locks: one atomic compare-and-set on ``nodes.reservation``, as Ironic.

``UPDATE nodes SET reservation = :host WHERE id = :id AND reservation IS NULL`` either changes
one row (we hold the lock) or none (someone else does). Works the same on SQLite and
PostgreSQL, across processes and hosts.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ingot.db import models
from ingot.db.engine import Database
from ingot.errors import NodeLocked, NotFound


def reserve(db: Database, node_id: int, host: str) -> None:
    """Take the lock of node ``node_id`` for ``host``; NodeLocked naming the holder if taken."""

    def cas(session: Session) -> tuple[int, str | None, str]:
        result = session.execute(
            update(models.Node)
            .where(models.Node.id == node_id, models.Node.reservation.is_(None))
            .values(reservation=host)
            .execution_options(synchronize_session=False)
        )
        row = session.execute(
            select(models.Node.reservation, models.Node.uuid).where(models.Node.id == node_id)
        ).first()
        if row is None:
            raise NotFound(f"Node {node_id} could not be found.")
        return result.rowcount, row.reservation, row.uuid  # type: ignore[attr-defined]

    count, holder, uuid = db.run_write(cas)
    if count != 1:
        raise NodeLocked(uuid, holder or "unknown")


def release(db: Database, node_id: int, host: str) -> bool:
    """Drop the lock if ``host`` holds it; False when it did not (never steals a lock)."""

    def cas(session: Session) -> int:
        result = session.execute(
            update(models.Node)
            .where(models.Node.id == node_id, models.Node.reservation == host)
            .values(reservation=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    return db.run_write(cas) == 1


def release_all(db: Database, host: str) -> int:
    """Clear every lock ``host`` holds: a conductor restarting after a crash holds none."""

    def clear(session: Session) -> int:
        result = session.execute(
            update(models.Node)
            .where(models.Node.reservation == host)
            .values(reservation=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    return db.run_write(clear)
