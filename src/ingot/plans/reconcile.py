"""From what a plan wants and what the fleet holds, what to do for each role.

Pure: the same observation always gives the same actions, so a re-run of a plan that holds
does nothing, and a plan that failed half way picks up where it stopped. Scaling down only
happens when asked (``--allow-scale-down``); otherwise the surplus is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingot.plans.model import Plan, Role
from ingot.plans.state import Instance, Observed, Status

# Which instances a role keeps when it has more than its count: working ones first.
_KEEP_RANK = {
    Status.ACTIVE: 0,
    Status.DEPLOYING: 1,
    Status.STUCK: 2,
    Status.FAILED: 3,
    Status.ALLOCATED: 4,
}


@dataclass(frozen=True)
class RoleActions:
    """Everything a run does (or a dry run would do) for one role."""

    role: Role
    keep: list[Instance] = field(default_factory=list)  # active: left alone
    waiting: list[Instance] = field(default_factory=list)  # deploying: waited for
    redeploy: list[Instance] = field(default_factory=list)  # failed or never deployed
    replace: list[Instance] = field(default_factory=list)  # allocation in error: deleted
    new: list[int] = field(default_factory=list)  # indexes to allocate
    stuck: list[Instance] = field(default_factory=list)  # need a human
    surplus: list[Instance] = field(default_factory=list)  # beyond count

    @property
    def name(self) -> str:
        return self.role.name

    @property
    def holds(self) -> bool:
        """True when the role is exactly as the plan says and nothing is under way."""
        return (
            len(self.keep) == self.role.count
            and not (self.waiting or self.redeploy or self.replace or self.new)
            and not (self.stuck or self.surplus)
        )


def reconcile(plan: Plan, observed: Observed) -> list[RoleActions]:
    """The actions of every role, in the plan's order."""
    return [_role_actions(role, observed.of(role.name)) for role in plan.roles.values()]


def _role_actions(role: Role, instances: list[Instance]) -> RoleActions:
    replace = [i for i in instances if i.status is Status.ALLOCATION_FAILED]
    existing = [i for i in instances if i.status is not Status.ALLOCATION_FAILED]
    existing.sort(key=lambda i: (_KEEP_RANK[i.status], i.index))
    kept, surplus = existing[: role.count], existing[role.count :]
    taken = {i.index for i in existing}
    new: list[int] = []
    index = 0
    while len(kept) + len(new) < role.count:
        if index not in taken:
            new.append(index)
        index += 1
    by_status: dict[Status, list[Instance]] = {}
    for inst in sorted(kept, key=lambda i: i.index):
        by_status.setdefault(inst.status, []).append(inst)
    return RoleActions(
        role=role,
        keep=by_status.get(Status.ACTIVE, []),
        waiting=by_status.get(Status.DEPLOYING, []),
        redeploy=by_status.get(Status.FAILED, []) + by_status.get(Status.ALLOCATED, []),
        replace=replace,
        new=new,
        stuck=by_status.get(Status.STUCK, []),
        surplus=sorted(surplus, key=lambda i: i.index),
    )
