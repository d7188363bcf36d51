"""The conductor: an asyncio loop on its own thread that runs node flows and periodic tasks.

API handlers (threads) call in through :meth:`Conductor.call`; accepting a request is
synchronous, the flow it starts runs on the loop, bounded by ``workers_pool_size`` — extra
work queues on the semaphore instead of being refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ingot import states
from ingot.conductor import outcome, periodics, takeover
from ingot.conductor.hashring import RingSet
from ingot.conductor.ring import LiveConductor, RingCache
from ingot.conductor.task import Task, load_task
from ingot.db import locks, models
from ingot.drivers.bmc_access import BmcAccess
from ingot.errors import IngotError, LockLost
from ingot.services import Services

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class Conductor:
    """One conductor; several may share a PostgreSQL database."""

    def __init__(self, services: Services, hostname: str | None = None, group: str | None = None):
        self.services = services
        cfg = services.settings
        self.hostname = hostname or cfg.default.host
        self.group = (group if group is not None else cfg.conductor.conductor_group).lower()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._workers: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task[None]] = set()
        # Flows spawned and not finished, counted from the API's threads and the loop.
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._periodics: list[asyncio.Task[None]] = []
        self.rpc_url: str | None = None  # set before start() when peers may call us
        self.ring_cache = RingCache(
            services.db,
            heartbeat_timeout=cfg.conductor.heartbeat_timeout,
            partition_exponent=cfg.conductor.hash_partition_exponent,
            max_age=cfg.conductor.heartbeat_interval,
            always=LiveConductor(self.hostname, self.group, None),
        )
        self.bmc_access = BmcAccess(max_parallel=cfg.conductor.max_concurrent_bmc_sessions)

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def ring(self) -> RingSet:
        """The ring over the live conductors (and us), rebuilt every heartbeat interval."""
        return self.ring_cache.get().ring

    def start(self) -> None:
        """Register, clear our stale locks, and run the loop on a daemon thread."""
        self.ring_cache.always = LiveConductor(self.hostname, self.group, self.rpc_url)
        self.register()
        self.ring_cache.refresh()  # before _fail_interrupted: peers may own those nodes
        cleared = locks.release_all(self.services.db, self.hostname)
        if cleared:
            LOG.warning(
                "cleared %d node locks left by a previous run of %s", cleared, self.hostname
            )
        self._fail_interrupted()
        self._thread = threading.Thread(
            target=self._run, name=f"conductor-{self.hostname}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("conductor loop did not start")

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._workers = asyncio.Semaphore(self.services.settings.conductor.workers_pool_size)
        self._periodics = periodics.start_all(self)
        self._periodics.append(asyncio.ensure_future(takeover.watch(self)))
        self._ready.set()
        await self._stopping.wait()
        for job in self._periodics:
            job.cancel()
        if self._running:
            await asyncio.wait(self._running, timeout=10)

    def stop(self) -> None:
        if self.loop is not None and self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(15)
        self._mark_offline()

    def register(self) -> None:
        """Insert or refresh our row in ``conductors`` with the hardware types we serve."""
        drivers = sorted(self.services.drivers.types)

        def write(session: Session) -> None:
            now = dt.datetime.now(dt.UTC)
            row = session.scalar(
                select(models.Conductor).where(models.Conductor.hostname == self.hostname)
            )
            if row is None:
                session.add(
                    models.Conductor(
                        hostname=self.hostname,
                        conductor_group=self.group,
                        online=True,
                        drivers=drivers,
                        rpc_url=self.rpc_url,
                        heartbeat_at=now,
                    )
                )
            else:
                row.conductor_group, row.online, row.drivers = self.group, True, drivers
                row.heartbeat_at, row.rpc_url = now, self.rpc_url

        self.services.db.run_write(write)

    def _mark_offline(self) -> None:
        def write(session: Session) -> None:
            session.execute(
                update(models.Conductor)
                .where(models.Conductor.hostname == self.hostname)
                .values(online=False)
            )

        self.services.db.run_write(write)

    def _fail_interrupted(self) -> None:
        """Nodes left mid-step by a crash of this conductor go to their failed state."""
        with self.services.db.read() as session:
            idents = session.scalars(
                select(models.Node.uuid).where(
                    models.Node.provision_state.in_(states.STUCK_STATES_TREATED_AS_FAIL),
                    models.Node.reservation.is_(None),
                )
            ).all()
        for ident in idents:
            try:
                task = load_task(self, ident, lock=True)
            except IngotError:
                continue
            try:
                if not self.owns(task.node):
                    continue
                outcome.fail(
                    task,
                    f"Conductor {self.hostname} restarted while the node was "
                    f"{task.node.provision_state}; the operation was interrupted.",
                )
            finally:
                task.release()

    # --- ownership -----------------------------------------------------------------------

    def owns(self, node: models.Node) -> bool:
        return self.ring_cache.get().owns(self.hostname, node.uuid, node.conductor_group)

    def owner_of(self, node: models.Node) -> str | None:
        try:
            return self.ring_cache.get().owner(node.uuid, node.conductor_group)
        except IngotError:
            return None

    # --- work ----------------------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run ``coro`` on the conductor loop from another thread and wait for its result."""
        assert self.loop is not None, "conductor not started"
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def run_sync(self, fn: Callable[[], T]) -> T:
        """Run a synchronous accept step on the loop thread, serialised with the flows."""

        async def wrapper() -> T:
            return fn()

        return self.call(wrapper())

    def spawn(self, task: Task, flow: Callable[[Task], Awaitable[None]], what: str) -> None:
        """Run ``flow`` for a locked task; the lock is released whatever happens.

        A flow that will wait for a worker is parked here, in the caller's thread: when
        10,000 nodes are sent a verb the loop falls behind the API, and every queued flow
        used to hold its node's full row (about 10 KiB) until a worker was free.
        """
        assert self.loop is not None
        with self._pending_lock:
            self._pending += 1
            queued = self._pending > self.services.settings.conductor.workers_pool_size
        if queued:
            task.park()

        async def worker() -> None:
            assert self._workers is not None
            try:
                async with self._workers:
                    task.unpark()
                    await flow(task)
            except LockLost as exc:  # taken over while we were away: write nothing more
                LOG.warning("node %s: %s abandoned: %s", task.node.uuid, what, exc)
            except Exception as exc:  # a failed step fails the node, never the conductor
                message = (
                    str(exc) if isinstance(exc, IngotError) else f"{type(exc).__name__}: {exc}"
                )
                LOG.exception("node %s: %s failed", task.node.uuid, what)
                try:
                    task.dirty.clear()
                    outcome.fail(task, f"{what} failed: {message}")
                except LockLost as lost:
                    LOG.warning("node %s: failure not recorded: %s", task.node.uuid, lost)
                except Exception:
                    LOG.exception("node %s: could not record the failure", task.node.uuid)
            finally:
                task.release()
                with self._pending_lock:
                    self._pending -= 1

        def schedule() -> None:
            job = asyncio.ensure_future(worker())
            self._running.add(job)
            job.add_done_callback(self._running.discard)

        self.loop.call_soon_threadsafe(schedule)

    async def idle(self) -> None:
        """Wait until no flow is running (tests and benchmarks)."""
        while self._running:
            await asyncio.wait(set(self._running))
