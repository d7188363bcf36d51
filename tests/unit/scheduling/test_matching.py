"""Why a node is excluded: one row per criterion, and the messages operators read."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ingot.scheduling.matching import NodeFacts, Request, evaluate, explain, summarize


def facts(name: str = "n1", **kw: Any) -> NodeFacts:
    base = NodeFacts(
        id=1, uuid=f"uuid-{name}", name=name, provision_state="available", maintenance=False,
        maintenance_reason=None, instance_uuid=None, resource_class="baremetal",
        traits=frozenset({"CUSTOM_GPU"}), capabilities={"profile": "compute"}, owner=None,
        lessee=None, fault=None, power_state="power off",
    )  # fmt: skip
    return replace(base, **kw)


REQ = Request(
    resource_class="baremetal", traits=("CUSTOM_GPU",), capabilities={"profile": "compute"}
)


@pytest.mark.parametrize(
    ("change", "request_", "reason"),
    [
        ({"resource_class": "gold"}, REQ, "wrong resource class (gold != baremetal)"),
        ({"traits": frozenset()}, REQ, "missing trait CUSTOM_GPU"),
        ({"capabilities": {"profile": "control"}}, REQ,
         "capability mismatch: profile=control (wanted compute)"),
        ({"capabilities": {}}, REQ, "capability mismatch: profile missing (wanted compute)"),
        ({"maintenance": True, "maintenance_reason": "fan"}, REQ, "in maintenance (fan)"),
        ({"provision_state": "manageable"}, REQ, "not available (state manageable)"),
        ({"instance_uuid": "i-1"}, REQ, "already allocated (instance i-1)"),
        ({"owner": "other"}, replace(REQ, owner="mine"), "owned by another project (other)"),
        ({"fault": "power failure"}, REQ, "power sync failed (fault: power failure)"),
        ({"power_state": None}, REQ, "power state unknown (never synced with the BMC)"),
        ({"retired": True}, REQ, "retired"),
    ],
)  # fmt: skip
def test_each_criterion_gives_its_reason(
    change: dict[str, Any], request_: Request, reason: str
) -> None:
    (verdict,) = evaluate(request_, [facts(**change)])
    assert not verdict.eligible
    assert reason in verdict.reasons


def test_matching_node_is_eligible_and_lessee_counts_as_owner() -> None:
    (verdict,) = evaluate(replace(REQ, owner="p1"), [facts(lessee="p1")])
    assert verdict.eligible


def test_two_traits_missing_are_named_together() -> None:
    (verdict,) = evaluate(replace(REQ, traits=("CUSTOM_A", "CUSTOM_B")), [facts()])
    assert verdict.reasons == ("missing traits CUSTOM_A, CUSTOM_B",)


def test_candidate_nodes_restrict_what_is_considered() -> None:
    nodes = [facts("a"), facts("b", resource_class="gold")]
    verdicts = evaluate(replace(REQ, candidate_nodes=("uuid-b",)), nodes)
    assert [v.node.name for v in verdicts] == ["b"]


def test_explain_names_each_excluded_node_and_criterion() -> None:
    nodes = [facts("a", resource_class="gold"), facts("b", maintenance=True)]
    text = explain(REQ, evaluate(REQ, nodes))
    assert text.startswith(
        "No available node matches resource class 'baremetal', traits CUSTOM_GPU"
    )
    assert "a: wrong resource class (gold != baremetal)" in text
    assert "b: in maintenance" in text


def test_explain_summarises_large_fleets_by_reason() -> None:
    nodes = [facts(f"n{i}", resource_class="gold") for i in range(12)]
    nodes += [facts(f"g{i}", traits=frozenset()) for i in range(3)]
    text = explain(REQ, evaluate(REQ, nodes))
    assert "15 nodes excluded" in text
    assert (
        "12 nodes: wrong resource class (gold != baremetal) [n0, n1, n2, n3, n4 and 7 more]" in text
    )
    assert "3 nodes: missing trait CUSTOM_GPU [g0, g1, g2]" in text
    assert text.index("12 nodes") < text.index("3 nodes")


def test_explain_with_no_nodes_says_so() -> None:
    assert "(no nodes enrolled)" in explain(REQ, [])


def test_summarize_singular() -> None:
    assert summarize(evaluate(REQ, [facts("x", retired=True)])) == "1 node: retired [x]"
