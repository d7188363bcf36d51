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
from ingot.db.queries import is_uuid
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


def reserve_by_ident(session: Session, ident: str, host: str) -> int:
    """Take the lock of the node with UUID or name ``ident`` in the caller's transaction.

    Returns the node's id; NotFound or NodeLocked (naming the holder) otherwise. One statement
    when the lock is free, so a caller can lock and load a node in a single transaction.
    """
    column = models.Node.uuid if is_uuid(ident) else models.Node.name
    taken = session.execute(
        update(models.Node)
        .where(column == ident, models.Node.reservation.is_(None))
        .values(reservation=host)
        .returning(models.Node.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        return int(taken.id)
    row = session.execute(
        select(models.Node.uuid, models.Node.reservation).where(column == ident)
    ).first()
    if row is None:
        raise NotFound(f"Node {ident} could not be found.")
    raise NodeLocked(row.uuid, row.reservation or "unknown")


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
