"""Preflight: are there enough matching nodes for every role at once, and if not, why.

Each role asks the server's explain endpoint (the allocation API's own matching) which nodes
qualify and why the others do not. Roles may compete for the same nodes ("any baremetal"
beside "profile compute"), so counting per role is not enough: the nodes are assigned to
roles by a bipartite matching, and a role whose candidates overlap another's gets
``candidate_nodes`` on its allocations, so the scheduler cannot hand the other role's nodes
to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingot.client import JSON, IngotClient
from ingot.plans.model import Role
from ingot.plans.reconcile import RoleActions


@dataclass(frozen=True)
class Shortfall:
    """A role that cannot get enough nodes; ``explained`` is the explain endpoint's answer."""

    role: str
    needed: int
    eligible: int
    assigned: int
    explained: JSON

    def summary(self) -> str:
        shared = self.eligible - self.assigned
        extra = f" ({shared} of them needed by other roles)" if shared > 0 else ""
        return (
            f"role '{self.role}' needs {self.needed} more node(s) but only "
            f"{self.assigned} can be given to it; {self.eligible} match{extra}"
        )


@dataclass(frozen=True)
class Capacity:
    """The outcome of the preflight: shortfalls, and candidate lists for allocations."""

    shortfalls: list[Shortfall] = field(default_factory=list)
    candidates: dict[str, list[str]] = field(default_factory=dict)  # role -> node UUIDs
    explained: dict[str, JSON] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.shortfalls


def explain_role(client: IngotClient, role: Role) -> JSON:
    """The server's verdict on every node for this role's criteria (nothing is allocated)."""
    params: dict[str, Any] = {
        "resource_class": role.resource_class,
        "traits": ",".join(role.traits) or None,
        "capabilities": ",".join(f"{k}:{v}" for k, v in role.capabilities.items()) or None,
        "candidate_nodes": ",".join(role.candidates) or None,
    }
    result: JSON = client.get("/v1/ingot/explain", **params)
    return result


def check_capacity(client: IngotClient, actions: Sequence[RoleActions]) -> Capacity:
    """Explain every role that needs new nodes and assign nodes to roles."""
    needs = {a.name: len(a.new) for a in actions if a.new}
    if not needs:
        return Capacity()
    roles = {a.name: a.role for a in actions}
    explained = {name: explain_role(client, roles[name]) for name in needs}
    eligible = {name: list(result["eligible"]) for name, result in explained.items()}
    assignment = assign(needs, eligible)
    shortfalls = [
        Shortfall(name, needs[name], len(eligible[name]), len(assignment[name]), explained[name])
        for name in needs
        if len(assignment[name]) < needs[name]
    ]
    return Capacity(shortfalls, candidate_lists(eligible, assignment), explained)


def assign(needs: Mapping[str, int], eligible: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """A maximum assignment of nodes to role slots (each node to at most one role).

    Kuhn's augmenting paths over slots, the most constrained role first; nodes keep the
    order the server listed them in, so the result is stable from run to run.
    """
    owner: dict[str, str] = {}  # node -> role
    order = sorted(needs, key=lambda r: (len(eligible.get(r, ())), r))

    def place(role: str, seen: set[str]) -> bool:
        for node in eligible.get(role, ()):
            if node in seen:
                continue
            seen.add(node)
            holder = owner.get(node)
            if holder is None or place(holder, seen):
                owner[node] = role
                return True
        return False

    for role in order:
        for _ in range(needs[role]):
            if not place(role, set()):
                break
    out: dict[str, list[str]] = {role: [] for role in needs}
    for node, role in owner.items():
        out[role].append(node)
    return out


def candidate_lists(
    eligible: Mapping[str, Sequence[str]], assignment: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """For roles whose candidates overlap other roles' assigned nodes: the nodes they may take.

    Roles with no overlap get no list, so their allocations are plain Ironic requests.
    """
    out: dict[str, list[str]] = {}
    for role, nodes in eligible.items():
        others = {n for r, assigned in assignment.items() if r != role for n in assigned}
        if others.intersection(nodes):
            out[role] = [n for n in nodes if n not in others]
    return out
