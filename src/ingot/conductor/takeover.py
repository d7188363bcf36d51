"""Taking over the nodes of a conductor that stopped heartbeating, or that the ring moved.

Run by each conductor after every ring refresh that changed the set of live conductors (and
every ``_FULL_SWEEP_EVERY`` refreshes regardless), only for nodes this conductor owns on the
new ring:

1. A lock (``reservation``) held by a dead conductor is cleared. If the node was mid-operation
   in a state nobody can resume (``states.STUCK_STATES_TREATED_AS_FAIL``), the lock is moved to
   us by compare-and-set and the node goes to its failed state with a ``last_error`` that names
   the dead conductor. Unlocked nodes in those states whose last actor is dead fail the same way.
2. Nodes waiting for the agent or on hold, and active nodes that boot over the network, get
   their boot files (and DHCP entries) rebuilt here, because those live on the conductor that
   wrote them. The conductor that last acted on a node is read from node history; the rebuild
   writes a history entry, so it is done once per move, not on every sweep.

Conductors never act on nodes they do not own, and every change goes through the node lock
(a database compare-and-set), so a conductor that comes back after a takeover finds the
nodes failed or already rebuilt and does nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ingot import states
from ingot.conductor import outcome
from ingot.conductor.ring import dead_conductors
from ingot.conductor.task import Task, load_task
from ingot.db import history, locks, models
from ingot.errors import IngotError

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

LOG = logging.getLogger(__name__)
_FULL_SWEEP_EVERY = 10
_PARALLEL_REBUILDS = 16

_PURPOSE = {
    states.CLEANWAIT: "clean", states.CLEANHOLD: "clean",
    states.DEPLOYWAIT: "deploy", states.DEPLOYHOLD: "deploy",
    states.SERVICEWAIT: "service", states.SERVICEHOLD: "service",
    states.INSPECTWAIT: "inspect", states.RESCUEWAIT: "rescue",
}  # fmt: skip
REBUILD_STATES = frozenset(_PURPOSE) | {states.ACTIVE}


@dataclasses.dataclass
class Summary:
    """What one takeover pass did (node UUIDs), for logs and tests."""

    failed: list[str] = dataclasses.field(default_factory=list)
    unlocked: list[str] = dataclasses.field(default_factory=list)
    rebuilt: list[str] = dataclasses.field(default_factory=list)


async def watch(conductor: Conductor) -> None:
    """Refresh the ring every heartbeat interval; take over when the live set changes."""
    interval = conductor.services.settings.conductor.heartbeat_interval
    previous: frozenset[str] | None = None
    sweeps = 0
    while True:
        try:
            hosts = conductor.ring_cache.refresh().hosts
            sweeps += 1
            if hosts != previous or sweeps % _FULL_SWEEP_EVERY == 0:
                if previous is not None and hosts != previous:
                    LOG.info("conductors alive: %s (were %s)", sorted(hosts), sorted(previous))
                await take_over(conductor)
            previous = hosts
        except Exception:
            LOG.exception("ring refresh or takeover failed")
        await asyncio.sleep(interval)


async def take_over(conductor: Conductor) -> Summary:
    """One pass over the nodes this conductor owns; see the module docstring."""
    summary = Summary()
    cfg = conductor.services.settings.conductor
    dead = dead_conductors(conductor.services.db, cfg.heartbeat_timeout) - {conductor.hostname}
    nodes = _owned_nodes(conductor)
    actors = _last_actors(conductor, [n["id"] for n in nodes])
    rebuild: list[str] = []
    for node in nodes:
        holder, state, actor = node["reservation"], node["provision_state"], actors.get(node["id"])
        if holder in dead:
            if state in states.STUCK_STATES_TREATED_AS_FAIL:
                done = _fail_stuck(conductor, node, holder, cfg.heartbeat_timeout)
                if done == "failed":
                    summary.failed.append(node["uuid"])
                elif done == "unlocked":
                    summary.unlocked.append(node["uuid"])
                continue
            if locks.release(conductor.services.db, node["id"], holder):
                _note(conductor, node["id"], f"Cleared the lock of conductor {holder}, which "
                      f"stopped heartbeating; {conductor.hostname} now owns the node")  # fmt: skip
                summary.unlocked.append(node["uuid"])
                holder = None
        if holder is not None:
            continue
        if state in states.STUCK_STATES_TREATED_AS_FAIL and actor in dead:
            if _fail_stuck(conductor, node, None, cfg.heartbeat_timeout, actor) == "failed":
                summary.failed.append(node["uuid"])
        elif state in REBUILD_STATES and actor is not None and actor != conductor.hostname:
            rebuild.append(node["uuid"])
    gate = asyncio.Semaphore(_PARALLEL_REBUILDS)

    async def one(uuid: str) -> None:
        async with gate:
            if await _rebuild(conductor, uuid, actors):
                summary.rebuilt.append(uuid)

    await asyncio.gather(*(one(u) for u in rebuild))
    if summary.failed or summary.unlocked or summary.rebuilt:
        LOG.warning("takeover by %s: failed %d, unlocked %d, rebuilt boot files of %d nodes",
                    conductor.hostname, len(summary.failed), len(summary.unlocked),
                    len(summary.rebuilt))  # fmt: skip
    return summary


def _owned_nodes(conductor: Conductor) -> list[dict[str, Any]]:
    view = conductor.ring_cache.get()
    N = models.Node
    with conductor.services.db.read() as session:
        rows = session.execute(
            select(N.id, N.uuid, N.conductor_group, N.reservation, N.provision_state)
        ).all()
    return [r._asdict() for r in rows if view.owns(conductor.hostname, r.uuid, r.conductor_group)]


def _last_actors(conductor: Conductor, node_ids: list[int]) -> dict[int, str]:
    """The conductor named by each node's newest history entry that names one."""
    H = models.NodeHistory
    out: dict[int, str] = {}
    with conductor.services.db.read() as session:
        for start in range(0, len(node_ids), 500):
            chunk = node_ids[start : start + 500]
            newest = (
                select(func.max(H.id))
                .where(H.node_id.in_(chunk), H.conductor.is_not(None))
                .group_by(H.node_id)
            )
            rows = session.execute(select(H.node_id, H.conductor).where(H.id.in_(newest)))
            out.update({r.node_id: str(r.conductor) for r in rows})
    return out


