"""From observed allocations and nodes to per-role actions, and nodes assigned to roles."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.plans.capacity import assign, candidate_lists
from ingot.plans.model import Plan, parse_plan
from ingot.plans.reconcile import reconcile
from ingot.plans.state import Status, classify


def make_plan(**counts: int) -> Plan:
    roles = {name: {"count": count} for name, count in counts.items()}
    data = {
        "name": "p",
        "defaults": {"resource_class": "bm", "image": {"source": "file:///img"}},
        "roles": roles,
    }
    return parse_plan(data, default_name="p")


def node(
    uuid: str, state: str = "active", target: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "uuid": uuid, "name": uuid, "provision_state": state, "target_provision_state": target,
        "maintenance": extra.pop("maintenance", False), "last_error": extra.pop("error", None),
        "extra": extra, "allocation_uuid": None,
    }  # fmt: skip


def alloc(name: str, node_uuid: str | None, state: str = "active") -> dict[str, Any]:
    return {"uuid": f"a-{name}", "name": name, "node_uuid": node_uuid, "state": state,
            "last_error": "nothing matched" if state == "error" else None}  # fmt: skip


@pytest.mark.parametrize(
    ("state", "target", "maintenance", "status"),
    [
        ("active", None, False, Status.ACTIVE),
        ("active", None, True, Status.ACTIVE),
        ("deploying", "active", False, Status.DEPLOYING),
        ("wait call-back", "active", False, Status.DEPLOYING),
        ("deploy failed", None, False, Status.FAILED),
        ("available", None, False, Status.ALLOCATED),
        ("available", None, True, Status.STUCK),
        ("error", None, False, Status.STUCK),
    ],
)
def test_status_of_an_allocated_node(
    state: str, target: str | None, maintenance: bool, status: Status
) -> None:
    observed = classify(
        make_plan(web=1),
        [alloc("p-web-0", "n1")],
        [node("n1", state, target, maintenance=maintenance)],
    )
    assert [i.status for i in observed.of("web")] == [status]


def test_allocations_of_other_plans_and_stale_tags_are_ignored() -> None:
    plan = make_plan(web=2)
    observed = classify(
        plan,
        [alloc("q-web-0", "n1"), alloc("p-web-x", "n2"), alloc("p-webby-0", "n3")],
        [
            node("n1"), node("n2"), node("n3"),
            node("n4", "available", ingot_plan="p", ingot_role="web", ingot_index=1),
            node("n5", "active", ingot_plan="p", ingot_role="web", ingot_index=1),
        ],
    )  # fmt: skip
    # n4 was undeployed outside the plan: no longer an instance; n5 is tracked by its tags.
    assert [(i.index, i.node_label, i.allocation) for i in observed.of("web")] == [(1, "n5", None)]


def test_a_plan_that_holds_does_nothing() -> None:
    plan = make_plan(web=2, db=1)
    allocations = [alloc("p-web-0", "n1"), alloc("p-web-1", "n2"), alloc("p-db-0", "n3")]
    actions = reconcile(plan, classify(plan, allocations, [node("n1"), node("n2"), node("n3")]))
    assert all(a.holds for a in actions)


def test_missing_failed_and_errored_instances() -> None:
    plan = make_plan(web=4)
    allocations = [
        alloc("p-web-0", "n1"),
        alloc("p-web-1", None, state="error"),
        alloc("p-web-2", "n3"),
        alloc("p-web-5", "n6"),
    ]
    nodes = [
        node("n1"),
        node("n3", "deploy failed", error="boom"),
        node("n6", "deploying", "active"),
    ]
    (web,) = reconcile(plan, classify(plan, allocations, nodes))
    assert [i.index for i in web.keep] == [0]
    assert [i.index for i in web.waiting] == [5]
    assert [i.index for i in web.redeploy] == [2]
    assert web.redeploy[0].problem == "deploy failed: boom"
    assert [i.index for i in web.replace] == [1]
    assert web.new == [1]  # the errored allocation's index is reused once it is deleted
    assert not web.holds


def test_surplus_keeps_working_instances_first() -> None:
    plan = make_plan(web=1)
    allocations = [alloc("p-web-0", "n1"), alloc("p-web-1", "n2"), alloc("p-web-2", "n3")]
    nodes = [node("n1", "deploy failed"), node("n2"), node("n3", "available")]
    (web,) = reconcile(plan, classify(plan, allocations, nodes))
    assert [i.index for i in web.keep] == [1]
    assert [i.index for i in web.surplus] == [0, 2]
    assert web.new == [] and web.redeploy == []


@pytest.mark.parametrize(
    ("needs", "eligible", "expected"),
    [
        # disjoint roles: each gets its own
        ({"a": 1, "b": 1}, {"a": ["n1"], "b": ["n2"]}, {"a": 1, "b": 1}),
        # "any" would grab the only compute node greedily; the matching moves it away
        ({"any": 1, "cmp": 1}, {"any": ["n1", "n2"], "cmp": ["n1"]}, {"any": 1, "cmp": 1}),
        ({"any": 2, "cmp": 1}, {"any": ["n1", "n2"], "cmp": ["n1"]}, {"any": 1, "cmp": 1}),
        ({"a": 3}, {"a": ["n1", "n2"]}, {"a": 2}),
        # equally constrained roles: later ones push earlier ones along augmenting paths
        (
            {"a": 1, "b": 1, "c": 1},
            {"a": ["n1", "n2"], "b": ["n1", "n3"], "c": ["n1", "n2"]},
            {"a": 1, "b": 1, "c": 1},
        ),
        ({"a": 1}, {"a": []}, {"a": 0}),
    ],
)
def test_assign_finds_a_maximum_matching(
    needs: dict[str, int], eligible: dict[str, list[str]], expected: dict[str, int]
) -> None:
    result = assign(needs, eligible)
    assert {role: len(nodes) for role, nodes in result.items()} == expected
    every = [n for nodes in result.values() for n in nodes]
    assert len(every) == len(set(every))
    assert all(n in eligible[role] for role, nodes in result.items() for n in nodes)


def test_candidate_lists_only_for_overlapping_roles() -> None:
    eligible = {"any": ["n1", "n2", "n3"], "cmp": ["n1"], "db": ["n9"]}
    assignment = assign({"any": 1, "cmp": 1, "db": 1}, eligible)
    lists = candidate_lists(eligible, assignment)
    assert lists == {"any": ["n2", "n3"]}
