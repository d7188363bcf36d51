"""Deployment plans: roles of nodes deployed, kept and re-checked by ``ingot deploy PLAN``.

:mod:`model` parses and validates a plan, :mod:`state` reads what the fleet holds,
:mod:`reconcile` decides per role, :mod:`capacity` checks there are enough nodes (and why
not), :mod:`apply` carries the actions out through the API client.
"""

from ingot.plans.apply import AllocationFailed, Outcome, apply_role, scale_down
from ingot.plans.capacity import Capacity, Shortfall, assign, check_capacity
from ingot.plans.model import Plan, PlanInvalid, Role, load_plan, parse_plan
from ingot.plans.reconcile import RoleActions, reconcile
from ingot.plans.state import Instance, Observed, Status, classify, observe

__all__ = [
    "AllocationFailed",
    "Capacity",
    "Instance",
    "Observed",
    "Outcome",
    "Plan",
    "PlanInvalid",
    "Role",
    "RoleActions",
    "Shortfall",
    "Status",
    "apply_role",
    "assign",
    "check_capacity",
    "classify",
    "load_plan",
    "observe",
    "parse_plan",
    "reconcile",
    "scale_down",
]
