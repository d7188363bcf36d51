"""Allocations against the database: pick and claim a node, backfill, free.

Claiming is one compare-and-set, ``UPDATE nodes SET instance_uuid = :allocation WHERE id = :node
AND instance_uuid IS NULL AND reservation IS NULL AND provision_state = 'available' AND NOT
maintenance``: two allocations racing for the last node both see it as eligible, but only one
UPDATE changes a row; the other moves on to the next node (or fails with the reasons). Nodes
held by a conductor's lock are skipped and retried a few times, as Ironic does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ingot import states
from ingot.db import models
from ingot.db.engine import Database
from ingot.db.queries import get_node, node_traits
from ingot.errors import Conflict, InvalidInput, InvalidState, NodeLocked, NotFound
from ingot.scheduling.matching import NodeFacts, Request, Verdict, evaluate, explain

ALLOCATING = "allocating"
ACTIVE = "active"
ERROR = "error"
# The reasons that matter when backfilling: the node is deployed, so state checks do not.
_FIT_REASONS = ("wrong resource class", "missing trait", "capability", "owned")


def load_facts(session: Session, node_ids: Collection[int] | None = None) -> list[NodeFacts]:
    """Facts for every node (or the given ones), traits included, in one pass."""
    stmt = select(models.Node).order_by(models.Node.id)
    if node_ids is not None:
        stmt = stmt.where(models.Node.id.in_(list(node_ids)))
    nodes = list(session.scalars(stmt))
    traits = node_traits(session, [n.id for n in nodes])
    return [NodeFacts.of(n, traits.get(n.id, [])) for n in nodes]


def resolve_candidates(session: Session, idents: list[str]) -> list[str]:
    """Candidate node names or UUIDs as UUIDs, in the given order; 400 naming unknown ones."""
    out: list[str] = []
    unknown: list[str] = []
    for ident in idents:
        try:
            out.append(get_node(session, ident).uuid)
        except NotFound:
            unknown.append(ident)
    if unknown:
        raise InvalidInput(f"Candidate node(s) not found: {', '.join(unknown)}.")
    return out


def request_of(allocation: models.Allocation) -> Request:
    return Request(
        resource_class=allocation.resource_class,
        traits=tuple(allocation.traits or ()),
        capabilities=dict(allocation.capabilities or {}),
        candidate_nodes=tuple(allocation.candidate_nodes or ()),
        owner=allocation.owner,
    )


def explain_request(db: Database, request: Request) -> tuple[list[Verdict], str | None]:
    """Verdicts for every considered node, and the failure message when none is eligible."""
    with db.read() as session:
        verdicts = evaluate(request, load_facts(session))
    if any(v.eligible for v in verdicts):
        return verdicts, None
    return verdicts, explain(request, verdicts)


@dataclass
class _Attempt:
    done: bool
    busy: list[str]


def allocate(db: Database, allocation_id: int, *, attempts: int = 3, wait: float = 0.5) -> None:
    """Find and claim a node for an ``allocating`` allocation; it ends ``active`` or ``error``.

    Never raises for "no node": the reasons go to the allocation's ``last_error``.
    """
    busy: list[str] = []
    for attempt in range(attempts):
        result = db.run_write(lambda s: _try_allocate(s, allocation_id))
        if result.done:
            return
        busy = result.busy
        if attempt < attempts - 1:
            time.sleep(wait)
    db.run_write(lambda s: _fail(s, allocation_id, busy))


def _try_allocate(session: Session, allocation_id: int) -> _Attempt:
    allocation = session.get(models.Allocation, allocation_id)
    if allocation is None or allocation.state != ALLOCATING:
        return _Attempt(True, [])  # deleted meanwhile, or already processed
    request = request_of(allocation)
    verdicts = evaluate(request, load_facts(session))
    eligible = [v.node for v in verdicts if v.eligible]
    if not eligible:
        allocation.state, allocation.last_error = ERROR, explain(request, verdicts)
        return _Attempt(True, [])
    # Parallel allocations should not all try the nodes in the same order; a node named like
    # the allocation goes first, as in Ironic, so names line up when they can.
    random.shuffle(eligible)
    eligible.sort(key=lambda n: n.name != allocation.name or allocation.name is None)
    busy = []
    for node in eligible:
        if node.reservation is not None:
            busy.append(f"{node.label} (locked by {node.reservation})")
            continue
        if claim(session, allocation, node.id):
            return _Attempt(True, [])
        busy.append(f"{node.label} (taken by another allocation)")
    return _Attempt(False, busy)


def _fail(session: Session, allocation_id: int, busy: list[str]) -> None:
    allocation = session.get(models.Allocation, allocation_id)
    if allocation is None or allocation.state != ALLOCATING:
        return
    allocation.state = ERROR
    allocation.last_error = (
        f"Could not reserve any of {len(busy)} suitable node(s), all busy: {', '.join(busy)}. "
        "Retry the allocation when their current operations finish."
    )


def claim(session: Session, allocation: models.Allocation, node_id: int) -> bool:
    """Atomically give node ``node_id`` to ``allocation``; False if someone else got it first."""
    N = models.Node
    result = session.execute(
        update(N)
        .where(
            N.id == node_id,
            N.instance_uuid.is_(None),
            N.reservation.is_(None),
            N.provision_state == states.AVAILABLE,
            N.maintenance.is_(False),
        )
        .values(instance_uuid=allocation.uuid, allocation_id=allocation.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    # An allocation left behind by an undeploy that did not remove it is stale now.
    session.execute(
        delete(models.Allocation).where(
            models.Allocation.node_id == node_id, models.Allocation.id != allocation.id
        )
    )
    allocation.node_id, allocation.state, allocation.last_error = node_id, ACTIVE, None
    return True


def backfill(session: Session, allocation: models.Allocation, node: models.Node) -> None:
    """Record an allocation for a node that was deployed without one (Ironic API 1.58).

    Raises InvalidState/InvalidInput when the node does not fit, Conflict when it already
    has an allocation or another instance.
    """
    problems = []
    if node.provision_state != states.ACTIVE:
        problems.append(f'the node must be "active", but it is "{node.provision_state}"')
    traits = node_traits(session, [node.id])[node.id]
    request = request_of(allocation)
    reasons = evaluate(request, [NodeFacts.of(node, traits)])[0].reasons
    fit = [r for r in reasons if r.startswith(_FIT_REASONS)]
    problems.extend(fit)
    if allocation.candidate_nodes and node.uuid not in allocation.candidate_nodes:
        problems.append("candidate_nodes must be empty or contain the node")
    if problems:
        raise InvalidInput(
            f"Cannot backfill an allocation for node {node.name or node.uuid}: "
            + "; ".join(problems)
            + "."
        )
    current = None
    if node.allocation_id is not None:
        current = session.get(models.Allocation, node.allocation_id)
    if current is not None:
        raise Conflict(f"Node {node.uuid} already has an allocation; delete it first.")
    if node.instance_uuid is not None and node.instance_uuid != allocation.uuid:
        raise Conflict(
            f"Node {node.uuid} is associated with instance {node.instance_uuid}; omit 'uuid' "
            "to backfill with that UUID, or remove the node's instance_uuid first."
        )
    if node.reservation is not None:
        raise NodeLocked(node.uuid, node.reservation)
    node.instance_uuid, node.allocation_id = allocation.uuid, allocation.id
    allocation.node_id, allocation.state, allocation.last_error = node.id, ACTIVE, None


def deallocate(session: Session, allocation: models.Allocation) -> None:
    """Delete an allocation and free its node, refusing while the node is deployed.

    As Ironic: allowed in maintenance always; otherwise not while ``active`` or in the
    middle of a transition. Raises InvalidState or NodeLocked.
    """
    node = session.get(models.Node, allocation.node_id) if allocation.node_id else None
    if node is not None:
        what = f"Cannot remove allocation {allocation.uuid} for node {node.uuid}"
        if not node.maintenance:
            if node.provision_state == states.ACTIVE:
                raise InvalidState(
                    f"{what}, because the node is active. Undeploy it first, or set "
                    "maintenance mode."
                )
            if (
                node.target_provision_state
                and node.provision_state not in states.UPDATE_ALLOWED_STATES
            ):
                raise InvalidState(
                    f"{what}, because the node is in state {node.provision_state} where "
                    "updates are not allowed (and maintenance mode is off)."
                )
        if node.reservation is not None:
            raise NodeLocked(node.uuid, node.reservation)
        if node.allocation_id == allocation.id:
            node.allocation_id = None
            if node.instance_uuid == allocation.uuid:
                node.instance_uuid = None
    session.delete(allocation)
