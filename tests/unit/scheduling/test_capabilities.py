"""Nova's capability matching rules, case by case."""

from __future__ import annotations

import pytest

from ingot.errors import InvalidInput
from ingot.scheduling.capabilities import (
    format_node_capabilities,
    matches,
    mismatches,
    parse_node_capabilities,
    parse_requested,
)


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        ("compute", "compute", True),
        ("control", "compute", False),
        (None, "compute", False),
        ("uefi", "s== uefi", True),
        ("bios", "s!= uefi", True),
        ("8", ">= 4", True),
        ("2", ">= 4", False),
        ("4", "= 4", True),  # Nova: "=" means at least
        ("abc", ">= 4", False),  # numeric operator on text never matches
        ("local", "<or> local <or> netboot", True),
        ("other", "<or> local <or> netboot", False),
        ("avx,avx2,sse", "<in> avx2", True),
        ("avx sse", "<all-in> avx sse", True),
        ("avx", "<all-in> avx sse", False),
        (None, "<in> x", False),
    ],
)
def test_matches_like_nova(have: str | None, want: str, expected: bool) -> None:
    assert matches(have, want) is expected


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("profile:compute,boot_option:local", {"profile": "compute", "boot_option": "local"}),
        ("profile:compute, boot_mode:uefi,bad", {"profile": "compute", "boot_mode": "uefi"}),
        ({"profile": "control"}, {"profile": "control"}),
        (None, {}),
        ("", {}),
    ],
)
def test_parse_node_capabilities(raw: object, parsed: dict[str, str]) -> None:
    assert parse_node_capabilities(raw) == parsed


def test_format_round_trips() -> None:
    caps = {"profile": "compute", "boot_mode": "uefi"}
    assert parse_node_capabilities(format_node_capabilities(caps)) == caps


def test_parse_requested_accepts_colon_or_equals_and_rejects_bare_words() -> None:
    assert parse_requested(["profile:compute", "boot_mode=uefi"]) == {
        "profile": "compute",
        "boot_mode": "uefi",
    }
    with pytest.raises(InvalidInput, match="KEY:VALUE"):
        parse_requested(["compute"])


def test_mismatches_name_the_capability_and_both_values() -> None:
    have = {"profile": "control"}
    assert mismatches(have, {"profile": "compute", "boot_mode": "uefi"}) == [
        "profile=control (wanted compute)",
        "boot_mode missing (wanted uefi)",
    ]
