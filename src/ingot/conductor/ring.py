"""The hash ring as the database sees it: built from the conductors that heartbeat in time.

Every process that routes work (the API) or decides what it owns (a conductor) keeps a
:class:`RingCache`: a snapshot of the live conductors, their groups and RPC URLs, rebuilt
when it is older than ``max_age`` or when the caller forces it (a conductor did not answer).
A conductor passes itself as ``always``: a running conductor is alive even if its last
heartbeat is late, so it never routes its own work away from itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Mapping

from sqlalchemy import select

from ingot.conductor.hashring import RingSet
from ingot.db import models
from ingot.db.engine import Database


@dataclasses.dataclass(frozen=True)
class LiveConductor:
    hostname: str
    group: str
    rpc_url: str | None


@dataclasses.dataclass(frozen=True)
class RingView:
    """One consistent snapshot: the ring and how to reach each conductor on it."""

    ring: RingSet
    conductors: Mapping[str, LiveConductor]
    built_at: float

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(self.conductors)

    def owner(self, node_uuid: str, group: str | None) -> str:
        """The node's owner; raises NoConductorAlive naming the group."""
        return self.ring.owner(node_uuid, (group or "").lower())

    def owns(self, host: str, node_uuid: str, group: str | None) -> bool:
        return self.ring.owns(host, node_uuid, (group or "").lower())


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def live_conductors(db: Database, heartbeat_timeout: float) -> dict[str, LiveConductor]:
    """Conductors marked online whose heartbeat is younger than ``heartbeat_timeout``."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=heartbeat_timeout)
    with db.read() as session:
        rows = session.execute(
            select(
                models.Conductor.hostname,
                models.Conductor.conductor_group,
                models.Conductor.rpc_url,
                models.Conductor.heartbeat_at,
            ).where(models.Conductor.online)
        ).all()
    return {
        r.hostname: LiveConductor(r.hostname, (r.conductor_group or "").lower(), r.rpc_url)
        for r in rows
        if _aware(r.heartbeat_at) >= cutoff
    }


def dead_conductors(db: Database, heartbeat_timeout: float) -> set[str]:
    """Registered conductors that are offline or missed their heartbeat."""
    with db.read() as session:
        every = set(session.scalars(select(models.Conductor.hostname)))
    return every - set(live_conductors(db, heartbeat_timeout))


class RingCache:
    """A ring of the live conductors, rebuilt at most every ``max_age`` seconds (thread-safe)."""

    def __init__(
        self,
        db: Database,
        *,
        heartbeat_timeout: float,
        partition_exponent: int,
        max_age: float,
        always: LiveConductor | None = None,
    ) -> None:
        self.db = db
        self.heartbeat_timeout = heartbeat_timeout
        self.partition_exponent = partition_exponent
        self.max_age = max_age
        self.always = always
        self._lock = threading.Lock()
        self._view: RingView | None = None

    def get(self) -> RingView:
        """The current snapshot, rebuilt first if it is older than ``max_age``."""
        view = self._view
        if view is None or time.monotonic() - view.built_at > self.max_age:
            view = self.refresh()
        return view

    def refresh(self) -> RingView:
        """Rebuild from the database now (after a conductor failed to answer, or periodically)."""
        with self._lock:
            live = live_conductors(self.db, self.heartbeat_timeout)
            if self.always is not None:
                live[self.always.hostname] = self.always
            ring = RingSet({h: c.group for h, c in live.items()}, self.partition_exponent)
            self._view = RingView(ring, live, time.monotonic())
            return self._view
