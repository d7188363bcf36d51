"""Which nodes can serve a request, and for every other node the reasons why not.

Pure functions over plain facts, so the allocation API, ``ingot explain`` and deployment
plans give the same answer, and the answer can be tested without a database. The criteria
are Ironic's allocation filters (available, not in maintenance, not associated, power state
known, resource class, traits, owner, candidate list) plus Nova's capabilities filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingot import states
from ingot.scheduling.capabilities import mismatches, parse_node_capabilities

# Above this many excluded nodes a message groups nodes by reason instead of listing each.
SUMMARY_THRESHOLD = 10
_NAMES_PER_REASON = 5


@dataclass(frozen=True)
class Request:
    """What an allocation asks for; empty fields do not constrain."""

    resource_class: str | None = None
    traits: tuple[str, ...] = ()
    capabilities: Mapping[str, str] = field(default_factory=dict)
    candidate_nodes: tuple[str, ...] = ()  # node UUIDs; empty means every node
    owner: str | None = None

    def describe(self) -> str:
        """``resource class 'gold', traits CUSTOM_GPU, capabilities profile=compute``."""
        parts = [f"resource class {self.resource_class!r}"] if self.resource_class else []
        if self.traits:
            parts.append("traits " + ", ".join(self.traits))
        if self.capabilities:
            caps = ", ".join(f"{k}={v}" for k, v in self.capabilities.items())
            parts.append("capabilities " + caps)
        if self.owner:
            parts.append(f"owner {self.owner}")
        if self.candidate_nodes:
            parts.append(f"{len(self.candidate_nodes)} candidate node(s)")
        return ", ".join(parts) or "any node"


@dataclass(frozen=True)
class NodeFacts:
    """The node fields matching looks at (a detached copy, safe outside a session)."""

    id: int
    uuid: str
    name: str | None
    provision_state: str
    maintenance: bool
    maintenance_reason: str | None
    instance_uuid: str | None
    resource_class: str | None
    traits: frozenset[str]
    capabilities: Mapping[str, str]
    owner: str | None
    lessee: str | None
    fault: str | None
    power_state: str | None
    retired: bool = False
    reservation: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.uuid

    @classmethod
    def of(cls, node: Any, traits: Iterable[str]) -> NodeFacts:
        """Facts from a ``models.Node`` (or anything with the same attributes)."""
        props = node.properties or {}
        return cls(
            id=node.id,
            uuid=node.uuid,
            name=node.name,
            provision_state=node.provision_state,
            maintenance=bool(node.maintenance),
            maintenance_reason=node.maintenance_reason,
            instance_uuid=node.instance_uuid,
            resource_class=node.resource_class,
            traits=frozenset(traits),
            capabilities=parse_node_capabilities(props.get("capabilities")),
            owner=node.owner,
            lessee=node.lessee,
            fault=node.fault,
            power_state=node.power_state,
            retired=bool(node.retired),
            reservation=node.reservation,
        )


@dataclass(frozen=True)
class Verdict:
    """One node's result: eligible when ``reasons`` is empty."""

    node: NodeFacts
    reasons: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons


def exclusions(request: Request, node: NodeFacts) -> list[str]:
    """Every reason ``node`` can not serve ``request``, most fundamental first."""
    out: list[str] = []
    if node.fault:
        out.append(f"power sync failed (fault: {node.fault})")
    if node.maintenance:
        out.append(
            "in maintenance" + (f" ({node.maintenance_reason})" if node.maintenance_reason else "")
        )
    if node.provision_state != states.AVAILABLE:
        out.append(f"not available (state {node.provision_state})")
    if node.retired:
        out.append("retired")
    if node.instance_uuid:
        out.append(f"already allocated (instance {node.instance_uuid})")
    if node.power_state is None and not node.fault:
        out.append("power state unknown (never synced with the BMC)")
    if request.resource_class is not None and node.resource_class != request.resource_class:
        out.append(f"wrong resource class ({node.resource_class} != {request.resource_class})")
    missing = [t for t in request.traits if t not in node.traits]
    if missing:
        out.append(f"missing trait{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for phrase in mismatches(node.capabilities, request.capabilities):
        out.append(f"capability mismatch: {phrase}")
    if request.owner and request.owner not in (node.owner, node.lessee):
        out.append(f"owned by another project ({node.owner or 'no owner'})")
    return out


def evaluate(request: Request, nodes: Iterable[NodeFacts]) -> list[Verdict]:
    """A verdict per node considered (only the candidates when the request names some)."""
    wanted = set(request.candidate_nodes)
    return [
        Verdict(node, tuple(exclusions(request, node)))
        for node in nodes
        if not wanted or node.uuid in wanted
    ]


def explain(
    request: Request, verdicts: Sequence[Verdict], threshold: int = SUMMARY_THRESHOLD
) -> str:
    """Why no node matched: each node and its reasons, or nodes counted by reason if many."""
    excluded = [v for v in verdicts if not v.eligible]
    head = f"No available node matches {request.describe()}"
    if not verdicts:
        where = "among the candidate nodes" if request.candidate_nodes else "(no nodes enrolled)"
        return f"{head} {where}."
    if len(excluded) <= threshold:
        detail = "; ".join(f"{v.node.label}: {', '.join(v.reasons)}" for v in excluded)
        return f"{head}. {len(excluded)} node(s) excluded: {detail}."
    return f"{head}. {len(excluded)} nodes excluded: {summarize(excluded)}."


def summarize(verdicts: Sequence[Verdict]) -> str:
    """``12 nodes: wrong resource class (baremetal != gold) [n1, n2, ...]; 3 nodes: ...``."""
    by_reason: dict[str, list[str]] = {}
    for verdict in verdicts:
        for reason in verdict.reasons:
            by_reason.setdefault(reason, []).append(verdict.node.label)
    ordered = sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    parts = []
    for reason, labels in ordered:
        shown = ", ".join(labels[:_NAMES_PER_REASON])
        more = f" and {len(labels) - _NAMES_PER_REASON} more" if len(labels) > 5 else ""
        count = f"{len(labels)} node{'s' if len(labels) > 1 else ''}"
        parts.append(f"{count}: {reason} [{shown}{more}]")
    return "; ".join(parts)