def _note(conductor: Conductor, node_id: int, event: str, severity: str = history.WARNING) -> None:
    def write(session: Session) -> None:
        node = session.get(models.Node, node_id)
        if node is not None:
            history.record(session, node, event, severity=severity, event_type="takeover",
                           conductor=conductor.hostname)  # fmt: skip

    conductor.services.db.run_write(write)


def _steal(conductor: Conductor, node_id: int, holder: str) -> bool:
    """Move the lock from dead ``holder`` to us in one compare-and-set."""

    def cas(session: Session) -> int:
        result = session.execute(
            update(models.Node)
            .where(models.Node.id == node_id, models.Node.reservation == holder)
            .values(reservation=conductor.hostname)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    return conductor.services.db.run_write(cas) == 1


def _fail_stuck(
    conductor: Conductor,
    node: dict[str, Any],
    holder: str | None,
    timeout: float,
    actor: str | None = None,
) -> str | None:
    """Fail a node whose operation died with its conductor: "failed"; None if someone else
    got there; "unlocked" if we cannot load the node here (see :func:`_cannot_load`)."""
    try:
        if holder is not None:
            if not _steal(conductor, node["id"], holder):
                return None
            try:
                task = load_task(conductor, node["uuid"], lock=False)
            except Exception as exc:
                _cannot_load(conductor, node, holder, exc)
                return "unlocked"
            task.locked = True
        else:
            task = load_task(conductor, node["uuid"], lock=True)
    except Exception as exc:
        # Busy (NodeLocked), gone, or not loadable here: the lock is not ours, nothing to undo.
        if not isinstance(exc, IngotError):
            LOG.exception("node %s: takeover could not load it", node["uuid"])
        return None
    try:
        state = task.node.provision_state
        if state not in states.STUCK_STATES_TREATED_AS_FAIL:
            return None
        gone = holder or actor
        outcome.fail(
            task,
            f"Conductor {gone} stopped heartbeating (none for over {timeout:g}s) while the node "
            f"was {state}; conductor {conductor.hostname} took the node over and failed the "
            "interrupted operation. Run it again.",
        )
        return "failed"
    finally:
        task.release()


def _cannot_load(conductor: Conductor, node: dict[str, Any], holder: str, exc: Exception) -> None:
    """We stole the dead holder's lock but cannot build the node's task here (an interface
    this conductor does not enable, a driver library missing on this host). Keeping the lock
    would lock the node for good (we are alive, so no takeover would ever clear it): give it
    up and say why in the node's history. The note names us, so later passes leave the node
    alone until the operator fixes the configuration or moves the node."""
    LOG.warning("node %s: cannot load it on %s to fail it: %s", node["uuid"], conductor.hostname,
                exc)  # fmt: skip
    locks.release(conductor.services.db, node["id"], conductor.hostname)
    _note(conductor, node["id"], f"Cleared the lock of conductor {holder}, which stopped "
          f"heartbeating while the node was {node['provision_state']}, but conductor "
          f"{conductor.hostname} cannot load the node to fail that operation: {exc}. Enable the "
          "node's interfaces on this conductor, or set the node's conductor_group to one that "
          "has them, then abort or retry the operation.")  # fmt: skip


async def _rebuild(conductor: Conductor, uuid: str, actors: dict[int, str]) -> bool:
    """Re-create the boot files this conductor must serve for a node it took over."""
    try:
        task = load_task(conductor, uuid, lock=True)
    except Exception as exc:  # busy: the next full sweep tries again
        if not isinstance(exc, IngotError):  # not loadable here: say so, keep the others going
            LOG.exception("node %s: takeover could not load it", uuid)
        return False
    try:
        state = task.node.provision_state
        previous = actors.get(task.node.id, "another conductor")
        done = "boot files rebuilt"
        if state == states.ACTIVE:
            await task.deploy.take_over(task)
            if _netboots(task):
                await task.boot.prepare_instance(task)
            else:
                done = "it boots from its disk, no boot files needed"
        elif state in _PURPOSE:
            await task.boot.prepare_ramdisk(task, _ramdisk_params(task, _PURPOSE[state]))
        else:
            return False
        task.save(f"Conductor {conductor.hostname} took the node over from {previous} in "
                  f"state '{state}'; {done}", event_type="takeover")  # fmt: skip
        return True
    except Exception as exc:
        # The node keeps its state: its wait times out as usual if it cannot boot from us.
        LOG.exception("node %s: takeover failed", uuid)
        task.dirty.clear()
        task.save(f"Takeover by {conductor.hostname} could not rebuild the boot files: {exc}",
                  severity=history.ERROR, event_type="takeover")  # fmt: skip
        return False
    finally:
        task.release()


def _netboots(task: Task) -> bool:
    """An active node that boots its instance from our boot server, not from its disk."""
    info = task.node.instance_info
    caps = info.get("capabilities") or {}
    option = caps.get("boot_option") if isinstance(caps, dict) else None
    return (
        info.get("image_type") == "partition"
        or option == "netboot"
        or task.node.deploy_interface == "ramdisk"
    )


def _ramdisk_params(task: Task, purpose: str) -> dict[str, Any]:
    params: dict[str, Any] = {"purpose": purpose}
    if purpose == "inspect":
        api = task.conductor.services.settings.agent_api_url.rstrip("/")
        params["ipa-inspection-callback-url"] = f"{api}/v1/continue_inspection"
    return params
