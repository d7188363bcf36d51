"""Inspection rule comparisons (eq/lt/gt) when a side is missing or not a number.

A rule "memory > 3072 MiB: profile compute" must not tag a node whose inventory has no
memory: the unresolved ``{inventory[memory][physical_mb]}`` text (or None, "N/A") used to be
compared with 3072 as a string, and "{..." > "3072", so such nodes became "large".
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ingot.conductor.rules import SETTABLE, run_rules

MEMORY = "{inventory[memory][physical_mb]}"


def bare_node() -> Any:
    fields: dict[str, Any] = {f: None for f in SETTABLE}
    fields.update(properties={}, extra={}, driver_info={}, instance_info={}, network_data={})
    return SimpleNamespace(uuid="u1", **fields)


def hits(op: str, inventory: dict[str, Any], limit: Any = 3072) -> bool:
    rule = {
        "uuid": "r",
        "conditions": [{"op": op, "args": {"values": [MEMORY, limit]}}],
        "actions": [{"op": "add-trait", "args": {"name": "CUSTOM_HIT"}}],
    }
    run, _applied = run_rules([rule], bare_node(), [], inventory, {})
    return run.traits == ["CUSTOM_HIT"]


@pytest.mark.parametrize(
    ("memory", "gt", "lt", "eq"),
    [
        (4096, True, False, False),
        (2048, False, True, False),
        (3072, False, False, True),
        ("4096", True, False, False),  # a number in a string still compares as a number
        ("N/A", False, False, False),
        (None, False, False, False),
    ],
)
def test_comparisons_with_a_value(memory: Any, gt: bool, lt: bool, eq: bool) -> None:
    inventory = {"memory": {"physical_mb": memory}}
    assert (hits("gt", inventory), hits("lt", inventory), hits("eq", inventory)) == (gt, lt, eq)


@pytest.mark.parametrize("inventory", [{}, {"memory": {}}], ids=["no memory", "no physical_mb"])
@pytest.mark.parametrize("op", ["gt", "lt", "eq"])
def test_a_missing_field_matches_no_comparison(op: str, inventory: dict[str, Any]) -> None:
    assert not hits(op, inventory)
    assert hits(f"!{op}", inventory)  # the inverse holds, as "not (memory > 3072)" does


def test_strings_still_compare_as_strings() -> None:
    inventory = {"memory": {"physical_mb": "abc"}}
    assert hits("gt", inventory, limit="abb") and not hits("lt", inventory, limit="abb")
