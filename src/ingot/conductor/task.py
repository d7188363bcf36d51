"""A task: one node, its ports and interfaces, held under the node's lock by one worker.

The lock is taken when the API's request is accepted and handed to the worker that
continues the job, as in Ironic; the worker releases it when it finishes or fails, so a
crashing step never leaves a lock behind.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ingot.db import history, locks, models
from ingot.db.queries import get_node
from ingot.drivers import interfaces as base
from ingot.errors import LockLost

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class Task:
    """The node (a detached snapshot), its ports and its interface implementations."""

    def __init__(self, conductor: Conductor, node: models.Node, ports: list[models.Port]) -> None:
        self.conductor = conductor
        self.node = node
        self.ports = ports
        self.dirty: dict[str, Any] = {}
        # A save deferred to the lock's release (see save(defer=True)): its changes and events.
        self._deferred: dict[str, Any] = {}
        self._events: list[tuple[str, str, str]] = []
        self.locked = False
        self.lost_to: str | None = None  # set once the lock was taken over: write nothing
        registry = conductor.services.drivers
        self.interfaces: dict[str, base.Interface] = {
            kind: registry.interface(kind, getattr(node, f"{kind}_interface"))
            for kind in base.KINDS
        }

    # typed accessors for the interfaces the flows call most
    @property
    def power(self) -> base.PowerInterface:
        return cast(base.PowerInterface, self._iface("power", base.PowerInterface))

    @property
    def management(self) -> base.ManagementInterface:
        return cast(base.ManagementInterface, self._iface("management", base.ManagementInterface))

    @property
    def boot(self) -> base.BootInterface:
        return cast(base.BootInterface, self._iface("boot", base.BootInterface))

    @property
    def deploy(self) -> base.DeployInterface:
        return cast(base.DeployInterface, self._iface("deploy", base.DeployInterface))

    @property
    def inspect(self) -> base.InspectInterface:
        return cast(base.InspectInterface, self._iface("inspect", base.InspectInterface))

    @property
    def rescue(self) -> base.RescueInterface:
        return cast(base.RescueInterface, self._iface("rescue", base.RescueInterface))

    def _iface(self, kind: str, cls: Any) -> Any:
        impl = self.interfaces[kind]
        assert isinstance(impl, cls)
        return impl

    @property
    def macs(self) -> list[str]:
        return [p.address for p in self.ports]

    # --- changes -------------------------------------------------------------------------

    def update(self, **fields: Any) -> None:
        """Change node fields in memory; ``save()`` writes them."""
        for key, value in fields.items():
            setattr(self.node, key, value)
            self.dirty[key] = value

    def set_internal(self, key: str, value: Any) -> None:
        """Set (or with None, remove) one ``driver_internal_info`` key."""
        info = dict(self.node.driver_internal_info or {})
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
        self.update(driver_internal_info=info)

    def set_provision(self, state: str, target: str | None, *, error: str | None = None) -> None:
        self.update(
            provision_state=state,
            target_provision_state=target,
            provision_updated_at=dt.datetime.now(dt.UTC),
        )
        if error is not None:
            self.update(last_error=error)

    def save(self, event: str | None = None, *, severity: str = history.INFO,
             event_type: str = "provisioning", defer: bool = False) -> None:  # fmt: skip
        """Write changed fields (and optionally a history entry) in one transaction.

        A locked task writes only while the row still names this conductor as the lock's
        holder (fencing): a conductor that was paused past the heartbeat timeout, and whose
        node another conductor took over, gets :class:`LockLost` instead of overwriting.

        ``defer`` (a locked task whose flow is ending) keeps the write for the next save or for
        :meth:`release`, which then writes it and drops the lock in the same transaction: one
        transaction fewer per operation, and the new state and the free lock appear together.
        """
        self._stage(event, severity, event_type)
        if not (defer and self.locked):
            self._flush(release=False)

    def _stage(self, event: str | None, severity: str, event_type: str) -> None:
        """Move the changed fields and the event to what the next write sends."""
        self._check_not_lost()
        self._deferred.update(self.dirty)
        self.dirty.clear()
        if event is not None:
            self._events.append((event, severity, event_type))

    def _flush(self, *, release: bool) -> None:
        """Write the pending changes and events; with ``release`` also drop our lock."""
        if self._deferred or self._events or release:
            self.conductor.services.db.run_write(lambda session: self._write(session, release))

    def save_in(self, session: Session, event: str, *, release: bool = False) -> None:
        """:meth:`save` in the caller's open transaction (a request accepted in one go)."""
        self._stage(event, history.INFO, "provisioning")
        self._write(session, release)
        if release:
            self.locked = False

    def _write(self, session: Session, release: bool) -> None:
        changes, events = self._deferred, self._events
        self._deferred, self._events = {}, []
        fenced = self.locked
        if release:
            changes = {**changes, "reservation": None}
        host = self.conductor.hostname
        if changes or fenced:
            query = update(models.Node).where(models.Node.id == self.node.id)
            if fenced:
                query = query.where(models.Node.reservation == host)
            done = session.execute(
                query.values(**changes, updated_at=dt.datetime.now(dt.UTC)).execution_options(
                    synchronize_session=False
                )
            )
            if fenced and not done.rowcount:  # type: ignore[attr-defined]
                self._lose(session)
        for text, severity, event_type in events:
            history.record(session, self.node, text, severity=severity,
                           event_type=event_type, conductor=host)  # fmt: skip

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one write transaction, fenced as :meth:`save` for a locked task.

        For a flow's writes beyond the node's own columns (ports, inventory, traits, an
        allocation): they commit only while this conductor still holds the node's lock, and
        raise LockLost with nothing written once another conductor took the node over.
        """
        self._check_not_lost()
        if self._deferred or self._events:
            self._flush(release=False)
        fenced = self.locked
        node_id, host = self.node.id, self.conductor.hostname

        def run(session: Session) -> T:
            if fenced:
                # A no-op update of our own lock: it also holds the row (PostgreSQL) or the
                # database (SQLite) until commit, so a takeover can not slip in between.
                done = session.execute(
                    update(models.Node)
                    .where(models.Node.id == node_id, models.Node.reservation == host)
                    .values(reservation=host)
                    .execution_options(synchronize_session=False)
                )
                if not done.rowcount:  # type: ignore[attr-defined]
                    self._lose(session)
            return fn(session)

        return self.conductor.services.db.run_write(run)

    def _check_not_lost(self) -> None:
        if self.lost_to is not None:
            raise LockLost(self.node.uuid, self.conductor.hostname, self.lost_to or None)

    def _lose(self, session: Session) -> None:
        """The fence failed: remember who holds the lock now and raise LockLost (rolls back)."""
        holder = session.scalar(
            select(models.Node.reservation).where(models.Node.id == self.node.id)
        )
        self.locked = False  # not ours to release any more
        self.lost_to = holder or ""
        raise LockLost(self.node.uuid, self.conductor.hostname, holder)

    def park(self) -> None:
        """Drop the snapshot while the flow waits for a worker; :meth:`unpark` reloads it.

        A queued flow then holds about 1 KiB instead of a node's 80 columns, its ports and
        its interfaces (about 10 KiB). The reload costs 0.5 ms of the loop per flow. A task
        with unsaved changes keeps its snapshot.
        """
        if self.dirty or self._deferred or self._events:
            return
        self.node = cast(models.Node, _Parked(self.node.id, self.node.uuid))
        self.ports, self.interfaces = [], {}

    def unpark(self) -> None:
        if isinstance(self.node, _Parked):
            with self.conductor.services.db.read() as session:
                fresh = _load(session, self.conductor, self.node.id)
            self.node, self.ports, self.interfaces = fresh.node, fresh.ports, fresh.interfaces

    def release(self) -> None:
        """Drop the lock, writing a deferred save with it; never raises LockLost."""
        if self.lost_to is not None:
            return
        if not self.locked:
            if self._deferred or self._events:
                self._flush(release=False)
            return
        if not (self._deferred or self._events):
            locks.release(self.conductor.services.db, self.node.id, self.conductor.hostname)
            self.locked = False
            return
        try:
            self._flush(release=True)
        except LockLost as exc:  # taken over meanwhile: the new owner's lock stays
            LOG.warning("node %s: last changes not written: %s", self.node.uuid, exc)
            return
        self.locked = False


class _Parked:
    """What a parked task keeps of its node: enough to release the lock or log a failure."""

    __slots__ = ("id", "uuid")

    def __init__(self, node_id: int, uuid: str) -> None:
        self.id, self.uuid = node_id, uuid


def locked_task(session: Session, conductor: Conductor, ident: str) -> Task:
    """Lock and load a node in the caller's transaction; a rollback undoes the lock too.

    Raises NotFound, or NodeLocked naming the holder.
    """
    task = _load(session, conductor, locks.reserve_by_ident(session, ident, conductor.hostname))
    task.locked = True
    return task


def _load(session: Session, conductor: Conductor, node_id: int) -> Task:
    node = session.get(models.Node, node_id)
    assert node is not None
    ports = list(
        session.scalars(
            select(models.Port).where(models.Port.node_id == node_id).order_by(models.Port.id)
        )
    )
    session.expunge_all()
    return Task(conductor, node, ports)


def load_task(conductor: Conductor, ident: str, *, lock: bool) -> Task:
    """Load a node (by UUID or name) into a Task, taking its lock when ``lock`` is set.

    Raises NotFound, or NodeLocked naming the holder. Locking and loading are one transaction.
    """
    if lock:
        return conductor.services.db.run_write(
            lambda session: locked_task(session, conductor, ident)
        )
    with conductor.services.db.read() as session:
        return _load(session, conductor, get_node(session, ident).id)
